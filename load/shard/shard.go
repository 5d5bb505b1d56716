// Package shard runs one load attack from many machines and merges what they measured (L-5): it
// splits a plan into n shards (rate, request bound and a disjoint slice of the population, the
// shards of a Kubernetes Indexed Job telling themselves apart by JOB_COMPLETION_INDEX), writes
// each shard's result in a form that merges exactly (HdrHistogram latencies, counts, fixed time
// buckets), and merges the n results into one load.Result, refusing results that do not belong
// together.
package shard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/load"
)

// The environment a shard reads when --shard is not given: Kubernetes sets IndexEnv in every pod
// of an Indexed Job; CountEnv must equal the Job's completions; StartEnv is the shared start.
const (
	IndexEnv = "JOB_COMPLETION_INDEX"
	CountEnv = "MTLSGATE_SHARDS"
	StartEnv = "MTLSGATE_START_AT"
)

// MaxShards bounds the shard count, so a typo cannot split an attack into dust.
const MaxShards = 1000

// Shard is one of Count parts of an attack; Index counts from 0, as JOB_COMPLETION_INDEX does.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// String is "i/n", as --shard takes it.
func (s Shard) String() string { return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count) }

// Valid checks 0 ≤ Index < Count ≤ MaxShards.
func (s Shard) Valid() error {
	if s.Count < 1 || s.Count > MaxShards {
		return fmt.Errorf("shard count %d: must be between 1 and %d", s.Count, MaxShards)
	}
	if s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard index %d: must be between 0 and %d (indexes count from 0, as JOB_COMPLETION_INDEX does)", s.Index, s.Count-1)
	}
	return nil
}

// Parse reads "i/n" (shard i of n, i from 0).
func Parse(v string) (Shard, error) {
	a, b, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: write i/n, e.g. 0/3 for the first of three shards", v)
	}
	s := Shard{Index: i, Count: n}
	if err := s.Valid(); err != nil {
		return Shard{}, fmt.Errorf("shard %q: %w", v, err)
	}
	return s, nil
}

// FromEnv reads the shard from IndexEnv and CountEnv; ok is false when neither is set. One
// without the other is an error: a pod of an Indexed Job that does not know the shard count
// cannot take its share.
func FromEnv(getenv func(string) string) (s Shard, ok bool, err error) {
	idx, cnt := getenv(IndexEnv), getenv(CountEnv)
	switch {
	case idx == "" && cnt == "":
		return Shard{}, false, nil
	case cnt == "":
		return Shard{}, false, fmt.Errorf("%s=%s is set but %s is not: set it to the Job's completions", IndexEnv, idx, CountEnv)
	case idx == "":
		return Shard{}, false, fmt.Errorf("%s=%s is set but %s is not (Kubernetes sets it in an Indexed Job; elsewhere use --shard i/n)", CountEnv, cnt, IndexEnv)
	}
	s, err = Parse(idx + "/" + cnt)
	if err != nil {
		return Shard{}, false, fmt.Errorf("%s and %s: %w", IndexEnv, CountEnv, err)
	}
	return s, true, nil
}

// Part is one class's share of the population, in weight units: the whole attack's population
// is every class's weight times the shard count, and each shard holds the same number of units.
type Part struct {
	Class string `json:"class"`
	Units int    `json:"units"`
	// Owned marks a class one shard must hold whole: an event changes its identity mid-run (a
	// revocation), so its time-to-enforce is measured where all of its requests are.
	Owned bool `json:"owned,omitempty"`
}

// Split is one shard's part of an attack: the plan it runs and what the merge checks.
type Split struct {
	Shard Shard     `json:"shard"`
	Plan  load.Plan `json:"-"`
	// Hash identifies the whole attack; every shard of it has the same.
	Hash string `json:"plan_hash"`
	// Population is the whole attack's units per class; Slice this shard's.
	Population []Part `json:"population"`
	Slice      []Part `json:"slice"`
	// Pacer and MaxRequests are the whole attack's.
	Pacer       load.Pacer `json:"pacer"`
	MaxRequests uint64     `json:"max_requests"`
}

