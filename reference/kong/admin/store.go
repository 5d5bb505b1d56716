package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Snapshot is an immutable view of every entity at one moment. The gateway compiles its runtime
// from one snapshot; readers never see a half-applied change.
type Snapshot struct {
	version uint64
	tables  map[string]*table
}

type table struct {
	rows  map[string]Entity
	order []string // ids in insertion order
}

// Version increases with every committed change.
func (s *Snapshot) Version() uint64 { return s.version }

// Get returns the entity of the given type and id.
func (s *Snapshot) Get(entity, id string) (Entity, bool) {
	t := s.tables[entity]
	if t == nil {
		return nil, false
	}
	e, ok := t.rows[id]
	return e, ok
}

// List returns every entity of a type in insertion order.
func (s *Snapshot) List(entity string) []Entity {
	t := s.tables[entity]
	if t == nil {
		return nil
	}
	out := make([]Entity, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, t.rows[id])
	}
	return out
}

func (s *Snapshot) clone() *Snapshot {
	return &Snapshot{version: s.version, tables: maps.Clone(s.tables)}
}

// DB is the in-memory store behind the Admin API. Writes are serialized; every committed change
// is compiled by Apply before it is published, so the next proxied request sees it.
type DB struct {
	mu      sync.Mutex
	current atomic.Pointer[Snapshot]
	schemas map[string]*schema
	plugins map[string]*PluginSchema
	apply   func(*Snapshot) error
	now     func() time.Time
}

// Options configures a DB.
type Options struct {
	// Apply compiles a candidate snapshot; an error rejects the change and leaves the old one.
	Apply func(*Snapshot) error
	// Now is the clock for created_at and updated_at.
	Now func() time.Time
	// Plugins are the plugins the store accepts (reference/kong's registry); none means every
	// POST /plugins is refused as not enabled.
	Plugins []PluginSchema
}

// New returns an empty store, already applied.
func New(opts Options) (*DB, error) {
	plugins, err := pluginIndex(opts.Plugins)
	if err != nil {
		return nil, fmt.Errorf("register the plugins: %w", err)
	}
	db := &DB{schemas: schemas(plugins), plugins: plugins, apply: opts.Apply, now: opts.Now}
	if db.now == nil {
		db.now = time.Now
	}
	if db.apply == nil {
		db.apply = func(*Snapshot) error { return nil }
	}
	empty := &Snapshot{tables: map[string]*table{}}
	if err := db.apply(empty); err != nil {
		return nil, fmt.Errorf("apply empty configuration: %w", err)
	}
	db.current.Store(empty)
	return db, nil
}

// Snapshot returns the current configuration.
func (db *DB) Snapshot() *Snapshot { return db.current.Load() }

// PluginNames lists the plugins the store accepts.
func (db *DB) PluginNames() []string {
	names := slices.Collect(maps.Keys(db.plugins))
	slices.Sort(names)
	return names
}

// tx is one write: a private copy of the snapshot, copied table by table on first write.
type tx struct {
	db     *DB
	snap   *Snapshot
	copied map[string]bool
	now    int64
}

// write runs fn on a private copy and publishes it if fn and Apply succeed.
func (db *DB) write(fn func(t *tx) *Error) *Error {
	db.mu.Lock()
	defer db.mu.Unlock()
	t := &tx{db: db, snap: db.current.Load().clone(), copied: map[string]bool{}, now: db.now().Unix()}
	if err := fn(t); err != nil {
		return err
	}
	t.snap.version++
	if err := db.apply(t.snap); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		fe := fieldErrors{}
		fe.entity(err.Error())
		return schemaViolation(fe)
	}
	db.current.Store(t.snap)
	return nil
}

func (t *tx) table(name string) *table {
	tb := t.snap.tables[name]
	if !t.copied[name] {
		nt := &table{rows: map[string]Entity{}}
		if tb != nil {
			nt.rows = maps.Clone(tb.rows)
			nt.order = slices.Clone(tb.order)
		}
		t.snap.tables[name] = nt
		t.copied[name] = true
		tb = nt
	}
	return tb
}

