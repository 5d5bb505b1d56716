package admin

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Entity is one stored row: JSON-shaped values (string, int64, float64, bool, []any,
// map[string]any, nil) under Kong's field names. Committed entities are never mutated.
type Entity = map[string]any

type kind int

const (
	kString kind = iota
	kInteger
	kNumber
	kBoolean
	kArray
	kSet
	kMap
	kRecord
	kForeign
)

var kindNames = map[kind]string{
	kString: "a string", kInteger: "an integer", kNumber: "a number", kBoolean: "a boolean",
	kArray: "an array", kSet: "a set", kMap: "a map", kRecord: "a record", kForeign: "a record",
}

// field describes one attribute of an entity, after Kong's schema typedefs.
type field struct {
	name     string
	kind     kind
	elem     *field   // arrays and sets
	fields   []*field // records
	ref      string   // foreign: the referenced entity
	onDelete string   // foreign: "cascade" or "" (restrict)
	def      any      // default on insert; nil means null
	required bool
	auto     bool // generated: id, created_at, updated_at
	unique   bool
	uuid     bool
	between  *[2]float64
	oneOf    []string
	// check validates a present, well-typed value; it returns "" or Kong's message.
	check func(v any) string
	// output controls rendering: false hides the field (e.g. shorthands)
	hidden bool
}

func str(name string) *field     { return &field{name: name, kind: kString} }
func integer(name string) *field { return &field{name: name, kind: kInteger} }
func number(name string) *field  { return &field{name: name, kind: kNumber} }
func boolean(name string) *field { return &field{name: name, kind: kBoolean} }
func strArray(name string) *field {
	return &field{name: name, kind: kArray, elem: &field{kind: kString}}
}
func strSet(name string) *field { return &field{name: name, kind: kSet, elem: &field{kind: kString}} }
func record(name string, fs ...*field) *field {
	return &field{name: name, kind: kRecord, fields: fs}
}
func foreign(name, ref string) *field { return &field{name: name, kind: kForeign, ref: ref} }

func (f *field) withDefault(v any) *field           { f.def = v; return f }
func (f *field) isRequired() *field                 { f.required = true; return f }
func (f *field) isUnique() *field                   { f.unique = true; return f }
func (f *field) cascade() *field                    { f.onDelete = "cascade"; return f }
func (f *field) in(lo, hi float64) *field           { f.between = &[2]float64{lo, hi}; return f }
func (f *field) one(of ...string) *field            { f.oneOf = of; return f }
func (f *field) validate(c func(any) string) *field { f.check = c; return f }
func (f *field) elemOneOf(of ...string) *field {
	e := *f.elem
	e.oneOf = of
	f.elem = &e
	return f
}

// elemCheck validates each element, so errors name its position (snis.2: …) as Kong's do.
func (f *field) elemCheck(c func(any) string) *field {
	e := *f.elem
	e.check = c
	f.elem = &e
	return f
}
func (f *field) elemUUID() *field {
	e := *f.elem
	e.uuid = true
	f.elem = &e
	return f
}

// tags is Kong's typedefs.tags: a set of strings.
func tags() *field { return strSet("tags") }

// common fields every entity starts with.
func idField() *field   { return &field{name: "id", kind: kString, uuid: true, auto: true} }
func createdAt() *field { return &field{name: "created_at", kind: kInteger, auto: true} }
func updatedAt() *field { return &field{name: "updated_at", kind: kInteger, auto: true} }

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidPattern.MatchString(s) }

// infer converts form values (always strings) to the types the schema expects, as Kong's
// arguments.lua does: numbers and booleans parsed, a single value for an array wrapped, and an
// empty string read as null. A value that cannot be converted is left for validation to reject.
func infer(fields []*field, in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		f := find(fields, k)
		if f == nil {
			out[k] = v
			continue
		}
		out[k] = inferValue(f, v)
	}
	return out
}

func inferValue(f *field, v any) any {
	if s, ok := v.(string); ok && s == "" {
		return nil
	}
	switch f.kind {
	case kInteger, kNumber:
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseFloat(s, 64); err == nil {
				return n
			}
		}
	case kBoolean:
		if s, ok := v.(string); ok {
			switch s {
			case "true":
				return true
			case "false":
				return false
			}
		}
	case kArray, kSet:
		switch t := v.(type) {
		case string:
			return []any{inferValue(f.elem, t)}
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = inferValue(f.elem, e)
			}
			return out
		case map[string]any: // paths[1]=/a&paths[2]=/b
			return indexedArray(t, f.elem)
		}
	case kRecord:
		if m, ok := v.(map[string]any); ok {
			return infer(f.fields, m)
		}
	case kMap:
		if m, ok := v.(map[string]any); ok {
			out := map[string]any{}
			for k, e := range m {
				if s, ok := e.(string); ok {
					out[k] = []any{s}
				} else {
					out[k] = e
				}
			}
			return out
		}
	}
	return v
}

func indexedArray(m map[string]any, elem *field) any {
	idx := make([]int, 0, len(m))
	for k := range m {
		n, err := strconv.Atoi(k)
		if err != nil {
			return m
		}
		idx = append(idx, n)
	}
	slices.Sort(idx)
	out := make([]any, 0, len(idx))
	for _, i := range idx {
		out = append(out, inferValue(elem, m[strconv.Itoa(i)]))
	}
	return out
}