// Plan splits the whole attack p into shard s's part:
//   - the rate (and a ramp's slope, a sine's amplitude) divided by the shard count;
//   - the request bound divided, the remainder going to the first shards, so the bounds add up;
//   - a disjoint slice of the population: each class's weight counts Count units, every shard
//     takes Sum(weights) of them, filled in order with an event's class first, so that class is
//     whole in one shard (it must fit in one shard's share) and its event runs there only.
//
// Every shard must be given the same p; the hash says whether they were.
func Plan(p load.Plan, s Shard) (*Split, error) {
	if err := s.Valid(); err != nil {
		return nil, err
	}
	hash, err := Hash(p, s.Count)
	if err != nil {
		return nil, err
	}
	owned := map[string]bool{}
	for _, e := range p.Events {
		owned[e.Class] = true
	}
	var order []load.Class
	total := 0
	for _, pass := range []bool{true, false} {
		for _, c := range p.Classes {
			if c.Weight > 0 && owned[c.Name] == pass {
				order = append(order, c)
				total += c.Weight
			}
		}
	}
	if total == 0 {
		return nil, errors.New("split plan: no class has a weight > 0")
	}
	if p.MaxRequests < uint64(s.Count) {
		return nil, fmt.Errorf("split plan: max requests %d is fewer than the %d shards", p.MaxRequests, s.Count)
	}
	// Water-filling: shard j holds units [j·total, (j+1)·total) of the classes laid end to end.
	lo, hi := s.Index*total, (s.Index+1)*total
	out := &Split{Shard: s, Hash: hash, Pacer: p.Pacer, MaxRequests: p.MaxRequests}
	weights := map[string]int{}
	at := 0
	for _, c := range order {
		units := c.Weight * s.Count
		out.Population = append(out.Population, Part{Class: c.Name, Units: units, Owned: owned[c.Name]})
		from, to := max(at, lo), min(at+units, hi)
		if owned[c.Name] && at/total != (at+units-1)/total {
			return nil, fmt.Errorf("split plan: class %q has weight %d, more than one shard's share (%d of %d shards' %d units): an event's class must fit whole in one shard; lower its weight or use fewer shards",
				c.Name, c.Weight, total, s.Count, total*s.Count)
		}
		if to > from {
			out.Slice = append(out.Slice, Part{Class: c.Name, Units: to - from, Owned: owned[c.Name]})
			weights[c.Name] = to - from
		}
		at += units
	}

	sp := p
	sp.Classes = nil
	for _, c := range p.Classes {
		if w := weights[c.Name]; w > 0 {
			c.Weight = w
			sp.Classes = append(sp.Classes, c)
		}
	}
	sp.Events = nil
	for _, e := range p.Events {
		if weights[e.Class] > 0 {
			sp.Events = append(sp.Events, e)
		}
	}
	n := float64(s.Count)
	sp.Pacer.Rate, sp.Pacer.Slope, sp.Pacer.Amplitude = p.Pacer.Rate/n, p.Pacer.Slope/n, p.Pacer.Amplitude/n
	sp.MaxRequests = p.MaxRequests / uint64(s.Count)
	if uint64(s.Index) < p.MaxRequests%uint64(s.Count) {
		sp.MaxRequests++
	}
	out.Plan = sp
	return out, nil
}

// Hash identifies an attack: target, profile, mode, pacer, bounds, every class (with its
// certificate's fingerprint) and event, the shard count and the shared start. Shards given
// different plans, or different identities, get different hashes.
func Hash(p load.Plan, count int) (string, error) {
	type class struct {
		Name, Identity, Expect string
		Weight                 int
		MaxVersion             uint16
		Cert                   string
	}
	type event struct {
		Name, Class, Expect string
		At, Grace           time.Duration
	}
	h := struct {
		Target, Profile, Mode, ServerName string
		Pacer                             load.Pacer
		Duration, Timeout                 time.Duration
		MaxRequests                       uint64
		Classes                           []class
		Events                            []event
		Shards                            int
		StartAt                           string
	}{Target: p.Target, Profile: p.Profile, Mode: string(p.Mode), ServerName: p.ServerName, Pacer: p.Pacer, Duration: p.Duration,
		Timeout: p.Timeout, MaxRequests: p.MaxRequests, Shards: count}
	if !p.StartAt.IsZero() {
		h.StartAt = p.StartAt.UTC().Format(time.RFC3339Nano)
	}
	for _, c := range p.Classes {
		cl := class{Name: c.Name, Identity: c.Identity, Expect: c.Expect.String(), Weight: c.Weight, MaxVersion: c.MaxVersion}
		if c.Certificate != nil && len(c.Certificate.Certificate) > 0 {
			sum := sha256.Sum256(c.Certificate.Certificate[0])
			cl.Cert = hex.EncodeToString(sum[:])
		}
		h.Classes = append(h.Classes, cl)
	}
	for _, e := range p.Events {
		h.Events = append(h.Events, event{Name: e.Name, Class: e.Class, Expect: e.Expect.String(), At: e.At, Grace: e.Grace})
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("hash plan: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// Run runs shard s of the whole attack p, as `mtlsgate load --shard` does in each pod, and
// returns its result file (its Result still holds every sample). An interrupted shard returns
// no file: part of a shard is not part of the attack.
func Run(ctx context.Context, p load.Plan, s Shard) (*File, error) {
	sp, err := Plan(p, s)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", s, err)
	}
	r, err := load.Run(ctx, sp.Plan)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", s, err)
	}
	f, err := New(sp, r)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", s, err)
	}
	return f, nil
}
