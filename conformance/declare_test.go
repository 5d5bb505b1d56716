package conformance

import (
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// One name is one spec: declaring it again with another value is refused at declaration, the
// same value is the same spec.
func TestOneNameOneValue(t *testing.T) {
	s := NewSuite(catalog.Kong)
	s.Entry("K-MTLS-1", "no certificate", 1)
	s.Entry("K-MTLS-1", "no certificate", 2)
	defer func() {
		if r, _ := recover().(string); !strings.Contains(r, `"K-MTLS-1: no certificate" is declared twice`) {
			t.Errorf("a second declaration with another value: panic %q, want one naming the spec", r)
		}
	}()
	s.Entry("K-MTLS-1", "no certificate", Requires(catalog.HTTP2))
}

// A label that says something about a spec must come from its value: a requirement written on a
// container is refused, naming it; the labels the value derives pass.
func TestContainerLabelsMustBeDeclared(t *testing.T) {
	s := NewSuite(catalog.Kong).ConfiguresThrough(catalog.AdminAPI)
	name, _ := s.declare("K-MTLS-2", "revoked", []any{Requires(catalog.Revocation), ConfiguresWith(catalog.Declarative)})
	spec := s.specs[name]
	if err := s.undeclared(spec, []string{"K-MTLS-2", "feature:mtls-auth", "gateway:kong", "requires:revocation", "configures:" + string(catalog.Declarative), LoadLabel}); err != nil {
		t.Errorf("the value's own labels: %v", err)
	}
	for _, l := range []string{"requires:http2", BlackBox, "configures:admin-api", "K-MTLS-1"} {
		if err := s.undeclared(spec, []string{"K-MTLS-2", l}); err == nil || !strings.Contains(err.Error(), `"`+l+`"`) {
			t.Errorf("container label %q: %v, want an error naming it", l, err)
		}
	}
}

// ConfiguresThrough is part of every value, so it must come before the first declaration.
func TestConfiguresThroughComesFirst(t *testing.T) {
	s := NewSuite(catalog.Kong)
	s.Entry("K-MTLS-1", "no certificate")
	defer func() {
		if recover() == nil {
			t.Error("ConfiguresThrough after a declaration did not panic")
		}
	}()
	s.ConfiguresThrough(catalog.AdminAPI)
}
