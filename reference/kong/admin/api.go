package admin

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// routes returns where the Admin API serves each collection: nested maps "/{parent}/{key}/{child}"
// to the child schema and the foreign field that points at the parent; topLevel the collections
// served at the root; readOnly the top-level credential lists. The plugins' credential endpoints
// come from their schemas.
func routes(plugins map[string]*PluginSchema) (nested map[string]map[string][2]string, topLevel map[string]string, readOnly map[string]bool) {
	nested = map[string]map[string][2]string{
		"services":     {"routes": {"routes", "service"}, "plugins": {"plugins", "service"}},
		"routes":       {"plugins": {"plugins", "route"}},
		"consumers":    {"plugins": {"plugins", "consumer"}},
		"certificates": {"snis": {"snis", "certificate"}},
		"upstreams":    {"targets": {"targets", "upstream"}},
	}
	topLevel = map[string]string{
		"ca_certificates": "ca_certificates", "certificates": "certificates", "snis": "snis", "services": "services",
		"routes": "routes", "consumers": "consumers", "plugins": "plugins", "upstreams": "upstreams",
	}
	readOnly = map[string]bool{}
	for _, p := range plugins {
		if c := p.Credentials; c != nil {
			nested["consumers"][c.ConsumerPath] = [2]string{c.Table, "consumer"}
			topLevel[c.ListPath] = c.Table
			readOnly[c.ListPath] = true
		}
	}
	return nested, topLevel, readOnly
}

// APIOptions configures the Admin API handler.
type APIOptions struct {
	// Info is merged into the GET / answer (version, configuration, …).
	Info func() map[string]any
	// Server is the Server header value, e.g. "mtlsgate/0.1.0".
	Server string
	// DBLess is Kong's database = off: entities are read-only and /config replaces them all.
	DBLess bool
	// GUIURL is kong.conf's admin_gui_url: its origin is the one CORS grants and the one that may
	// send state-changing calls from a browser; its host is an accepted Host.
	GUIURL string
	// Hosts are names, besides IP addresses and loopback names, the Admin API answers to (the
	// names in admin_listen, say); any other Host is refused (DNS rebinding).
	Hosts []string
	// Token, when set, is required in every request's Kong-Admin-Token header.
	Token string
	Log   *slog.Logger
}

// API serves Kong's Admin API over a DB.
type API struct {
	db   *DB
	opts APIOptions
	// nested, topLevel and readOnly are where each collection is served (see routes).
	nested   map[string]map[string][2]string
	topLevel map[string]string
	readOnly map[string]bool
	// configHash is the md5 of the declarative document POST /config last loaded (check_hash).
	configHash atomic.Pointer[string]
}

// NewAPI returns the Admin API handler.
func NewAPI(db *DB, opts APIOptions) *API {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	nested, topLevel, readOnly := routes(db.plugins)
	return &API{db: db, opts: opts, nested: nested, topLevel: topLevel, readOnly: readOnly}
}