func (t *tx) put(name string, e Entity) {
	tb := t.table(name)
	id := e["id"].(string)
	if _, exists := tb.rows[id]; !exists {
		tb.order = append(tb.order, id)
	}
	tb.rows[id] = e
}

func (t *tx) remove(name, id string) {
	tb := t.table(name)
	delete(tb.rows, id)
	tb.order = slices.DeleteFunc(tb.order, func(x string) bool { return x == id })
}

// lookup finds an entity by id or, when the schema has one, by its endpoint key.
func lookup(snap *Snapshot, s *schema, key string) (Entity, bool) {
	if e, ok := snap.Get(s.name, key); ok {
		return e, true
	}
	if s.endpointKey == "" || isUUID(key) {
		return nil, false
	}
	for _, e := range snap.List(s.name) {
		if e[s.endpointKey] == key {
			return e, true
		}
	}
	return nil, false
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// mode says how a write treats the fields it was not given.
type mode int

const (
	modeInsert  mode = iota // defaults for absent fields
	modeReplace             // PUT: defaults for absent fields, keep id and created_at
	modePatch               // PATCH: absent fields keep their values
)

// prepared is a validated entity ready to store.
type prepared struct {
	schema *schema
	entity Entity
	snis   []any // certificates' snis shorthand, synced after the certificate is stored
	hasSNI bool
}

// prepare runs the whole validation pipeline of one write against the transaction's snapshot.
func (t *tx) prepare(s *schema, in map[string]any, form bool, existing Entity, m mode) (*prepared, *Error) {
	if s.name == "certificates" {
		// kong/db/dao/certificates.lua checks the snis list before anything else.
		if dup := duplicated(in["snis"]); dup != "" {
			return nil, schemaViolation(fieldErrors{"snis": dup + " is duplicated"})
		}
	}
	errs := fieldErrors{}
	if s.expand != nil {
		in = s.expand(in, errs)
	}
	if s.name == "plugins" {
		name := in["name"]
		if name == nil && existing != nil {
			name = existing["name"]
		}
		if cfg, given := in["config"]; given && cfg == nil && m != modePatch {
			// A null config is validated as an empty one: its defaults, required fields and
			// entity checks all apply, so it can never switch a plugin's checks off (K-ADM-6).
			in = maps.Clone(in)
			in["config"] = map[string]any{}
		}
		bound, _, perrs := forPlugin(s, t.db.plugins, name)
		if perrs != nil {
			for k, v := range errs {
				perrs[k] = v
			}
			return nil, schemaViolation(perrs)
		}
		s = bound
	}
	if form {
		in = infer(s.fields, in)
	}
	merged := in
	if m == modePatch {
		for k := range in {
			if s.field(k) == nil {
				errs.add(k, "unknown field")
			}
		}
		merged = mergePatch(s.fields, existing, in)
	}
	e, verrs := validateRecord(s.fields, merged, m != modePatch)
	for k, v := range verrs {
		if _, dup := errs[k]; !dup {
			errs[k] = v
		}
	}
	// auto fields
	switch {
	case existing != nil:
		e["id"] = existing["id"]
		if ca, ok := existing["created_at"]; ok {
			e["created_at"] = ca
		}
	case in["id"] != nil:
		if id, ok := in["id"].(string); !ok || !isUUID(id) {
			errs.add("id", "expected a valid UUID")
		} else {
			e["id"] = id
		}
	default:
		e["id"] = newID()
	}
	if s.field("created_at") != nil && e["created_at"] == nil {
		e["created_at"] = t.now
	}
	if s.field("updated_at") != nil {
		e["updated_at"] = t.now
	}
	if len(errs) == 0 && s.check != nil {
		s.check(e, errs)
	}
	if len(errs) > 0 {
		return nil, schemaViolation(errs)
	}
	p := &prepared{schema: s, entity: e}
	if s.name == "certificates" {
		_, given := in["snis"]
		p.snis, _ = e["snis"].([]any)
		p.hasSNI = given || m != modePatch
		delete(e, "snis")
	}
	if s.name == "ca_certificates" {
		certs, _ := parseCerts(e["cert"].(string))
		sum := sha256.Sum256(certs[0].Raw)
		e["cert_digest"] = hex.EncodeToString(sum[:])
	}
	if err := t.resolveForeign(s, e); err != nil {
		return nil, err
	}
	if err := t.checkReferences(s, e); err != nil {
		return nil, err
	}
	if err := t.checkUnique(s, e); err != nil {
		return nil, err
	}
	return p, nil
}

// duplicated returns the first name a snis list holds twice, or "".
func duplicated(v any) string {
	list, _ := v.([]any)
	seen := make(map[any]bool, len(list))
	for _, n := range list {
		if !comparable(n) {
			continue
		}
		if seen[n] {
			return fmt.Sprint(n)
		}
		seen[n] = true
	}
	return ""
}

// resolveForeign checks every foreign key, turning {name: …} or {username: …} into {id: …}.
func (t *tx) resolveForeign(s *schema, e Entity) *Error {
	for _, f := range s.fields {
		if f.kind != kForeign || e[f.name] == nil {
			continue
		}
		ref := t.db.schemas[f.ref]
		key := e[f.name].(map[string]any)
		var target Entity
		var ok bool
		if id, has := key["id"].(string); has {
			target, ok = t.snap.Get(f.ref, id)
		} else if v, has := key[ref.endpointKey].(string); has && ref.endpointKey != "" {
			if target, ok = lookup(t.snap, ref, v); !ok {
				return unresolved(f.name, ref.endpointKey, v, f.ref)
			}
		} else {
			return schemaViolation(fieldErrors{f.name: map[string]any{"id": "missing primary key"}})
		}
		if !ok {
			return foreignKeyViolation(f.name, f.ref, key)
		}
		e[f.name] = map[string]any{"id": target["id"]}
	}
	return nil
}

// checkReferences verifies arrays of CA certificate ids, which Kong's schemas hold as plain
// UUIDs: a missing CA is rejected at write time rather than failing requests later.
func (t *tx) checkReferences(s *schema, e Entity) *Error {
	check := func(ids []any) string {
		for _, id := range ids {
			if _, ok := t.snap.Get("ca_certificates", id.(string)); !ok {
				return fmt.Sprintf("CA Certificate '%s' does not exist", id)
			}
		}
		return ""
	}
	errs := fieldErrors{}
	if ids, ok := e["ca_certificates"].([]any); ok && s.name == "services" {
		if msg := check(ids); msg != "" {
			errs.add("ca_certificates", msg)
		}
	}
	if s.name == "plugins" {
		if p := t.db.plugins[e["name"].(string)]; p != nil {
			cfg, _ := e["config"].(map[string]any)
			for _, ref := range p.CARefs {
				if ids, ok := cfg[ref].([]any); ok {
					if msg := check(ids); msg != "" {
						errs.nest("config", fieldErrors{ref: msg})
					}
				}
			}
		}
	}
	if len(errs) > 0 {
		return schemaViolation(errs)
	}
	return nil
}

func (t *tx) checkUnique(s *schema, e Entity) *Error {
	for _, other := range t.snap.List(s.name) {
		if other["id"] == e["id"] {
			continue
		}
		for _, f := range s.fields {
			if f.unique && e[f.name] != nil && other[f.name] == e[f.name] {
				return uniqueViolation(map[string]any{f.name: e[f.name]})
			}
		}
		for _, keys := range s.uniqueTogether {
			if slices.IndexFunc(keys, func(k string) bool { return !equalValue(e[k], other[k]) }) < 0 {
				key := map[string]any{}
				for _, k := range keys {
					key[k] = e[k]
				}
				return uniqueViolation(key)
			}
		}
	}
	return nil
}

func equalValue(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		return am["id"] == bm["id"]
	}
	return a == b
}

