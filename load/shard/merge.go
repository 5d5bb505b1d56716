package shard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mtlsgate/mtlsgate/load"
)

// maxViolationSamples bounds the violations the merged result describes in detail.
const maxViolationSamples = 20

// ReadAll reads the shard results the arguments name: files, or directories whose shard-*.json
// and *.log files are read (a log holding the framed result `kubectl logs` printed).
func ReadAll(args []string) ([]*File, []string, error) {
	if len(args) == 0 {
		return nil, nil, errors.New("merge: name the shard results (files, or directories holding shard-*.json or *.log)")
	}
	var paths []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
		if !st.IsDir() {
			paths = append(paths, a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
		found := 0
		for _, e := range entries {
			n := e.Name()
			if e.Type().IsRegular() && ((strings.HasPrefix(n, "shard-") && strings.HasSuffix(n, ".json")) || strings.HasSuffix(n, ".log")) {
				paths = append(paths, filepath.Join(a, n))
				found++
			}
		}
		if found == 0 {
			return nil, nil, fmt.Errorf("merge: directory %s holds no shard result (shard-*.json or *.log)", a)
		}
	}
	files := make([]*File, len(paths))
	for i, p := range paths {
		f, err := Read(p)
		if err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
		files[i] = f
	}
	return files, paths, nil
}

// Merge checks that files (read from names) are every shard of one attack, each exactly once,
// and merges them into the whole attack's result: counts summed, latency histograms merged
// (percentiles within 0.1%), time series aligned on the shared start, each event's revocation
// taken from the shard that ran it. Anything that does not add up is refused, naming the file.
func Merge(files []*File, names []string) (*load.Result, error) {
	if len(files) == 0 || len(files) != len(names) {
		return nil, errors.New("merge: no shard results")
	}
	first := files[0]
	byIndex := map[int]int{}
	for i, f := range files {
		if f.Hash != first.Hash {
			return nil, fmt.Errorf("merge: shard result %s is of another attack: plan hash %s, but %s has %s (same target, population, pacer, bounds, shard count and start for every shard)",
				names[i], f.Hash, names[0], first.Hash)
		}
		if f.Shard.Count != first.Shard.Count {
			return nil, fmt.Errorf("merge: shard result %s is shard %s, but %s is of %d shards", names[i], f.Shard, names[0], first.Shard.Count)
		}
		if j, dup := byIndex[f.Shard.Index]; dup {
			return nil, fmt.Errorf("merge: shard result %s is shard %s again (already read from %s): each shard once", names[i], f.Shard, names[j])
		}
		byIndex[f.Shard.Index] = i
	}
	var missing []string
	for k := range first.Shard.Count {
		if _, ok := byIndex[k]; !ok {
			missing = append(missing, Shard{k, first.Shard.Count}.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("merge: shard %s missing (read %s): a merge of part of the shards would under-report the attack",
			strings.Join(missing, ", "), strings.Join(names, ", "))
	}
	// Shard order, so the merge does not depend on argument order.
	ordered := make([]*File, len(files))
	onames := make([]string, len(files))
	for k := range ordered {
		ordered[k], onames[k] = files[byIndex[k]], names[byIndex[k]]
	}
	if err := checkSlices(ordered, onames); err != nil {
		return nil, err
	}
	return merge(ordered)
}

// checkSlices verifies the shards' slices partition the population: every unit in exactly one
// shard, an owned class in one shard only.
func checkSlices(files []*File, names []string) error {
	want := map[string]int{}
	for _, p := range files[0].Population {
		want[p.Class] = p.Units
	}
	got := map[string]int{}
	holder := map[string]string{}
	for i, f := range files {
		for _, p := range f.Slice {
			if _, ok := want[p.Class]; !ok {
				return fmt.Errorf("merge: shard result %s: class %q is not in the population", names[i], p.Class)
			}
			if p.Owned {
				if h, ok := holder[p.Class]; ok {
					return fmt.Errorf("merge: shard result %s: class %q must be whole in one shard, and %s holds it too", names[i], p.Class, h)
				}
				holder[p.Class] = names[i]
			}
			got[p.Class] += p.Units
		}
	}
	for c, n := range want {
		if got[c] != n {
			return fmt.Errorf("merge: the shards hold %d of class %q's %d population units: their slices overlap or leave a gap", got[c], c, n)
		}
	}
	return nil
}

// merge builds the whole attack's result from checked shard results in shard order.
func merge(files []*File) (*load.Result, error) {
	r0 := files[0].Result
	out := &load.Result{Target: r0.Target, Profile: r0.Profile, Mode: r0.Mode, Pacer: files[0].Pacer, PacerText: files[0].Pacer.String(),
		Duration: r0.Duration, MaxRequests: files[0].MaxRequests}
	var end time.Time
	for i, f := range files {
		r := f.Result
		if i == 0 || r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		if e := r.Started.Add(r.Elapsed); e.After(end) {
			end = e
		}
	}
	out.Elapsed = end.Sub(out.Started)

	total := newHist()
	classHist := map[string]*hdrhistogram.Histogram{}
	classIdx := map[string]int{}
	var totals []vegeta.Metrics
	classMetrics := map[string][]vegeta.Metrics{}
	labels := map[string]uint16{}
	label := func(s string) uint16 {
		if i, ok := labels[s]; ok {
			return i
		}
		labels[s] = uint16(len(out.Labels))
		out.Labels = append(out.Labels, s)
		return labels[s]
	}
	weights := map[string]int{}
	for _, p := range files[0].Population {
		weights[p.Class] = p.Units / files[0].Shard.Count
	}
	for _, f := range files {
		r := f.Result
		h, err := decode(f.Latency)
		if err != nil {
			return nil, err // checked on reading
		}
		total.Merge(h)
		out.Requests += r.Requests
		out.Expected += r.Expected
		out.Tolerated += r.Tolerated
		out.Violations += r.Violations
		out.TransportErrors += r.TransportErrors
		out.Handshakes += r.Handshakes
		out.Resumed += r.Resumed
		out.ValidLost += r.ValidLost
		totals = append(totals, r.Total)
		remap := make([]uint16, len(r.Labels))
		for i, l := range r.Labels {
			remap[i] = label(l)
		}
		local := make([]int, len(r.Classes))
		for i, c := range r.Classes {
			k, ok := classIdx[c.Name]
			if !ok {
				k = len(out.Classes)
				classIdx[c.Name] = k
				out.Classes = append(out.Classes, load.ClassResult{Name: c.Name, Identity: c.Identity, Weight: weights[c.Name], Expect: c.Expect,
					ExpectAfter: c.ExpectAfter, Observed: map[string]uint64{}})
				classHist[c.Name] = newHist()
			}
			local[i] = k
			m := &out.Classes[k]
			m.Requests += c.Requests
			m.Expected += c.Expected
			m.Tolerated += c.Tolerated
			m.Violations += c.Violations
			m.Handshakes += c.Handshakes
			m.Resumed += c.Resumed
			for l, n := range c.Observed {
				m.Observed[l] += n
			}
			ch, err := decode(f.ClassLatency[c.Name])
			if err != nil {
				return nil, err
			}
			classHist[c.Name].Merge(ch)
			classMetrics[c.Name] = append(classMetrics[c.Name], c.Metrics)
		}
		shift := r.Started.Sub(out.Started)
		for _, s := range f.Samples {
			if int(s.Class) >= len(local) || int(s.Observed) >= len(remap) {
				continue
			}
			s.Offset += shift
			s.Class, s.Observed = uint16(local[s.Class]), remap[s.Observed]
			out.Samples = append(out.Samples, s)
		}
		for _, v := range r.ViolationSamples {
			if len(out.ViolationSamples) < maxViolationSamples {
				v.Offset += shift
				out.ViolationSamples = append(out.ViolationSamples, v)
			}
		}
		out.Revocations = append(out.Revocations, r.Revocations...)
		if err := addTimeline(&out.Timeline, r.Timeline, shift); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out.Samples, func(i, j int) bool { return out.Samples[i].Offset < out.Samples[j].Offset })
	out.Total = mergeMetrics(totals, total)
	for i := range out.Classes {
		c := &out.Classes[i]
		c.Metrics = mergeMetrics(classMetrics[c.Name], classHist[c.Name])
	}
	if out.Requests > 0 {
		out.ErrorRate = float64(out.TransportErrors) / float64(out.Requests)
	}
	out.Rate = out.Total.Rate
	if span := out.Total.Duration + out.Total.Wait; span > 0 {
		out.HandshakeRate = float64(out.Handshakes) / span.Seconds()
	}
	return out, nil
}

// addTimeline adds a shard's buckets to the merged timeline, shifted by when the shard started
// after the earliest one (shards of one attack share a bucket width: it follows the duration).
func addTimeline(dst *load.Timeline, src load.Timeline, shift time.Duration) error {
	if dst.Width == 0 {
		dst.Width = src.Width
	}
	if src.Width != dst.Width {
		return fmt.Errorf("merge: time buckets of %s and %s: shards of one attack share the width", src.Width, dst.Width)
	}
	if src.Width <= 0 {
		return nil
	}
	off := int((shift + src.Width/2) / src.Width)
	add := func(d *[]uint64, s []uint64) {
		if n := off + len(s); n > len(*d) {
			*d = append(*d, make([]uint64, n-len(*d))...)
		}
		for i, v := range s {
			(*d)[off+i] += v
		}
	}
	add(&dst.Requests, src.Requests)
	add(&dst.Handshakes, src.Handshakes)
	add(&dst.Violations, src.Violations)
	return nil
}

// mergeMetrics combines vegeta's metrics of the shards: sums and extremes exactly, percentiles
// from the merged histogram (vegeta's own estimates cannot be combined).
func mergeMetrics(ms []vegeta.Metrics, h *hdrhistogram.Histogram) vegeta.Metrics {
	var out vegeta.Metrics
	out.StatusCodes = map[string]int{}
	out.Errors = []string{}
	seen := map[string]bool{}
	var success uint64
	for _, m := range ms {
		if m.Requests == 0 {
			continue
		}
		out.Requests += m.Requests
		out.BytesIn.Total += m.BytesIn.Total
		out.BytesOut.Total += m.BytesOut.Total
		out.Latencies.Total += m.Latencies.Total
		out.Latencies.Max = max(out.Latencies.Max, m.Latencies.Max)
		if out.Latencies.Min == 0 || (m.Latencies.Min > 0 && m.Latencies.Min < out.Latencies.Min) {
			out.Latencies.Min = m.Latencies.Min
		}
		if out.Earliest.IsZero() || m.Earliest.Before(out.Earliest) {
			out.Earliest = m.Earliest
		}
		if m.Latest.After(out.Latest) {
			out.Latest = m.Latest
		}
		if m.End.After(out.End) {
			out.End = m.End
		}
		for code, n := range m.StatusCodes {
			out.StatusCodes[code] += n
			if c, err := strconv.Atoi(code); err == nil && c >= 200 && c < 400 {
				success += uint64(n)
			}
		}
		for _, e := range m.Errors {
			if !seen[e] {
				seen[e] = true
				out.Errors = append(out.Errors, e)
			}
		}
	}
	if out.Requests == 0 {
		return out
	}
	out.Rate, out.Throughput = float64(out.Requests), float64(success)
	out.Duration = out.Latest.Sub(out.Earliest)
	out.Wait = out.End.Sub(out.Latest)
	if secs := out.Duration.Seconds(); secs > 0 {
		out.Rate /= secs
		out.Throughput /= (out.Duration + out.Wait).Seconds()
	}
	out.BytesIn.Mean = float64(out.BytesIn.Total) / float64(out.Requests)
	out.BytesOut.Mean = float64(out.BytesOut.Total) / float64(out.Requests)
	out.Success = float64(success) / float64(out.Requests)
	out.Latencies.Mean = time.Duration(float64(out.Latencies.Total) / float64(out.Requests))
	if h.TotalCount() > 0 {
		out.Latencies.P50 = quantile(h, 50)
		out.Latencies.P90 = quantile(h, 90)
		out.Latencies.P95 = quantile(h, 95)
		out.Latencies.P99 = quantile(h, 99)
	}
	return out
}

// quantile is the histogram's value at a percentile, as the highest value equivalent to it
// (so a percentile never reads below the latencies it stands for).
func quantile(h *hdrhistogram.Histogram, p float64) time.Duration {
	return time.Duration(h.ValueAtPercentile(p))
}

// Report summarises a merge for the terminal: which shards, how late each started.
func Report(files []*File) string {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "  shard %-7s %8d requests %6d violations, started %s after the shared start\n", f.Shard, f.Result.Requests,
			f.Result.Violations, f.StartLag.Round(time.Millisecond))
	}
	return b.String()
}