// scope is where a request operates: a schema, optionally under a parent entity.
type scope struct {
	schema      *schema
	parentField string
	parentID    string
	// putSNI is the SNI a PUT /certificates/{sni} named: it joins the certificate's snis.
	putSNI string
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if a.opts.Server != "" {
		w.Header().Set("Server", a.opts.Server)
	}
	if origin := a.guiOrigin(); origin != "" {
		// Kong grants admin_gui_url's origin; mtlsgate grants no other (SPEC K-ADM-5).
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	rw := &latencyWriter{ResponseWriter: w, start: start}
	defer func() {
		if v := recover(); v != nil {
			a.opts.Log.Error("admin request panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			rw.WriteHeader(http.StatusInternalServerError)
			_, _ = rw.Write([]byte(`{"message":"` + MsgUnexpectedError + `"}` + "\n"))
		}
	}()
	status, refusal := a.guard(r)
	var body any = refusal
	switch {
	case status != 0:
		a.opts.Log.Warn("admin request refused", "method", r.Method, "path", r.URL.Path, "status", status, "host", r.Host, "origin", r.Header.Get("Origin"))
	case r.Method == http.MethodOptions:
		a.preflight(rw, r)
		return
	default:
		status, body = a.route(r)
	}
	a.opts.Log.Debug("admin request", "method", r.Method, "path", r.URL.Path, "status", status)
	if status == http.StatusNoContent || status == http.StatusNotModified {
		rw.WriteHeader(status)
		return
	}
	// Encoded before the status is sent: a value JSON cannot hold becomes a 500 with a message,
	// never a success with an empty body.
	b, err := json.Marshal(body)
	if err != nil {
		a.opts.Log.Error("admin response not encodable", "method", r.Method, "path", r.URL.Path, "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"message":"`+MsgUnexpectedError+`"}`)
	}
	rw.WriteHeader(status)
	_, _ = rw.Write(append(b, '\n'))
}

type latencyWriter struct {
	http.ResponseWriter
	start time.Time
}

func (l *latencyWriter) WriteHeader(code int) {
	l.Header().Set("X-Kong-Admin-Latency", strconv.FormatInt(time.Since(l.start).Milliseconds(), 10))
	l.ResponseWriter.WriteHeader(code)
}

func (a *API) route(r *http.Request) (int, any) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.URL.Path == "/" || r.URL.Path == "" {
		return a.root(r)
	}
	switch segs[0] {
	case "status":
		return a.status(r)
	case "config":
		return a.serveConfig(r)
	}
	if len(segs) == 2 && segs[0] == "plugins" && segs[1] == "enabled" {
		return http.StatusOK, map[string]any{"enabled_plugins": a.db.PluginNames()}
	}
	name, ok := a.topLevel[segs[0]]
	if !ok || len(segs) > 4 {
		return errBody(notFound())
	}
	s := a.db.schemas[name]
	if segs[0] == "certificates" && len(segs) >= 2 && !isUUID(segs[1]) {
		// kong/api/routes/certificates.lua: a certificate is addressed by one of its SNIs too; an
		// unknown SNI is 404 "SNI not found" for every verb but PUT, which creates the certificate.
		sni, found := lookup(a.db.Snapshot(), a.db.schemas["snis"], segs[1])
		switch {
		case found:
			segs[1] = RefID(sni["certificate"])
		case r.Method == http.MethodPut && len(segs) == 2 && a.opts.DBLess:
			return a.dbLessRefusal(r.Method, segs)
		case r.Method == http.MethodPut && len(segs) == 2:
			return a.entity(r, scope{schema: s, putSNI: segs[1]}, newID())
		default:
			return http.StatusNotFound, map[string]any{"message": "SNI not found"}
		}
	}
	if a.opts.DBLess && r.Method != http.MethodGet {
		return a.dbLessRefusal(r.Method, segs)
	}
	readOnly := a.readOnly[segs[0]]
	switch len(segs) {
	case 1:
		if readOnly && r.Method != http.MethodGet {
			return methodNotAllowed()
		}
		return a.collection(r, scope{schema: s})
	case 2:
		if readOnly && r.Method != http.MethodGet {
			return methodNotAllowed()
		}
		return a.entity(r, scope{schema: s}, segs[1])
	default:
		child, ok := a.nested[segs[0]][segs[2]]
		if !ok {
			return errBody(notFound())
		}
		parent, found := lookup(a.db.Snapshot(), s, segs[1])
		if !found {
			return errBody(notFound())
		}
		sc := scope{schema: a.db.schemas[child[0]], parentField: child[1], parentID: parent["id"].(string)}
		if len(segs) == 3 {
			return a.collection(r, sc)
		}
		return a.entity(r, sc, segs[3])
	}
}

// dbLessRefusal is Kong's answer to a write when database = off (kong/db/strategies/off): 405
// with an "operation unsupported" error for the DAO calls the endpoint would make (insert on a
// collection; upsert, update and delete on an entity, "by '<key>'" when addressed by its endpoint
// key), and a plain "Method not allowed" for the methods the endpoint does not have.
func (a *API) dbLessRefusal(method string, segs []string) (int, any) {
	name := a.topLevel[segs[0]]
	key := ""
	if len(segs) >= 3 {
		child, ok := a.nested[segs[0]][segs[2]]
		if !ok {
			return errBody(notFound())
		}
		name = child[0]
	}
	if len(segs)%2 == 0 {
		key = segs[len(segs)-1]
	}
	var verb string
	switch {
	case key == "" && method == http.MethodPost:
		verb = "create"
	case key != "" && method == http.MethodPut:
		verb = "create or update"
	case key != "" && method == http.MethodPatch:
		verb = "update"
	case key != "" && method == http.MethodDelete:
		verb = "remove"
	default:
		return methodNotAllowed()
	}
	msg := fmt.Sprintf("cannot %s '%s' entities when not using a database", verb, name)
	if ek := a.db.schemas[name].endpointKey; key != "" && ek != "" && !isUUID(key) {
		msg = fmt.Sprintf("cannot %s '%s' entities by '%s' when not using a database", verb, name, ek)
	}
	return errBody(&Error{Status: http.StatusMethodNotAllowed, Code: CodeUnsupported, Message: msg})
}

func methodNotAllowed() (int, any) {
	return http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"}
}

func errBody(e *Error) (int, any) { return e.Status, e.Body() }

func (a *API) root(r *http.Request) (int, any) {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	info := map[string]any{
		"tagline": "Welcome to mtlsgate",
		"plugins": map[string]any{"available_on_server": a.availablePlugins(), "enabled_in_cluster": a.enabledPlugins()},
	}
	if a.opts.Info != nil {
		for k, v := range a.opts.Info() {
			info[k] = v
		}
	}
	return http.StatusOK, info
}

func (a *API) availablePlugins() map[string]any {
	out := map[string]any{}
	for _, n := range a.db.PluginNames() {
		out[n] = map[string]any{"version": "mtlsgate"}
	}
	return out
}

func (a *API) enabledPlugins() []string {
	var names []string
	for _, p := range a.db.Snapshot().List("plugins") {
		if n := p["name"].(string); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func (a *API) status(r *http.Request) (int, any) {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	return http.StatusOK, map[string]any{
		"database":           map[string]any{"reachable": true},
		"configuration_hash": strconv.FormatUint(a.db.Snapshot().Version(), 16),
		"server":             map[string]any{"connections_active": 0},
	}
}

func (a *API) collection(r *http.Request, sc scope) (int, any) {
	switch r.Method {
	case http.MethodGet:
		return a.list(r, sc)
	case http.MethodPost:
		in, form, derr := decodeBody(r)
		if derr != nil {
			return errBody(derr)
		}
		var out Entity
		err := a.db.write(func(t *tx) *Error {
			if sc.parentField != "" {
				in[sc.parentField] = map[string]any{"id": sc.parentID}
			}
			p, err := t.prepare(sc.schema, in, form, nil, modeInsert)
			if err != nil {
				return err
			}
			if _, dup := t.snap.Get(sc.schema.name, p.entity["id"].(string)); dup {
				return primaryKeyViolation(p.entity["id"].(string))
			}
			if err := t.store(p); err != nil {
				return err
			}
			out = p.entity
			return nil
		})
		if err != nil {
			return errBody(err)
		}
		return http.StatusCreated, a.render(sc.schema.name, out)
	}
	return methodNotAllowed()
}

func (a *API) list(r *http.Request, sc scope) (int, any) {
	snap := a.db.Snapshot()
	rows := snap.List(sc.schema.name)
	if sc.parentField != "" {
		rows = slices.DeleteFunc(slices.Clone(rows), func(e Entity) bool {
			ref, _ := e[sc.parentField].(map[string]any)
			return ref == nil || ref["id"] != sc.parentID
		})
	}
	if tagFilter := r.URL.Query().Get("tags"); tagFilter != "" {
		rows = filterTags(rows, tagFilter)
	}
	size, start, perr := pageArgs(r.URL.Query(), len(rows))
	if perr != nil {
		return errBody(perr)
	}
	end := min(start+size, len(rows))
	data := make([]any, 0, end-start)
	for _, e := range rows[start:end] {
		data = append(data, a.renderIn(snap, sc.schema.name, e))
	}
	resp := map[string]any{"data": data, "next": nil}
	if end < len(rows) {
		off := offsetToken(end)
		next := r.URL.Path + "?offset=" + url.QueryEscape(off)
		if t := r.URL.Query().Get("tags"); t != "" {
			next += "&tags=" + url.QueryEscape(t)
		}
		if sz := r.URL.Query().Get("size"); sz != "" {
			next += "&size=" + url.QueryEscape(sz)
		}
		resp["next"] = next
		resp["offset"] = off
	}
	return http.StatusOK, resp
}

// maxPageSize is Kong's pagination.max_page_size; 100 is its page_size.
const (
	maxPageSize     = 1000
	defaultPageSize = 100
)

// pageArgs reads size and offset as kong/api/endpoints.lua and the DAO do: a size that is not a
// number → "size must be a number", one that is not an integer in 1..1000 → "size must be an
// integer between 1 and 1000" (code 9); an offset that is not base64 → "bad base64 encoding",
// one that does not decode to a token → "bad json encoding" (code 7). These errors carry no
// fields.
func pageArgs(q url.Values, rows int) (size, start int, err *Error) {
	size = defaultPageSize
	if q.Has("size") {
		n, perr := strconv.ParseFloat(strings.TrimSpace(q.Get("size")), 64)
		if perr != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, 0, &Error{Status: http.StatusBadRequest, Code: CodeInvalidSize, Message: "size must be a number"}
		}
		if n != math.Trunc(n) || n < 1 || n > maxPageSize {
			return 0, 0, &Error{Status: http.StatusBadRequest, Code: CodeInvalidSize,
				Message: fmt.Sprintf("size must be an integer between 1 and %d", maxPageSize)}
		}
		size = int(n)
	}
	if off := q.Get("offset"); q.Has("offset") {
		invalid := func(why string) *Error {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidOffset, Message: fmt.Sprintf("'%s' is not a valid offset: %s", off, why)}
		}
		b, derr := base64.StdEncoding.DecodeString(off)
		if derr != nil {
			return 0, 0, invalid("bad base64 encoding")
		}
		var token []int
		if json.Unmarshal(b, &token) != nil || len(token) != 1 || token[0] < 0 || token[0] > rows {
			return 0, 0, invalid("bad json encoding")
		}
		start = token[0]
	}
	return size, start, nil
}

// offsetToken is the offset of the page starting at position n: base64 of a JSON array, the
// shape of Kong's PostgreSQL paging tokens.
func offsetToken(n int) string {
	return base64.StdEncoding.EncodeToString([]byte("[" + strconv.Itoa(n) + "]"))
}

func filterTags(rows []Entity, filter string) []Entity {
	and := !strings.Contains(filter, "/")
	wanted := strings.FieldsFunc(filter, func(r rune) bool { return r == ',' || r == '/' })
	return slices.DeleteFunc(slices.Clone(rows), func(e Entity) bool {
		tags, _ := e["tags"].([]any)
		has := func(t string) bool { return slices.Contains(tags, any(t)) }
		if and {
			return slices.ContainsFunc(wanted, func(t string) bool { return !has(t) })
		}
		return !slices.ContainsFunc(wanted, has)
	})
}

// find resolves an entity key within a scope: by id, by endpoint key, and for credentials by their
// natural key (acl group, target address).
func (a *API) find(snap *Snapshot, sc scope, key string) (Entity, bool) {
	e, ok := lookup(snap, sc.schema, key)
	if !ok {
		natural := map[string]string{"acls": "group", "targets": "target"}[sc.schema.name]
		for _, row := range snap.List(sc.schema.name) {
			if natural != "" && row[natural] == key && inScope(row, sc) {
				return row, true
			}
		}
		return nil, false
	}
	if !inScope(e, sc) {
		return nil, false
	}
	return e, true
}

func inScope(e Entity, sc scope) bool {
	if sc.parentField == "" {
		return true
	}
	ref, _ := e[sc.parentField].(map[string]any)
	return ref != nil && ref["id"] == sc.parentID
}

func (a *API) entity(r *http.Request, sc scope, key string) (int, any) {
	switch r.Method {
	case http.MethodGet:
		snap := a.db.Snapshot()
		e, ok := a.find(snap, sc, key)
		if !ok {
			return errBody(notFound())
		}
		return http.StatusOK, a.renderIn(snap, sc.schema.name, e)
	case http.MethodDelete:
		err := a.db.write(func(t *tx) *Error {
			e, ok := a.find(t.snap, sc, key)
			if !ok {
				return nil // Kong answers 204 for a missing entity too
			}
			return t.delete(sc.schema, e)
		})
		if err != nil {
			return errBody(err)
		}
		return http.StatusNoContent, nil
	case http.MethodPatch, http.MethodPut:
		in, form, derr := decodeBody(r)
		if derr != nil {
			return errBody(derr)
		}
		if sc.putSNI != "" {
			in["snis"] = withSNI(in["snis"], sc.putSNI)
		}
		var out Entity
		err := a.db.write(func(t *tx) *Error {
			existing, found := a.find(t.snap, sc, key)
			if sc.parentField != "" {
				in[sc.parentField] = map[string]any{"id": sc.parentID}
			}
			var p *prepared
			var err *Error
			switch {
			case r.Method == http.MethodPatch && !found:
				return notFound()
			case r.Method == http.MethodPatch:
				p, err = t.prepare(sc.schema, in, form, existing, modePatch)
			default:
				if !found {
					if isUUID(key) {
						in["id"] = key
					} else if sc.schema.endpointKey != "" {
						in[sc.schema.endpointKey] = key
					} else {
						return notFound()
					}
				} else if sc.schema.endpointKey != "" && !isUUID(key) {
					in[sc.schema.endpointKey] = key
				}
				p, err = t.prepare(sc.schema, in, form, existing, modeReplace)
			}
			if err != nil {
				return err
			}
			if err := t.store(p); err != nil {
				return err
			}
			out = p.entity
			return nil
		})
		if err != nil {
			return errBody(err)
		}
		return http.StatusOK, a.render(sc.schema.name, out)
	}
	return methodNotAllowed()
}

// withSNI adds the SNI a PUT /certificates/{sni} named to the snis it was given, as
// kong/api/routes/certificates.lua's prepare_args does; without snis in the body, the URL's
// SNI is not added (Kong sets snis to null).
func withSNI(snis any, name string) any {
	switch t := snis.(type) {
	case []any:
		if !slices.Contains(t, any(name)) {
			return append(slices.Clone(t), name)
		}
		return t
	case string:
		if t != name {
			return []any{t, name}
		}
		return []any{t}
	}
	return snis
}

func (a *API) render(name string, e Entity) map[string]any {
	return a.renderIn(a.db.Snapshot(), name, e)
}

// renderIn is the JSON object Kong returns for an entity: every field, null where unset.
func (a *API) renderIn(snap *Snapshot, name string, e Entity) map[string]any {
	out := make(map[string]any, len(e)+1)
	for k, v := range e {
		out[k] = v
	}
	if name == "certificates" {
		snis := []any{}
		for _, sni := range snap.List("snis") {
			if sni["certificate"].(map[string]any)["id"] == e["id"] {
				snis = append(snis, sni["name"])
			}
		}
		slices.SortFunc(snis, func(x, y any) int { return strings.Compare(x.(string), y.(string)) })
		out["snis"] = snis
	}
	return out
}