func find(fields []*field, name string) *field {
	for _, f := range fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

// validateRecord checks every key of in against fields and returns the normalized record (each
// schema field present, typed, null where absent) with the violations found.
func validateRecord(fields []*field, in map[string]any, applyDefaults bool) (map[string]any, fieldErrors) {
	errs := fieldErrors{}
	out := map[string]any{}
	for k := range in {
		if find(fields, k) == nil {
			errs.add(k, "unknown field")
		}
	}
	for _, f := range fields {
		v, present := in[f.name]
		if !present && applyDefaults {
			v = defaultOf(f)
		}
		if f.auto && v == nil {
			continue // filled in by the store
		}
		nv, verr := validateValue(f, v)
		if verr != nil {
			errs.set(f.name, verr)
		}
		out[f.name] = nv
	}
	return out, errs
}

func defaultOf(f *field) any {
	if f.kind == kRecord && f.def == nil {
		rec := map[string]any{}
		for _, sub := range f.fields {
			rec[sub.name] = defaultOf(sub)
		}
		return rec
	}
	return deepCopy(f.def)
}

// maxElements bounds every array, set and map an entity holds. Kong's own schemas bound the
// arrays that matter to its router and plugins; without a bound, one request could hold the
// write lock for as long as its de-duplication and validation take (SPEC K-ADM-6).
const maxElements = 10000

// validateValue returns the normalized value and its error, as Kong's schema library shapes
// them: nil, a message (string), a record's field errors (fieldErrors), or an array's errors by
// position ([]any, nil where an element is fine).
func validateValue(f *field, v any) (any, any) {
	if v == nil {
		if f.required {
			return nil, "required field missing"
		}
		return nil, nil
	}
	switch f.kind {
	case kString:
		s, ok := v.(string)
		if !ok {
			return v, "expected a string"
		}
		if s == "" {
			return v, "length must be at least 1"
		}
		if f.uuid && !isUUID(s) {
			return v, "expected a valid UUID"
		}
		if len(f.oneOf) > 0 && !slices.Contains(f.oneOf, s) {
			return v, "expected one of: " + strings.Join(f.oneOf, ", ")
		}
	case kInteger, kNumber:
		n, ok := toFloat(v)
		if !ok || math.IsNaN(n) || math.IsInf(n, 0) || (f.kind == kInteger && n != math.Trunc(n)) {
			return v, "expected " + kindNames[f.kind]
		}
		if f.kind == kInteger && (n > maxSafeInteger || n < -maxSafeInteger) {
			// Kong's integers are Lua numbers: beyond 2^53 they are no longer exact.
			return v, fmt.Sprintf("value should be between %s and %s", num(-maxSafeInteger), num(maxSafeInteger))
		}
		if f.between != nil && (n < f.between[0] || n > f.between[1]) {
			return v, fmt.Sprintf("value should be between %s and %s", num(f.between[0]), num(f.between[1]))
		}
		if f.kind == kInteger {
			v = int64(n)
		} else {
			v = n
		}
	case kBoolean:
		if _, ok := v.(bool); !ok {
			return v, "expected a boolean"
		}
	case kArray, kSet:
		list, ok := v.([]any)
		if !ok {
			return v, "expected " + kindNames[f.kind]
		}
		if len(list) > maxElements {
			return v, fmt.Sprintf("length must be at most %d", maxElements)
		}
		out := make([]any, 0, len(list))
		var elemErrs []any
		var seen map[any]bool
		if f.kind == kSet {
			seen = make(map[any]bool, len(list))
		}
		for i, e := range list {
			ne, eerr := validateValue(f.elem, e)
			if e == nil {
				eerr = "required field missing"
			}
			if eerr != nil {
				if elemErrs == nil {
					elemErrs = make([]any, len(list))
				}
				elemErrs[i] = eerr
				continue
			}
			if seen != nil && comparable(ne) {
				if seen[ne] {
					continue
				}
				seen[ne] = true
			}
			out = append(out, ne)
		}
		if elemErrs != nil {
			return v, trimErrors(elemErrs)
		}
		v = out
	case kMap:
		m, ok := v.(map[string]any)
		if !ok {
			return v, "expected a map"
		}
		if len(m) > maxElements {
			return v, fmt.Sprintf("length must be at most %d", maxElements)
		}
		v = m
	case kRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return v, "expected a record"
		}
		rec, errs := validateRecord(f.fields, m, true)
		if len(errs) > 0 {
			return rec, errs
		}
		v = rec
	case kForeign:
		m, ok := v.(map[string]any)
		if !ok {
			return v, "expected a record"
		}
		for k := range m {
			if k != "id" && k != "name" && k != "username" {
				return v, fieldErrors{k: "unknown field"}
			}
		}
		if id, has := m["id"]; has {
			s, ok := id.(string)
			if !ok || !isUUID(s) {
				return v, fieldErrors{"id": "expected a valid UUID"}
			}
		}
		v = maps.Clone(m)
	}
	if f.check != nil {
		if msg := f.check(v); msg != "" {
			return v, msg
		}
	}
	return v, nil
}

// maxSafeInteger is 2^53, the largest integer a Lua (and JSON) number holds exactly.
const maxSafeInteger = 1 << 53

// comparable reports whether v can key a map: every scalar a set may hold.
func comparable(v any) bool {
	switch v.(type) {
	case string, int64, float64, bool:
		return true
	}
	return false
}

// trimErrors drops the trailing nils of a per-position error list, as Lua's arrays end at the
// last element.
func trimErrors(list []any) []any {
	for len(list) > 0 && list[len(list)-1] == nil {
		list = list[:len(list)-1]
	}
	return list
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	}
	return 0, false
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// mergePatch applies a PATCH body to an entity: records merge key by key, anything else is
// replaced, as Kong's DAO update does.
func mergePatch(fields []*field, base, patch map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range patch {
		f := find(fields, k)
		if f != nil && f.kind == kRecord {
			if pm, ok := v.(map[string]any); ok {
				if bm, ok := base[k].(map[string]any); ok {
					out[k] = mergePatch(f.fields, bm, pm)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
