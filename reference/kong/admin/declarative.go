package admin

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// formatVersions are the declarative _format_version values Kong 3.x reads.
var formatVersions = []string{"1.1", "2.1", "3.0"}

// declarativeKeys are the top-level keys a declarative file may hold.
var declarativeKeys = []string{
	"_format_version", "_transform", "_comment", "_info", "_workspace",
	"ca_certificates", "certificates", "snis", "upstreams", "services", "routes", "consumers", "plugins",
}

// ParseDeclarative reads a declarative configuration in YAML or JSON (JSON is YAML), with the
// messages of Kong's declarative unserialize: "failed parsing declarative configuration: …",
// "…: expected an object" for a document that is not a mapping.
func ParseDeclarative(b []byte) (map[string]any, error) {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("failed parsing declarative configuration: %w", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("failed parsing declarative configuration: expected an object")
	}
	return normalizeYAML(m).(map[string]any), nil
}

// normalizeYAML turns YAML's ints into the float64 JSON decoding gives, so both inputs validate
// alike.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeYAML(e)
		}
		return t
	case int:
		return float64(t)
	case int64:
		return float64(t)
	}
	return v
}

// LoadDeclarative replaces the whole configuration with doc (DB-less mode, SPEC K-ADM-4). On any
// error nothing changes and the error lists every entity at fault.
func (db *DB) LoadDeclarative(doc map[string]any) *Error {
	return db.writeFresh(func(t *tx) *Error { return t.declarative(doc) })
}

// writeFresh is write starting from an empty configuration instead of the current one.
func (db *DB) writeFresh(fn func(t *tx) *Error) *Error {
	return db.write(func(t *tx) *Error {
		t.snap.tables = map[string]*table{}
		t.copied = map[string]bool{}
		return fn(t)
	})
}

// declErrors collects errors as Kong's declarative_config error does: under each entity type a
// list by position (null where an entity is fine), nested collections inside their parent's
// entry; plus the flattened list Kong gives with flatten_errors.
type declErrors struct {
	fields    map[string]any
	flattened []any
}

// add records err at path: pairs of collection name and 1-based position.
func (d *declErrors) add(path []string, entityType, entityName string, err *Error) {
	var leaf any = err.Message
	if err.Fields != nil && err.Code == CodeSchemaViolation {
		leaf = err.Fields
	}
	m := d.fields
	for i := 0; i+1 < len(path); i += 2 {
		pos, _ := strconv.Atoi(path[i+1])
		list, _ := m[path[i]].([]any)
		for len(list) < pos {
			list = append(list, nil)
		}
		m[path[i]] = list
		if i+2 >= len(path) {
			if existing, ok := list[pos-1].(map[string]any); ok {
				if lm, ok := leaf.(map[string]any); ok {
					maps.Copy(existing, lm)
					break
				}
			}
			list[pos-1] = leaf
			break
		}
		next, ok := list[pos-1].(map[string]any)
		if !ok {
			next = map[string]any{}
			list[pos-1] = next
		}
		m = next
	}
	var errs []any
	var parts []string
	flatten("", err.Fields, &parts)
	if len(parts) == 0 {
		parts = []string{err.Message}
	}
	sort.Strings(parts)
	for _, p := range parts {
		field, msg, ok := strings.Cut(p, ": ")
		if !ok {
			field, msg = "@entity", p
		}
		errs = append(errs, map[string]any{"field": field, "message": msg, "type": "field"})
	}
	d.flattened = append(d.flattened, map[string]any{"entity_type": entityType, "entity_name": entityName, "errors": errs})
}

func (d *declErrors) err() *Error {
	if len(d.fields) == 0 {
		return nil
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeDeclarative,
		Message: "declarative config is invalid: " + luaValue(d.fields),
		Fields:  d.fields, extra: map[string]any{"flattened_errors": d.flattened}}
}

// declarativeError is Kong's error for a configuration that could not be read at all.
func declarativeError(msg string) *Error {
	fields := map[string]any{"error": msg}
	return &Error{Status: http.StatusBadRequest, Code: CodeDeclarative,
		Message: "declarative config is invalid: " + luaValue(fields), Fields: fields}
}

