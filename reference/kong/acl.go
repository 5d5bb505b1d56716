package kong

import (
	"net/http"
	"slices"
	"strings"

	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// ACLName is the acl plugin's name.
const ACLName = "acl"

// aclPlugin is the acl plugin: its schema is Kong's kong/plugins/acl/schema.lua, its priority
// kong/plugins/acl/handler.lua's PRIORITY (950), and it runs in the access phase, after the
// authentication plugins.
func aclPlugin() Plugin {
	return Plugin{
		Schema: admin.PluginSchema{
			Name: ACLName,
			Config: []admin.Field{
				admin.StringArrayField("allow"),
				admin.StringArrayField("deny"),
				admin.BooleanField("hide_groups_header").Default(false),
				admin.BooleanField("include_consumer_groups").Default(false),
				admin.BooleanField("always_use_authenticated_groups").Default(false),
			},
			Protocols: []string{"grpc", "grpcs", "http", "https"},
			Check: func(c map[string]any) []string {
				allow, deny := c["allow"] != nil, c["deny"] != nil
				switch {
				case allow && deny:
					return []string{"only one of these fields must be non-empty: 'config.allow', 'config.deny'"}
				case !allow && !deny:
					return []string{"at least one of these fields must be non-empty: 'config.allow', 'config.deny'"}
				}
				return nil
			},
			Credentials: &admin.Credentials{Table: "acls", ConsumerPath: "acls", ListPath: "acls"},
		},
		Phase:    PhaseAccess,
		Priority: 950,
		compile: func(_ *runtime, cfg map[string]any) (pluginHandler, error) {
			return compileACL(cfg), nil
		},
	}
}

// handle allows or denies the request by the consumer's or the authenticated groups.
func (a *aclConfig) handle(g *Gateway, w http.ResponseWriter, r *http.Request, st *reqState) bool {
	d := a.check(st.consumer, st.anonymous, st.groups, st.authenticated)
	if d.status != 0 {
		g.kongError(w, r, st, d.status, d.message, false)
		return false
	}
	d.apply(st.setHeaders)
	return true
}

// aclConfig is a compiled acl plugin configuration.
type aclConfig struct {
	allow, deny                  []string
	hideGroupsHeader             bool
	alwaysUseAuthenticatedGroups bool
}

func compileACL(cfg map[string]any) *aclConfig {
	return &aclConfig{
		allow: admin.Strings(cfg["allow"]), deny: admin.Strings(cfg["deny"]),
		hideGroupsHeader:             cfg["hide_groups_header"] == true,
		alwaysUseAuthenticatedGroups: cfg["always_use_authenticated_groups"] == true,
	}
}

// aclDecision is the outcome of the acl plugin for one request.
type aclDecision struct {
	status  int
	message string
	// header and groups are what the upstream is told, unless hide_groups_header.
	header string
	groups []string
}

// check applies Kong's acl handler (SPEC K-MTLS-7): a consumer's ACL groups, or the groups an
// authentication plugin established (mtls-auth's CN or DN) when there is no consumer, for an
// anonymous one, or with always_use_authenticated_groups; then allow or deny.
func (a *aclConfig) check(c *consumer, anonymous bool, authGroups []string, authenticated bool) aclDecision {
	var d aclDecision
	switch {
	case c == nil:
		if len(authGroups) == 0 {
			if authenticated {
				return aclDecision{status: http.StatusForbidden, message: msgCannotConsume}
			}
			return aclDecision{status: http.StatusUnauthorized, message: MsgUnauthorized}
		}
		d.header, d.groups = HeaderAuthenticatedGroups, authGroups
	case (anonymous || a.alwaysUseAuthenticatedGroups) && len(authGroups) > 0:
		d.header, d.groups = HeaderAuthenticatedGroups, authGroups
	default:
		d.header, d.groups = HeaderConsumerGroups, c.groups
	}
	if !ACLPermits(a.allow, a.deny, d.groups) {
		return aclDecision{status: http.StatusForbidden, message: msgCannotConsume}
	}
	if a.hideGroupsHeader {
		d.header = ""
	}
	return d
}

// ACLPermits is the acl plugin's allow/deny rule for a request whose groups are groups: with an
// allow list one of them must be on it, and none may be on the deny list. Renderers that
// precompute acl decisions (nginxconf) call it so the rule lives here only.
func ACLPermits(allow, deny, groups []string) bool {
	hit := func(list []string) bool {
		return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(list, g) })
	}
	return !(len(allow) > 0 && !hit(allow)) && !(len(deny) > 0 && hit(deny))
}

func (d aclDecision) apply(h http.Header) {
	if d.header != "" && len(d.groups) > 0 {
		h.Set(d.header, strings.Join(d.groups, ", "))
	}
}
