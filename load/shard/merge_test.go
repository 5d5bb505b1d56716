package shard_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/scenario"
	"github.com/mtlsgate/mtlsgate/load/shard"
)

// TestMergedShardsEqualOneProcess runs one attack on the embedded reference twice: once in one
// process, once as 3 shards (in-process, sharing a start time), whose result files are written,
// read back and merged. The merged counts equal the single run's, class by class and outcome by
// outcome; the merged percentiles are those of all the shards' latencies within the histogram's
// precision. Then the merge refuses every kind of bad input, naming the file.
func TestMergedShardsEqualOneProcess(t *testing.T) {
	ctx := context.Background()
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := scenario.StartKong(ctx, harness.Reference(), pki, scenario.KongOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Sys.Stop(context.Background()) })
	// Weights 6:1:1:1:1 and a bound of 120 = 3 shards × 4 periods of 10: every schedule ends on a
	// whole period, so the class counts are exact.
	classes, err := k.Population(map[string]int{scenario.Valid: 6, scenario.Missing: 1, scenario.Untrusted: 1, scenario.Expired: 1,
		scenario.TLS12: 1, scenario.SelfSigned: 0, scenario.Revoked: 0})
	if err != nil {
		t.Fatal(err)
	}
	// Keep-alive and a modest rate: the machine may be shared, and the subject is the counting.
	whole := load.Plan{Target: k.URL, Profile: scenario.ProfileKong, Classes: classes, Mode: load.KeepAlive,
		Pacer: load.Pacer{Rate: 120}, Duration: 30 * time.Second, MaxRequests: 120, Timeout: 20 * time.Second, MaxWorkers: 32}

	one, err := load.Run(ctx, whole)
	if err != nil {
		t.Fatal(err)
	}

	const n = 3
	whole.StartAt = time.Now().Add(300 * time.Millisecond)
	dir := t.TempDir()
	results := make([]*load.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			f, err := shard.Run(ctx, whole, shard.Shard{Index: i, Count: n})
			if err == nil {
				results[i] = f.Result
				_, err = f.WriteDir(dir)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	files, names, err := shard.ReadAll([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	merged, err := shard.Merge(files, names)
	if err != nil {
		t.Fatal(err)
	}

	if merged.Requests != 120 || one.Requests != 120 || merged.Violations != 0 || one.Violations != 0 {
		t.Fatalf("merged %d requests (%d violations: %+v), one process %d (%d: %+v): both runs must reach the bound cleanly",
			merged.Requests, merged.Violations, merged.ViolationSamples, one.Requests, one.Violations, one.ViolationSamples)
	}
	byName := func(r *load.Result) map[string]load.ClassResult {
		m := map[string]load.ClassResult{}
		for _, c := range r.Classes {
			m[c.Name] = c
		}
		return m
	}
	mc, oc := byName(merged), byName(one)
	if len(mc) != len(oc) {
		t.Errorf("merged classes %v, one process %v", mc, oc)
	}
	for name, o := range oc {
		m := mc[name]
		if m.Requests != o.Requests || m.Expected != o.Expected || m.Violations != o.Violations || m.Weight != o.Weight {
			t.Errorf("class %s: merged %d requests (%d expected, weight %d), one process %d (%d, weight %d)", name, m.Requests, m.Expected, m.Weight,
				o.Requests, o.Expected, o.Weight)
		}
		for l, c := range o.Observed {
			if m.Observed[l] != c {
				t.Errorf("class %s observed %s: merged %d, one process %d", name, l, m.Observed[l], c)
			}
		}
		if m.Metrics.Requests != o.Metrics.Requests {
			t.Errorf("class %s: merged metrics count %d requests, one process %d", name, m.Metrics.Requests, o.Metrics.Requests)
		}
	}
	for code, c := range one.Total.StatusCodes {
		if merged.Total.StatusCodes[code] != c {
			t.Errorf("status %s: merged %d, one process %d", code, merged.Total.StatusCodes[code], c)
		}
	}
	var sum uint64
	for _, v := range merged.Timeline.Requests {
		sum += v
	}
	if sum != merged.Requests {
		t.Errorf("the merged time series counts %d requests of %d", sum, merged.Requests)
	}

	// Percentiles: the merged histogram is the histogram of every shard's latencies, and within
	// 0.1% of the exact percentile of them.
	var all []time.Duration
	h := hdrhistogram.New(int64(time.Microsecond), int64(time.Hour), 3)
	for _, r := range results {
		for _, s := range r.Samples {
			all = append(all, s.Latency)
			_ = h.RecordValue(int64(s.Latency))
		}
	}
	slices.Sort(all)
	for _, c := range []struct {
		p   float64
		got time.Duration
	}{{50, merged.Total.Latencies.P50}, {90, merged.Total.Latencies.P90}, {99, merged.Total.Latencies.P99}} {
		if want := time.Duration(h.ValueAtPercentile(c.p)); c.got != want {
			t.Errorf("p%v: merged %s, histogram of all the shards' latencies %s", c.p, c.got, want)
		}
		exact := all[max(0, int(float64(len(all))*c.p/100+0.999999)-1)]
		if d := c.got - exact; d < -exact/1000-time.Microsecond || d > exact/1000+time.Microsecond {
			t.Errorf("p%v: merged %s, exact %s: beyond the histogram's 0.1%%", c.p, c.got, exact)
		}
	}
	if merged.Total.Latencies.Max != all[len(all)-1] || merged.Total.Latencies.Min != all[0] {
		t.Errorf("merged min/max %s/%s, exact %s/%s", merged.Total.Latencies.Min, merged.Total.Latencies.Max, all[0], all[len(all)-1])
	}

	t.Run("bad input is refused, naming the file", func(t *testing.T) { refusesBadInput(t, dir) })
}

func refusesBadInput(t *testing.T, dir string) {
	paths, err := filepath.Glob(filepath.Join(dir, "shard-*.json"))
	if err != nil || len(paths) != 3 {
		t.Fatalf("shard files %v, %v", paths, err)
	}
	sort.Strings(paths)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bad := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(bad, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	j0 := read(paths[0])
	other := write("other-attack.json", []byte(strings.Replace(string(j0), `"plan_hash":"`, `"plan_hash":"0`, 1)))
	truncated := write("truncated.json", j0[:len(j0)/2])
	dup := write("copy-of-shard-0.json", j0)
	for _, c := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"another attack", []string{other, paths[1], paths[2]}, []string{other, "another attack"}},
		{"a missing shard", []string{paths[0], paths[2]}, []string{"shard 1/3 missing"}},
		{"a duplicated shard", []string{paths[0], paths[1], paths[2], dup}, []string{dup, "again", paths[0]}},
		{"a truncated file", []string{truncated, paths[1], paths[2]}, []string{truncated, "truncated"}},
		{"a directory without results", []string{t.TempDir()}, []string{"no shard result"}},
	} {
		files, names, err := shard.ReadAll(c.args)
		if err == nil {
			_, err = shard.Merge(files, names)
		}
		if err == nil {
			t.Errorf("%s: merged", c.name)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}
}
