package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// Kong's error codes (kong/db/errors.lua) that the Admin API subset produces.
const (
	CodeInvalidPrimaryKey  = 1
	CodeSchemaViolation    = 2
	CodePrimaryKeyViolated = 3
	CodeForeignKey         = 4
	CodeUnique             = 5
	CodeNotFound           = 6
	CodeInvalidOffset      = 7
	CodeInvalidSize        = 9
	CodeUnsupported        = 12
	CodeUnresolved         = 13
	CodeDeclarative        = 14
	CodeReferencedByOthers = 19
)

var codeNames = map[int]string{
	CodeInvalidPrimaryKey:  "invalid primary key",
	CodeSchemaViolation:    "schema violation",
	CodePrimaryKeyViolated: "primary key violation",
	CodeForeignKey:         "foreign key violation",
	CodeUnique:             "unique constraint violation",
	CodeNotFound:           "not found",
	CodeInvalidOffset:      "invalid offset",
	CodeInvalidSize:        "invalid size",
	CodeUnsupported:        "operation unsupported",
	CodeUnresolved:         "foreign keys unresolved",
	CodeDeclarative:        "invalid declarative configuration",
	CodeReferencedByOthers: "referenced by others",
}

// Error is an Admin API error as Kong renders it: a status and either {"message"} alone or
// {code, name, message, fields}.
type Error struct {
	Status  int
	Code    int
	Message string
	Fields  map[string]any
	// extra holds further top-level keys (declarative errors' flattened_errors).
	extra map[string]any
}

func (e *Error) Error() string { return e.Message }

// Body is the JSON object Kong answers with. Errors without fields (invalid size or offset, an
// unsupported operation) have no "fields" key, as Kong's new_err_t leaves it out.
func (e *Error) Body() map[string]any {
	if e.Code == 0 {
		return map[string]any{"message": e.Message}
	}
	body := map[string]any{"code": e.Code, "name": codeNames[e.Code], "message": e.Message}
	if e.Fields != nil {
		body["fields"] = e.Fields
	}
	for k, v := range e.extra {
		body[k] = v
	}
	return body
}

func notFound() *Error { return &Error{Status: http.StatusNotFound, Message: "Not found"} }

func badRequest(msg string) *Error { return &Error{Status: http.StatusBadRequest, Message: msg} }

// fieldErrors collects schema violations keyed by field; nested records hold nested maps, arrays
// their errors by position, and entity-level checks go under "@entity" (kong/db/schema/init.lua).
type fieldErrors map[string]any

func (fe fieldErrors) add(field, msg string) {
	if _, exists := fe[field]; !exists {
		fe[field] = msg
	}
}

// set records a field's error as validateValue shaped it: a message, nested errors or a list.
func (fe fieldErrors) set(field string, err any) {
	switch t := err.(type) {
	case string:
		fe.add(field, t)
	case fieldErrors:
		fe.nest(field, t)
	case []any:
		if _, exists := fe[field]; !exists && len(t) > 0 {
			fe[field] = t
		}
	}
}

func (fe fieldErrors) entity(msg string) {
	list, _ := fe["@entity"].([]any)
	fe["@entity"] = append(list, msg)
}

func (fe fieldErrors) nest(field string, inner fieldErrors) {
	if len(inner) > 0 {
		fe[field] = map[string]any(inner)
	}
}

// schemaViolation renders collected field errors as kong/db/errors.lua's schema_violation does:
// entity-level errors first, then each field in sorted order, a nested record's or array's
// errors one level deep as "field.sub: message" (deeper ones printed as a Lua table);
// "schema violation (…)" for one, "N schema violations (…; …)" for several.
func schemaViolation(fe fieldErrors) *Error {
	parts := violationParts(fe)
	msg := "schema violation (" + strings.Join(parts, "; ") + ")"
	if len(parts) > 1 {
		msg = fmt.Sprintf("%d schema violations (%s)", len(parts), strings.Join(parts, "; "))
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeSchemaViolation, Message: msg, Fields: map[string]any(fe)}
}

