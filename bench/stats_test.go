package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Series
		want Summary
	}{
		{"odd", Series{3, 1, 2}, Summary{N: 3, Median: 2, Min: 1, Max: 3, Valid: true}},
		{"even", Series{4, 1, 3, 2}, Summary{N: 4, Median: 2.5, Min: 1, Max: 4, Valid: true}},
		{"failed rounds left out", Series{math.NaN(), 10, math.Inf(1), 30}, Summary{N: 2, Median: 20, Min: 10, Max: 30, Valid: true}},
		{"nothing valid", Series{math.NaN()}, Summary{}},
		{"empty", nil, Summary{}},
	} {
		if got := tc.in.Summarize(); got != tc.want {
			t.Errorf("%s: Summarize(%v) = %+v, want %+v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestRatio(t *testing.T) {
	a, b := Series{6}.Summarize(), Series{4}.Summarize()
	if r, ok := Ratio(a, b); !ok || r != 1.5 {
		t.Errorf("Ratio = %v, %v; want 1.5, true", r, ok)
	}
	if _, ok := Ratio(a, Series{0}.Summarize()); ok {
		t.Error("ratio to zero is ok; want not ok")
	}
	if _, ok := Ratio(a, Summary{}); ok {
		t.Error("ratio to an invalid summary is ok; want not ok")
	}
}

func TestBoundedPacerStopsAtMax(t *testing.T) {
	p := boundedPacer{Pacer: vegeta.Rate{Freq: 0, Per: time.Second}, max: 10}
	if _, stop := p.Pace(time.Second, 9); stop {
		t.Error("stopped before max")
	}
	if _, stop := p.Pace(0, 10); !stop {
		t.Error("did not stop at max")
	}
	p = boundedPacer{Pacer: vegeta.Rate{Freq: 10, Per: time.Second}, max: 100}
	if wait, stop := p.Pace(0, 5); stop || wait <= 0 {
		t.Errorf("constant pacer ahead of schedule: wait %s, stop %v; want a wait", wait, stop)
	}
}

func TestValidate(t *testing.T) {
	ok := Defaults()
	ok.Binary = "/bin/mtlsgate"
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no binary", func(o *Options) { o.Binary = "" }, "Binary"},
		{"unknown server", func(o *Options) { o.Servers = []string{"envoy"} }, `only: unknown server "envoy"`},
		{"twice", func(o *Options) { o.Servers = []string{Nginx, Nginx} }, "named twice"},
		{"too many conns", func(o *Options) { o.IdleConns = 70000 }, "idle-conns"},
	} {
		o := ok
		tc.edit(&o)
		err := o.Validate()
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestSimTargetPrefersTheFastestServerStillMeasured(t *testing.T) {
	srs := []*ServerResult{{Name: Kong}, {Name: Nginx, Skipped: "nginx not installed"}, {Name: HAProxy}}
	if got := simTargetOf(srs); got != HAProxy {
		t.Errorf("simTargetOf = %q, want %q (nginx was skipped)", got, HAProxy)
	}
	srs[1].Skipped = ""
	if got := simTargetOf(srs); got != Nginx {
		t.Errorf("simTargetOf = %q, want %q", got, Nginx)
	}
	if got := simTargetOf([]*ServerResult{{Name: Kong, Skipped: "no"}}); got != "" {
		t.Errorf("simTargetOf with nothing measured = %q, want \"\"", got)
	}
}
