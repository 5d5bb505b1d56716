package shard_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/shard"
)

func TestParseAndEnvironment(t *testing.T) {
	if s, err := shard.Parse("2/3"); err != nil || s != (shard.Shard{Index: 2, Count: 3}) {
		t.Errorf("Parse(2/3) = %v, %v", s, err)
	}
	for in, want := range map[string]string{"3/3": "between 0 and 2", "1": "write i/n", "0/0": "between 1", "-1/2": "between 0", "a/b": "write i/n"} {
		if _, err := shard.Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): error %v, want %q", in, err, want)
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if s, ok, err := shard.FromEnv(env(map[string]string{shard.IndexEnv: "1", shard.CountEnv: "4"})); err != nil || !ok || s.String() != "1/4" {
		t.Errorf("FromEnv: %v %v %v", s, ok, err)
	}
	if _, ok, err := shard.FromEnv(env(nil)); ok || err != nil {
		t.Errorf("FromEnv without the variables: %v %v", ok, err)
	}
	if _, _, err := shard.FromEnv(env(map[string]string{shard.IndexEnv: "1"})); err == nil || !strings.Contains(err.Error(), shard.CountEnv) {
		t.Errorf("an index without a count: %v", err)
	}
	if _, _, err := shard.FromEnv(env(map[string]string{shard.IndexEnv: "5", shard.CountEnv: "4"})); err == nil {
		t.Error("index 5 of 4 accepted")
	}
}

func plan() load.Plan {
	ok := load.Outcome{Status: 200}
	no := load.Outcome{Status: 401}
	return load.Plan{Target: "https://127.0.0.1:1/", Duration: time.Second, MaxRequests: 1000, Mode: load.Handshake,
		Pacer: load.Pacer{Kind: load.Sine, Rate: 300, Amplitude: 30, Period: time.Second},
		Classes: []load.Class{{Name: "valid", Weight: 60, Expect: ok}, {Name: "missing", Weight: 8, Expect: no}, {Name: "expired", Weight: 22, Expect: no},
			{Name: "revoked-midrun", Weight: 10, Expect: ok}},
		Events: []load.Event{{Name: "revoke", Class: "revoked-midrun", At: 500 * time.Millisecond, Expect: no,
			Apply: func(context.Context) error { return nil }}},
	}
}

// TestSplitIsDisjointAndAddsUp: the shards' slices, rates and bounds add up to the attack, and
// the event's class (the client revoked mid-run) lives in one shard, with its event.
func TestSplitIsDisjointAndAddsUp(t *testing.T) {
	p := plan()
	const n = 3
	units := map[string]int{}
	var rate, amp float64
	var bound uint64
	var hash string
	holders := 0
	for i := range n {
		sp, err := shard.Plan(p, shard.Shard{Index: i, Count: n})
		if err != nil {
			t.Fatal(err)
		}
		if hash == "" {
			hash = sp.Hash
		} else if sp.Hash != hash {
			t.Errorf("shard %d: hash %s, shard 0 has %s", i, sp.Hash, hash)
		}
		w := 0
		for _, c := range sp.Plan.Classes {
			units[c.Name] += c.Weight
			w += c.Weight
		}
		if w != 100 {
			t.Errorf("shard %d holds %d units, want 100 (every shard the same share)", i, w)
		}
		for _, c := range sp.Plan.Classes {
			if c.Name == "revoked-midrun" {
				holders++
				if len(sp.Plan.Events) != 1 || c.Weight != 30 {
					t.Errorf("shard %d holds revoked-midrun (%d units) with events %v", i, c.Weight, sp.Plan.Events)
				}
			}
		}
		if len(sp.Plan.Events) > 0 && !hasClass(sp.Plan.Classes, "revoked-midrun") {
			t.Errorf("shard %d runs an event without its class", i)
		}
		rate += sp.Plan.Pacer.Rate
		amp += sp.Plan.Pacer.Amplitude
		bound += sp.Plan.MaxRequests
	}
	for _, c := range p.Classes {
		if units[c.Name] != c.Weight*n {
			t.Errorf("class %s: %d units over the shards, want %d", c.Name, units[c.Name], c.Weight*n)
		}
	}
	if holders != 1 {
		t.Errorf("revoked-midrun is in %d shards, want 1", holders)
	}
	if rate < 299.999 || rate > 300.001 || amp < 29.999 || amp > 30.001 || bound != 1000 {
		t.Errorf("shards add up to rate %v, amplitude %v, bound %d; want 300, 30, 1000", rate, amp, bound)
	}

	q := plan()
	q.Pacer.Rate = 301
	if h, _ := shard.Hash(q, n); h == hash {
		t.Error("another rate has the same plan hash")
	}
	if h, _ := shard.Hash(p, n+1); h == hash {
		t.Error("another shard count has the same plan hash")
	}
	q = plan()
	q.Classes[3].Weight = 200
	if _, err := shard.Plan(q, shard.Shard{Index: 0, Count: 3}); err == nil || !strings.Contains(err.Error(), "must fit whole in one shard") {
		t.Errorf("an event's class larger than a shard's share: %v", err)
	}
	q = plan()
	q.MaxRequests = 2
	if _, err := shard.Plan(q, shard.Shard{Index: 0, Count: 3}); err == nil || !strings.Contains(err.Error(), "fewer than the 3 shards") {
		t.Errorf("a bound below the shard count: %v", err)
	}
}

