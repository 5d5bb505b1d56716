package admin

// Entities and plugin configurations are JSON-shaped maps; these read one value of them the way
// every consumer of the store (the gateway's runtime, the nginx renderer) needs, with the zero
// value for a missing or null field.

// String is v as a string; "" when v is not one.
func String(v any) string {
	s, _ := v.(string)
	return s
}

// Strings is v, a JSON array, as strings.
func Strings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, String(e))
	}
	return out
}

// Int is v, a JSON number (float64) or an integer, as an int64; 0 when v is neither.
func Int(v any) int64 {
	switch t := v.(type) {
	case int64:
		return t
	case int:
		return int64(t)
	case float64:
		return int64(t)
	}
	return 0
}

// RefID is the id of a foreign key rendered as {"id": "…"}; "" for null.
func RefID(v any) string {
	m, _ := v.(map[string]any)
	return String(m["id"])
}
