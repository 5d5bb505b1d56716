package harness

import (
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// withNewID is the embedded catalogue plus one behaviour nobody has checked on any target yet,
// in each profile and with the features the targets decide by.
func withNewID(ids ...catalog.Behaviour) lookupFunc {
	return func(id catalog.ID) (catalog.Behaviour, bool) {
		for _, b := range ids {
			if b.ID == id {
				return b, true
			}
		}
		return catalog.Lookup(id)
	}
}

// TestNewIDIsClaimedByNoAllowListTarget: a catalogue row added tomorrow is not claimed by nginx,
// HAProxy, real Kong, an external gateway or the reference container until someone adds it to
// that target's allow-list (issue 12 item 6).
func TestNewIDIsClaimedByNoAllowListTarget(t *testing.T) {
	t.Setenv(ExternalConfigEnv, "")
	t.Setenv(ExternalProxyEnv, "http://127.0.0.1:1")
	t.Setenv(ExternalAdminEnv, "http://127.0.0.1:2")
	t.Setenv(ExternalAllowResetEnv, "true")
	t.Setenv(LicenseEnv, "licensed")
	var news []catalog.Behaviour
	for _, f := range []catalog.Feature{catalog.MTLSAuth, catalog.AdminAPI, catalog.Proxy, catalog.SNI} {
		news = append(news, catalog.Behaviour{ID: catalog.ID("K-NEW-" + string(rune('1'+len(news)))), Profile: catalog.Kong, Feature: f})
	}
	for _, f := range []catalog.Feature{catalog.MTLSModes, catalog.MTLSHeaders} {
		news = append(news, catalog.Behaviour{ID: catalog.ID("A-NEW-" + string(rune('1'+len(news)))), Profile: catalog.ALB, Feature: f})
	}
	news = append(news, catalog.Behaviour{ID: "L-99", Profile: catalog.Load, Feature: catalog.Traffic})
	lookup := withNewID(news...)
	targets := map[string]func(catalog.ID) (bool, string){
		"nginx":               func(id catalog.ID) (bool, string) { return (&NginxTarget{}).claims(lookup, id) },
		"haproxy":             func(id catalog.ID) (bool, string) { return (&HAProxyTarget{}).claims(lookup, id) },
		"kong":                func(id catalog.ID) (bool, string) { return (&KongTargetImpl{}).claims(lookup, id) },
		"external":            func(id catalog.ID) (bool, string) { return (&ExternalTarget{}).claims(lookup, id) },
		"reference-container": func(id catalog.ID) (bool, string) { return (&ReferenceContainerTarget{}).claims(lookup, id) },
	}
	for name, claims := range targets {
		for _, b := range news {
			if ok, why := claims(b.ID); ok || strings.TrimSpace(why) == "" {
				t.Errorf("%s claims the new %s (%s): %v %q", name, b.ID, b.Feature, ok, why)
			}
		}
	}
	// The lists name only real rows, so none of them can be stale.
	for name, list := range map[string][]catalog.ID{"nginx": nginxClaimed(), "haproxy": haproxyClaimed(),
		"kong": kongOwnBehaviours(), "reference-container": referenceContainerBehaviours()} {
		for _, id := range list {
			if _, ok := catalog.Lookup(id); !ok {
				t.Errorf("%s lists %s, which is not in the catalogue", name, id)
			}
		}
	}
}

// TestKongClaimsAreKongsOwnAndUnproven: the kong target claims no mtlsgate rule and says in its
// report that nothing it claims has been run against a real Kong image.
func TestKongClaimsAreKongsOwnAndUnproven(t *testing.T) {
	t.Setenv(LicenseEnv, "licensed")
	k := &KongTargetImpl{}
	for id, want := range mtlsgateRules() {
		if ok, why := k.Claims(id); ok || why != want {
			t.Errorf("kong claims %s: %v %q", id, ok, why)
		}
	}
	if ok, why := k.Claims("K-ADM-1"); !ok {
		t.Errorf("kong does not claim K-ADM-1: %s", why)
	}
	p := k.Provenance()
	if !strings.HasPrefix(p, "proven against a real Kong image: none; ") || !strings.Contains(p, "never run against a real Kong image: K-ADM-1, ") {
		t.Errorf("provenance %q", p)
	}
	if strings.Contains(p, "K-ADM-5") || strings.Contains(p, "K-MTLS-6") {
		t.Errorf("provenance lists an mtlsgate rule: %q", p)
	}
}