func hasClass(cs []load.Class, name string) bool {
	for _, c := range cs {
		if c.Name == name {
			return true
		}
	}
	return false
}

// TestFrameSurvivesALogAndRefusesACutOne: a result printed to stdout comes back whole from the
// log around it; a log that lost a line or its end is refused.
func TestFrameSurvivesALogAndRefusesACutOne(t *testing.T) {
	f := fileFor(t, 1, 3)
	var b strings.Builder
	b.WriteString("load shard 1/3 …\n")
	if err := f.Frame(&b); err != nil {
		t.Fatal(err)
	}
	b.WriteString("trailing log line\n")
	dir := t.TempDir()
	good := filepath.Join(dir, "shard-1.log")
	if err := os.WriteFile(good, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := shard.Read(good)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash != f.Hash || back.Shard != f.Shard || back.Result.Requests != f.Result.Requests || back.Latency != f.Latency {
		t.Errorf("the framed result changed on the way: %+v", back.Split)
	}
	lines := strings.Split(b.String(), "\n")
	for name, text := range map[string]string{
		"no END line":  strings.Join(lines[:len(lines)-3], "\n"),
		"a lost line":  strings.Join(append(append([]string{}, lines[:3]...), lines[4:]...), "\n"),
		"changed line": strings.Replace(b.String(), lines[2], strings.Repeat("A", len(lines[2])), 1),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".log")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := shard.Read(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want a refusal naming %s", name, err, path)
		}
	}
}

// fileFor is a shard result of a small synthetic run (no traffic): three classes' samples.
func fileFor(t *testing.T, i, n int) *shard.File {
	t.Helper()
	p := plan()
	p.Events = nil
	sp, err := shard.Plan(p, shard.Shard{Index: i, Count: n})
	if err != nil {
		t.Fatal(err)
	}
	r := &load.Result{Target: p.Target, Started: time.Now(), Elapsed: time.Second, Labels: []string{"200"},
		Timeline: load.Timeline{Width: 100 * time.Millisecond, Requests: []uint64{1, 2}, Handshakes: []uint64{1, 2}, Violations: []uint64{0, 0}}}
	for k, c := range sp.Plan.Classes {
		r.Classes = append(r.Classes, load.ClassResult{Name: c.Name, Weight: c.Weight, Expect: "200", Requests: 2, Expected: 2, Observed: map[string]uint64{"200": 2}})
		for j := range 2 {
			r.Samples = append(r.Samples, load.Sample{Offset: time.Duration(j) * time.Millisecond, Latency: time.Duration(k+j+1) * time.Millisecond, Class: uint16(k)})
		}
		r.Requests += 2
		r.Expected += 2
	}
	f, err := shard.New(sp, r)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
