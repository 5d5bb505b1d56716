package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
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

// Body is the JSON object Kong answers with.
func (e *Error) Body() map[string]any {
	if e.Code == 0 {
		return map[string]any{"message": e.Message}
	}
	fields := e.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	body := map[string]any{"code": e.Code, "name": codeNames[e.Code], "message": e.Message, "fields": fields}
	for k, v := range e.extra {
		body[k] = v
	}
	return body
}

func notFound() *Error { return &Error{Status: http.StatusNotFound, Message: "Not found"} }

func badRequest(msg string) *Error { return &Error{Status: http.StatusBadRequest, Message: msg} }

// fieldErrors collects schema violations keyed by field; nested records hold nested maps,
// entity-level checks go under "@entity".
type fieldErrors map[string]any

func (fe fieldErrors) add(field, msg string) {
	if _, exists := fe[field]; !exists {
		fe[field] = msg
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

// schemaViolation renders collected field errors as Kong does: "schema violation (f: m)" for one,
// "N schema violations (a: x; b: y)" for several, nested fields dotted.
func schemaViolation(fe fieldErrors) *Error {
	var parts []string
	flatten("", map[string]any(fe), &parts)
	sort.Strings(parts)
	msg := "schema violation (" + strings.Join(parts, "; ") + ")"
	if len(parts) > 1 {
		msg = fmt.Sprintf("%d schema violations (%s)", len(parts), strings.Join(parts, "; "))
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeSchemaViolation, Message: msg, Fields: fe}
}

func flatten(prefix string, v any, out *[]string) {
	switch t := v.(type) {
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

// luaValue renders a value the way Kong's error messages print primary and unique keys:
// strings quoted, records as {k=v}.
func luaValue(v any) string {
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("%q", t)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+luaValue(t[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

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
