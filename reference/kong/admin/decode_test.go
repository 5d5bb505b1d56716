package admin

import (
	"net/url"
	"reflect"
	"testing"
)

func TestDecodeArgsKongNotation(t *testing.T) {
	v := url.Values{
		"name":                   {"example-plugin"},
		"config.ca_certificates": {"a"},
		"config.consumer_by[]":   {"username", "custom_id"},
		"paths[]":                {"/one"},
		"hosts":                  {"a.test", "b.test"},
		"headers[x-env]":         {"prod"},
		"snis[1]":                {"one.test"},
		"snis[2]":                {"two.test"},
		"service.id":             {"sid"},
	}
	got := decodeArgs(v)
	want := map[string]any{
		"name":    "example-plugin",
		"config":  map[string]any{"ca_certificates": "a", "consumer_by": []any{"username", "custom_id"}},
		"paths":   []any{"/one"},
		"hosts":   []any{"a.test", "b.test"},
		"headers": map[string]any{"x-env": "prod"},
		"snis":    map[string]any{"1": "one.test", "2": "two.test"},
		"service": map[string]any{"id": "sid"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeArgs:\n got %#v\nwant %#v", got, want)
	}
	routes := routesSchema()
	inferred := infer(routes.fields, map[string]any{"paths": "/x", "strip_path": "false", "regex_priority": "5", "snis": got["snis"], "name": ""})
	if !reflect.DeepEqual(inferred["paths"], []any{"/x"}) || inferred["strip_path"] != false || inferred["regex_priority"] != float64(5) ||
		!reflect.DeepEqual(inferred["snis"], []any{"one.test", "two.test"}) || inferred["name"] != nil {
		t.Fatalf("infer: %#v", inferred)
	}
}

func TestSchemaViolationMessages(t *testing.T) {
	one := fieldErrors{}
	one.nest("config", fieldErrors{"ca_certificates": "required field missing"})
	if got := schemaViolation(one).Message; got != "schema violation (config.ca_certificates: required field missing)" {
		t.Errorf("one violation: %q", got)
	}
	two := fieldErrors{"port": "expected an integer"}
	two.entity("at least one of these fields must be non-empty: 'custom_id', 'username'")
	if got := schemaViolation(two).Message; got != "2 schema violations (at least one of these fields must be non-empty: 'custom_id', 'username'; port: expected an integer)" {
		t.Errorf("two violations: %q", got)
	}
	if got := uniqueViolation(map[string]any{"cert_digest": "ab"}).Message; got != `UNIQUE violation detected on '{cert_digest="ab"}'` {
		t.Errorf("unique: %q", got)
	}
}

func TestExpandServiceURL(t *testing.T) {
	errs := fieldErrors{}
	got := expandServiceURL(map[string]any{"url": "https://example.test/base", "name": "s"}, errs)
	if len(errs) != 0 || got["protocol"] != "https" || got["host"] != "example.test" || got["port"] != int64(443) || got["path"] != "/base" {
		t.Fatalf("expand: %#v %v", got, errs)
	}
	// As services.lua's shorthand: no host and a path that is not one, for validation to refuse.
	got = expandServiceURL(map[string]any{"url": "invalid url"}, errs)
	if len(errs) != 0 || got["host"] != nil || got["path"] != "invalid url" || got["protocol"] != "http" || got["port"] != int64(80) {
		t.Fatalf("expand invalid url: %#v %v", got, errs)
	}
	got = expandServiceURL(map[string]any{"url": "http://[::1]:8080/a?b=c#d"}, errs)
	if got["host"] != "::1" || got["port"] != int64(8080) || got["path"] != "/a" {
		t.Fatalf("expand IPv6 url: %#v", got)
	}
}