func (t *tx) declarative(doc map[string]any) *Error {
	d := &declErrors{fields: map[string]any{}}
	fv, _ := doc["_format_version"].(string)
	if !slices.Contains(formatVersions, fv) {
		d.fields["_format_version"] = "expected one of: " + strings.Join(formatVersions, ", ")
	}
	for k := range doc {
		if !slices.Contains(declarativeKeys, k) {
			d.fields[k] = "unknown field"
		}
	}
	if len(d.fields) > 0 {
		return d.err()
	}
	// Dependencies first, so references resolve within the one transaction.
	for _, kind := range []string{"ca_certificates", "certificates", "snis", "upstreams", "services", "routes", "consumers", "plugins"} {
		list, ok := doc[kind].([]any)
		if !ok && doc[kind] != nil {
			d.fields[kind] = "expected an array"
			continue
		}
		for i, raw := range list {
			e, ok := raw.(map[string]any)
			if !ok {
				d.add([]string{kind, strconv.Itoa(i + 1)}, kind, "", badRequest("expected a record"))
				continue
			}
			t.declEntity(d, []string{kind, strconv.Itoa(i + 1)}, kind, e, nil)
		}
	}
	return d.err()
}

// declNested are the child collections an entity may carry in a declarative file, with the
// schema they fill and the foreign field pointing back at the parent.
var declNested = map[string]map[string][2]string{
	"services":     {"routes": {"routes", "service"}, "plugins": {"plugins", "service"}},
	"routes":       {"plugins": {"plugins", "route"}},
	"consumers":    {"mtls_auth_credentials": {"mtls_auth_credentials", "consumer"}, "acls": {"acls", "consumer"}, "plugins": {"plugins", "consumer"}},
	"upstreams":    {"targets": {"targets", "upstream"}},
	"certificates": {},
}