// store commits a prepared entity, syncing the SNIs of a certificate.
func (t *tx) store(p *prepared) *Error {
	if p.schema.name == "certificates" && p.hasSNI {
		if err := t.syncSNIs(p.entity["id"].(string), p.snis); err != nil {
			return err
		}
	}
	t.put(p.schema.name, p.entity)
	return nil
}

// syncSNIs makes the certificate's SNI entities exactly names, as Kong's certificates DAO does.
func (t *tx) syncSNIs(certID string, names []any) *Error {
	owners := map[any]any{}
	for _, sni := range t.snap.List("snis") {
		owners[sni["name"]] = RefID(sni["certificate"])
	}
	sorted := slices.Clone(names)
	slices.SortFunc(sorted, func(a, b any) int { return strings.Compare(String(a), String(b)) })
	for _, n := range sorted {
		if owner, taken := owners[n]; taken && owner != certID {
			return schemaViolation(fieldErrors{"snis": fmt.Sprintf("%s already associated with existing certificate '%s'", n, owner)})
		}
	}
	for _, sni := range t.snap.List("snis") {
		if sni["certificate"].(map[string]any)["id"] == certID && !slices.Contains(names, sni["name"]) {
			t.remove("snis", sni["id"].(string))
		}
	}
	for _, n := range names {
		if _, exists := owners[n]; exists {
			continue
		}
		t.put("snis", Entity{
			"id": newID(), "name": n, "created_at": t.now, "updated_at": t.now, "tags": nil,
			"certificate": map[string]any{"id": certID},
		})
	}
	return nil
}

