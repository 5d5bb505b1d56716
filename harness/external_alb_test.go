package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// TestExternalALBClaimsTheBlackBoxOnly: profile alb claims A-MODE-3's black-box checks and
// nothing that needs a scenario, and resolves certificate paths against the YAML's directory.
func TestExternalALBClaimsTheBlackBoxOnly(t *testing.T) {
	dir := t.TempDir()
	yaml := filepath.Join(dir, "alb.yaml")
	if err := os.WriteFile(yaml, []byte("profile: alb\nalb: {listener_url: https://127.0.0.1:9445/, clients: {good: {cert: c.crt, key: c.key}}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadExternalConfig(func(k string) string {
		if k == ExternalConfigEnv {
			return yaml
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.ALB.Clients.Good.Cert != filepath.Join(dir, "c.crt") {
		t.Errorf("alb.clients.good.cert %q is not resolved against the YAML's directory", c.ALB.Clients.Good.Cert)
	}
	target := &ExternalTarget{conf: c}
	target.once.Do(func() {})
	for _, b := range catalog.All() {
		ok, why := target.Claims(b.ID)
		want := b.ID == "A-MODE-3"
		if ok != want {
			t.Errorf("%s: claimed %v, want %v (%s)", b.ID, ok, want, why)
		}
		if !ok && why == "" {
			t.Errorf("%s: unclaimed without a reason", b.ID)
		}
	}
	if ok, _ := target.Supports(catalog.ALBConfig); ok {
		t.Error("the external ALB takes the suite's scenarios")
	}
}