// declEntity inserts one entity and its nested children; parent, when set, is the foreign field
// and id the child must point at.
func (t *tx) declEntity(d *declErrors, path []string, kind string, in map[string]any, parent []string) {
	s := t.db.schemas[kind]
	in = maps.Clone(in)
	children := map[string][]any{}
	for child := range declNested[kind] {
		if v, ok := in[child]; ok {
			list, _ := v.([]any)
			children[child] = list
			delete(in, child)
		}
	}
	if snis, ok := in["snis"].([]any); ok && kind == "certificates" && len(snis) > 0 &&
		!slices.ContainsFunc(snis, func(v any) bool { _, isMap := v.(map[string]any); return !isMap }) {
		// Nested SNI records ({name, id}) are SNI entities of their own, ids kept, as Kong's
		// declarative loader makes them; a list of names stays the certificates shorthand.
		children["snis"] = snis
		delete(in, "snis")
	}
	// References by name or id, as declarative files write them ("service: echo").
	for _, f := range s.fields {
		if f.kind != kForeign {
			continue
		}
		if ref, ok := in[f.name].(string); ok {
			key := "id"
			if !isUUID(ref) {
				key = t.db.schemas[f.ref].endpointKey
			}
			in[f.name] = map[string]any{key: ref}
		}
	}
	if parent != nil {
		in[parent[0]] = map[string]any{"id": parent[1]}
	}
	if in["id"] == nil {
		in["id"] = stableID(kind, in, s)
	}
	name, _ := in[s.endpointKey].(string)
	p, err := t.prepare(s, in, false, nil, modeInsert)
	if err == nil {
		if _, dup := t.snap.Get(s.name, p.entity["id"].(string)); dup {
			err = primaryKeyViolation(p.entity["id"].(string))
		}
	}
	if err == nil {
		err = t.store(p)
	}
	if err != nil {
		d.add(path, kind, name, declUniqueness(kind, err))
		return
	}
	id := p.entity["id"].(string)
	keys := make([]string, 0, len(children))
	for k := range children {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, child := range keys {
		spec := declNested[kind][child]
		if kind == "certificates" { // its nested snis records, taken above
			spec = [2]string{"snis", "certificate"}
		}
		for i, raw := range children[child] {
			e, ok := raw.(map[string]any)
			cpath := append(slices.Clone(path), child, strconv.Itoa(i+1))
			if !ok {
				d.add(cpath, spec[0], "", badRequest("expected a record"))
				continue
			}
			t.declEntity(d, cpath, spec[0], e, []string{spec[1], id})
		}
	}
}

// declUniqueness words a duplicate within one declarative file as Kong's loader does.
func declUniqueness(kind string, err *Error) *Error {
	switch err.Code {
	case CodePrimaryKeyViolated:
		return badRequest(fmt.Sprintf("uniqueness violation: '%s' entity with primary key set to '%s' already declared", kind, err.Fields["id"]))
	case CodeUnique:
		if len(err.Fields) == 1 {
			for k, v := range err.Fields {
				return badRequest(fmt.Sprintf("uniqueness violation: '%s' entity with %s set to '%v' already declared", kind, k, v))
			}
		}
	}
	return err
}

// stableID derives an id from the entity's endpoint key, so reloading the same file keeps ids
// (Kong's declarative loader does the same); entities without one get a random id.
func stableID(kind string, in map[string]any, s *schema) string {
	key, _ := in[s.endpointKey].(string)
	if key == "" {
		return newID()
	}
	sum := sha1.Sum([]byte("mtlsgate:" + kind + ":" + key))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	h := fmt.Sprintf("%x", sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// serveConfig is /config (kong/api/routes/config.lua): GET returns the configuration as a
// declarative document, POST replaces it (DB-less only).
func (a *API) serveConfig(r *http.Request) (int, any) {
	if !a.opts.DBLess {
		return http.StatusBadRequest, map[string]any{"message": "this endpoint is only available when Kong is configured to not use a database"}
	}
	switch r.Method {
	case http.MethodGet:
		return http.StatusOK, map[string]any{"config": a.exportYAML()}
	case http.MethodPost:
		return a.postConfig(r)
	}
	return methodNotAllowed()
}

// postConfig is POST /config. Its request takes, as Kong's does, the document itself (a JSON
// object with _format_version), or a "config" key holding it as a JSON or YAML string (JSON,
// form or multipart), or the raw body (YAML or JSON); nothing → 400 "expected a declarative
// configuration". ?check_hash=1 answers 304 when the document is the one loaded;
// ?flatten_errors=1 adds flattened_errors to a rejection. Success → 201 with the entities by
// type, each keyed by id.
func (a *API) postConfig(r *http.Request) (int, any) {
	q := r.URL.Query()
	doc, raw, derr := readConfigRequest(r)
	if derr != nil {
		return errBody(derr)
	}
	if doc == nil {
		var perr error
		if doc, perr = ParseDeclarative(raw); perr != nil {
			return errBody(declarativeError(perr.Error()))
		}
	} else {
		raw, _ = json.Marshal(doc) // a decoded JSON document marshals again, keys sorted
	}
	sum := md5.Sum(raw)
	hash := hex.EncodeToString(sum[:])
	if q.Get("check_hash") == "1" && a.configHash.Load() != nil && *a.configHash.Load() == hash {
		return http.StatusNotModified, nil
	}
	if e := a.db.LoadDeclarative(doc); e != nil {
		if !truthy(q.Get("flatten_errors")) {
			e.extra = nil
		}
		return errBody(e)
	}
	a.configHash.Store(&hash)
	return http.StatusCreated, a.exportByID()
}

// truthy is config.lua's reading of flatten_errors: true, 1, on or yes.
func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "true", "1", "on", "yes":
		return true
	}
	return false
}

// readConfigRequest returns the declarative document of a POST /config, either already decoded
// (a JSON body with _format_version) or as raw bytes to parse.
func readConfigRequest(r *http.Request) (map[string]any, []byte, *Error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" || mt == "application/x-www-form-urlencoded" {
		in, _, err := decodeBody(r)
		if err != nil {
			return nil, nil, err
		}
		if s, ok := in["config"].(string); ok && s != "" {
			return nil, []byte(s), nil
		}
		return nil, nil, badRequest("expected a declarative configuration")
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return nil, nil, badRequest("Cannot read request body: " + err.Error())
	}
	if mt == "application/json" {
		var obj map[string]any
		if json.Unmarshal(b, &obj) == nil {
			if _, ok := obj["_format_version"]; ok {
				return normalizeYAML(obj).(map[string]any), nil, nil
			}
			if s, ok := obj["config"].(string); ok {
				b = []byte(s)
			}
		}
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil, badRequest("expected a declarative configuration")
	}
	return nil, b, nil
}

// exportByID is the answer to a successful POST /config: every entity type that has entities,
// each a map from id to entity.
func (a *API) exportByID() map[string]any {
	snap := a.db.Snapshot()
	out := map[string]any{}
	for name := range a.db.schemas {
		byID := map[string]any{}
		for _, e := range snap.List(name) {
			byID[e["id"].(string)] = a.renderIn(snap, name, e)
		}
		if len(byID) > 0 {
			out[name] = byID
		}
	}
	return out
}

func (a *API) exportEntities() map[string]any {
	snap := a.db.Snapshot()
	out := map[string]any{}
	for name := range a.db.schemas {
		list := []any{}
		for _, e := range snap.List(name) {
			list = append(list, a.renderIn(snap, name, e))
		}
		out[name] = list
	}
	return out
}

func (a *API) exportYAML() string {
	doc := map[string]any{"_format_version": "3.0", "_transform": false}
	for k, v := range a.exportEntities() {
		if list := v.([]any); len(list) > 0 {
			doc[k] = list
		}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		j, _ := json.Marshal(doc)
		return string(j)
	}
	return string(b)
}