// delete removes an entity after checking what refers to it: restricting references fail, cascading
// ones are removed with it.
func (t *tx) delete(s *schema, e Entity) *Error {
	id := e["id"].(string)
	for _, other := range t.db.schemas {
		for _, f := range other.fields {
			if f.kind != kForeign || f.ref != s.name {
				continue
			}
			for _, row := range t.snap.List(other.name) {
				ref, _ := row[f.name].(map[string]any)
				if ref == nil || ref["id"] != id {
					continue
				}
				if f.onDelete != "cascade" {
					return &Error{Status: http.StatusBadRequest, Code: CodeForeignKey,
						Message: fmt.Sprintf("an existing '%s' entity references this '%s' entity", other.name, s.name),
						Fields:  map[string]any{"@referenced_by": other.name}}
				}
			}
		}
	}
	if s.name == "ca_certificates" {
		for _, svc := range t.snap.List("services") {
			if ids, ok := svc["ca_certificates"].([]any); ok && slices.Contains(ids, any(id)) {
				return referencedByOthers(fmt.Sprintf("ca certificate %s is still referenced by services (id = %s)", id, svc["id"]))
			}
		}
		for _, pl := range t.snap.List("plugins") {
			p := t.db.plugins[pl["name"].(string)]
			cfg, _ := pl["config"].(map[string]any)
			for _, ref := range p.CARefs {
				if ids, ok := cfg[ref].([]any); ok && slices.Contains(ids, any(id)) {
					return referencedByOthers(fmt.Sprintf("ca certificate %s is still referenced by plugins (id = %s)", id, pl["id"]))
				}
			}
		}
	}
	for _, other := range t.db.schemas {
		for _, f := range other.fields {
			if f.kind != kForeign || f.ref != s.name || f.onDelete != "cascade" {
				continue
			}
			for _, row := range t.snap.List(other.name) {
				if ref, _ := row[f.name].(map[string]any); ref != nil && ref["id"] == id {
					if err := t.delete(other, row); err != nil {
						return err
					}
				}
			}
		}
	}
	t.remove(s.name, id)
	return nil
}
