package kong

import (
	"strings"
	"testing"
)

// TestPluginsRunInKongsPriorityOrder: the registry orders the access phase by Kong's static
// priorities (mtls-auth 1600, then acl 950), whatever order Plugins lists them in.
func TestPluginsRunInKongsPriorityOrder(t *testing.T) {
	reg, err := newPluginRegistry([]Plugin{aclPlugin(), mtlsAuthPlugin()})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.access, ","); got != MTLSAuthName+","+ACLName {
		t.Errorf("access phase order %s, want %s,%s", got, MTLSAuthName, ACLName)
	}
	for _, p := range Plugins() {
		if p.compile == nil || p.Schema.Name == "" || p.Priority <= 0 {
			t.Errorf("plugin %+v is incomplete: a name, a positive priority and a compiler are needed", p.Schema.Name)
		}
	}
}

// TestPluginRegistryRefusesAmbiguity: a plugin registered twice, or in a phase the proxy does
// not run, is refused with its name, not silently shadowed or never run.
func TestPluginRegistryRefusesAmbiguity(t *testing.T) {
	if _, err := newPluginRegistry([]Plugin{aclPlugin(), aclPlugin()}); err == nil || !strings.Contains(err.Error(), `"`+ACLName+`" is registered twice`) {
		t.Errorf("duplicate: %v", err)
	}
	p := aclPlugin()
	p.Phase = "log"
	if _, err := newPluginRegistry([]Plugin{p}); err == nil || !strings.Contains(err.Error(), `phase "log"`) {
		t.Errorf("unknown phase: %v", err)
	}
}
