package kong

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// Phase is the request phase a plugin's handler runs in, as Kong's plugin handlers name them.
type Phase string

// PhaseAccess is Kong's access phase: after routing, before the request is proxied; where every
// authentication and authorisation plugin runs.
const PhaseAccess Phase = "access"

// Plugin is one Kong plugin the reference implements: its Admin API schema, the phase it runs in,
// its priority and its handler. Adding a plugin is one file defining such a value (and its line
// in Plugins); the Admin API, the compiler and the proxy take everything else from it.
type Plugin struct {
	// Schema is what the Admin API validates the plugin's entities against; Schema.Name is the
	// plugin's name.
	Schema admin.PluginSchema
	// Phase is the phase its handler runs in.
	Phase Phase
	// Priority is Kong's static plugin priority: within a phase, the higher runs first.
	Priority int
	// compile turns one enabled plugin entity's config into its handler for a runtime, and may
	// set what the runtime's TLS handshake needs (mtls-auth asks for a client certificate).
	compile func(rt *runtime, config map[string]any) (pluginHandler, error)
}

// pluginHandler handles one request in its plugin's phase; it returns false when it ended the
// request (it wrote the response).
type pluginHandler interface {
	handle(g *Gateway, w http.ResponseWriter, r *http.Request, st *reqState) bool
}

// Plugins returns the plugins the reference implements, in the order they run: by phase, then
// by descending priority as Kong orders them (mtls-auth 1600 before acl 950).
func Plugins() []Plugin {
	ps := []Plugin{mtlsAuthPlugin(), aclPlugin()}
	slices.SortStableFunc(ps, func(a, b Plugin) int { return cmp.Compare(b.Priority, a.Priority) })
	return ps
}

// PluginSchemas returns the Admin API schemas of Plugins, for admin.Options.Plugins.
func PluginSchemas() []admin.PluginSchema {
	ps := Plugins()
	out := make([]admin.PluginSchema, len(ps))
	for i, p := range ps {
		out[i] = p.Schema
	}
	return out
}

// pluginRegistry indexes Plugins by name and keeps their run order.
type pluginRegistry struct {
	byName map[string]Plugin
	// access lists the access-phase plugins' names, highest priority first.
	access []string
}

func newPluginRegistry(ps []Plugin) (*pluginRegistry, error) {
	reg := &pluginRegistry{byName: map[string]Plugin{}}
	for _, p := range ps {
		if _, dup := reg.byName[p.Schema.Name]; dup {
			return nil, fmt.Errorf("plugin %q is registered twice", p.Schema.Name)
		}
		if p.Phase != PhaseAccess {
			return nil, fmt.Errorf("plugin %q: phase %q is not one the reference runs (only %q)", p.Schema.Name, p.Phase, PhaseAccess)
		}
		reg.byName[p.Schema.Name] = p
		reg.access = append(reg.access, p.Schema.Name)
	}
	slices.SortStableFunc(reg.access, func(a, b string) int {
		return cmp.Compare(reg.byName[b].Priority, reg.byName[a].Priority)
	})
	return reg, nil
}

// runPlugins runs the access-phase plugins that apply to the request, in priority order; each
// is looked up with the consumer the plugins before it established (Kong's scoping). It returns
// false when a plugin ended the request.
func (g *Gateway) runPlugins(w http.ResponseWriter, r *http.Request, st *reqState) bool {
	for _, name := range g.plugins.access {
		consumerID := ""
		if st.consumer != nil {
			consumerID = st.consumer.id
		}
		if p := st.rt.plugin(name, st.match.route, consumerID); p != nil && p.runsOn(st.scheme) {
			if !p.handler.handle(g, w, r, st) {
				return false
			}
		}
	}
	return true
}