// violationParts lists the message parts of schemaViolation in Kong's order.
func violationParts(fe fieldErrors) []string {
	var parts []string
	if list, ok := fe["@entity"].([]any); ok {
		for _, m := range list {
			parts = append(parts, fmt.Sprint(m))
		}
	}
	for _, name := range sortedKeys(fe) {
		if name == "@entity" {
			continue
		}
		switch t := fe[name].(type) {
		case map[string]any:
			for _, sub := range sortedKeys(t) {
				parts = append(parts, name+"."+sub+": "+plainOrLua(t[sub]))
			}
		case fieldErrors:
			for _, sub := range sortedKeys(t) {
				parts = append(parts, name+"."+sub+": "+plainOrLua(t[sub]))
			}
		case []any:
			for i, v := range t {
				if v != nil {
					parts = append(parts, fmt.Sprintf("%s.%d: %s", name, i+1, plainOrLua(v)))
				}
			}
		default:
			parts = append(parts, name+": "+fmt.Sprint(t))
		}
	}
	return parts
}

// plainOrLua prints a message as is and anything else as Lua's pretty-printer would.
func plainOrLua(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return luaValue(v)
}

func sortedKeys[M ~map[string]any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// flatten lists every leaf error of a field-error tree as "a.b: message" (entity-level ones
// bare), for the declarative loader's flattened_errors.
func flatten(prefix string, v any, out *[]string) {
	switch t := v.(type) {
	case fieldErrors:
		flatten(prefix, map[string]any(t), out)
	case map[string]any:
		for k, inner := range t {
			if k == "@entity" {
				flatten(prefix, inner, out)
				continue
			}
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flatten(name, inner, out)
		}
	case []any:
		for i, inner := range t {
			if s, ok := inner.(string); ok && prefix == "" {
				*out = append(*out, s)
				continue
			}
			if inner != nil {
				flatten(fmt.Sprintf("%s.%d", prefix, i+1), inner, out)
			}
		}
	case string:
		if prefix == "" {
			*out = append(*out, t)
		} else {
			*out = append(*out, prefix+": "+t)
		}
	}
}

// luaValue renders a value the way Kong's messages print tables (penlight's pretty.write with no
// indent): strings quoted, records as {k=v} with sorted keys, arrays as {a,b} and a holey array's
// later elements as [i]=v, null as null.
func luaValue(v any) string {
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("%q", t)
	case fieldErrors:
		return luaValue(map[string]any(t))
	case map[string]any:
		parts := make([]string, 0, len(t))
		for _, k := range sortedKeys(t) {
			key := k
			if !luaIdent.MatchString(k) {
				key = fmt.Sprintf("[%q]", k)
			}
			parts = append(parts, key+"="+luaValue(t[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		parts := make([]string, 0, len(t))
		dense := true
		for i, e := range t {
			switch {
			case e == nil:
				dense = false
			case dense:
				parts = append(parts, luaValue(e))
			default:
				parts = append(parts, fmt.Sprintf("[%d]=%s", i+1, luaValue(e)))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

var luaIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func uniqueViolation(key map[string]any) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeUnique,
		Message: fmt.Sprintf("UNIQUE violation detected on '%s'", luaValue(key)), Fields: key}
}

func primaryKeyViolation(id string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodePrimaryKeyViolated,
		Message: fmt.Sprintf("primary key violation on key '{id=%q}'", id), Fields: map[string]any{"id": id}}
}

func foreignKeyViolation(field, entity string, key map[string]any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeForeignKey,
		Message: fmt.Sprintf("the foreign key '%s' does not reference an existing '%s' entity.", luaValue(key), entity),
		Fields:  map[string]any{field: key}}
}

func referencedByOthers(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeReferencedByOthers, Message: msg}
}

// unresolved is Kong's foreign_keys_unresolved: a foreign key given by its endpoint key (a
// route's service.name) that names no entity.
func unresolved(field, key, value, entity string) *Error {
	msg := fmt.Sprintf("the foreign key cannot be resolved with '{%s=%q}' for an existing '%s' entity", key, value, entity)
	return &Error{Status: http.StatusBadRequest, Code: CodeUnresolved,
		Message: fmt.Sprintf("foreign key unresolved (%s.%s: %s)", field, key, msg),
		Fields:  map[string]any{field: map[string]any{key: msg}}}
}
