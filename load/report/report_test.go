package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/load"
)

// sample builds a small result by hand: two classes, one violation.
func sample() *load.Result {
	r := &load.Result{Target: "https://127.0.0.1:8443/mtls", Profile: "kong", Mode: load.Handshake, PacerText: "constant 10/s",
		Duration: time.Second, MaxRequests: 10, Started: time.Unix(1767225600, 0), Elapsed: time.Second,
		Requests: 4, Expected: 3, Violations: 1, Rate: 4, Handshakes: 4, HandshakeRate: 4,
		Labels: []string{"200", `401 "TLS certificate failed verification"`},
		Classes: []load.ClassResult{
			{Name: "valid", Identity: "client", Weight: 3, Expect: "200", Requests: 3, Expected: 3, Observed: map[string]uint64{"200": 3}},
			{Name: "revoked", Identity: "client-revoked", Weight: 1, Expect: `401 "TLS certificate failed verification"`, Requests: 1, Violations: 1,
				Observed: map[string]uint64{"200": 1}},
		},
		ViolationSamples: []load.ViolationSample{{Class: "revoked", Expected: `401 "TLS certificate failed verification"`, Observed: "200"}},
		Timeline:         load.Timeline{Width: 100 * time.Millisecond, Requests: []uint64{1, 1, 1, 1}, Handshakes: []uint64{1, 1, 1, 1}, Violations: []uint64{0, 0, 1, 0}},
		Samples: []load.Sample{
			{Offset: 0, Latency: 3 * time.Millisecond, Class: 0},
			{Offset: 100 * time.Millisecond, Latency: 4 * time.Millisecond, Class: 0},
			{Offset: 200 * time.Millisecond, Latency: 30 * time.Millisecond, Class: 1, Verdict: load.Violation},
			{Offset: 300 * time.Millisecond, Latency: 5 * time.Millisecond, Class: 0},
		},
	}
	return r
}

func TestWriteDir(t *testing.T) {
	r := sample()
	gates := load.DefaultThresholds().Evaluate(r)
	dir := t.TempDir()
	if err := WriteDir(dir, r, gates); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, want := range []string{"FAIL: 1 violations in 4 requests", `<td class="l">revoked</td>`, `class="bad"`, "<polyline", "<rect", "srcdoc=", "uPlot",
		"class: revoked ERROR (violation)", "expected × observed"} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if regexp.MustCompile(`(src|href)=["']?(https?:)?//`).MatchString(page) {
		t.Error("index.html fetches from the network")
	}
	var doc Document
	b, _ := os.ReadFile(filepath.Join(dir, JSONFile))
	if err := json.Unmarshal(b, &doc); err != nil || doc.Passed || doc.Result.Violations != 1 {
		t.Errorf("load.json: %v %+v", err, doc)
	}
	junit, _ := os.ReadFile(filepath.Join(dir, JUnitFile))
	if !strings.Contains(string(junit), `failures="1"`) || !strings.Contains(string(junit), "revoked at 0s: expected 401") {
		t.Errorf("junit.xml:\n%s", junit)
	}
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	lum := func(h string) float64 {
		var rgb [3]float64
		for i := range rgb {
			v, _ := strconv.ParseUint(h[1+2*i:3+2*i], 16, 8)
			c := float64(v) / 255
			if c <= 0.03928 {
				rgb[i] = c / 12.92
			} else {
				rgb[i] = math.Pow((c+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
	}
	x, y := lum(a), lum(b)
	return (math.Max(x, y) + 0.05) / (math.Min(x, y) + 0.05)
}

// The latency-over-time plot: a distinct colour per class, readable on the chart's dark
// background; legend values that show numbers; a marker at the revocation.
func TestLatencyPlotReadable(t *testing.T) {
	r := sample()
	names := []string{"valid", "missing", "untrusted", "expired", "self-signed", "revoked", "tls12", "revoked-midrun"}
	r.Classes = nil
	for _, n := range names {
		r.Classes = append(r.Classes, load.ClassResult{Name: n, Expect: "200"})
	}
	r.Samples = nil
	for i := range names {
		r.Samples = append(r.Samples, load.Sample{Offset: time.Duration(i) * 100 * time.Millisecond, Latency: time.Duration(i+1) * time.Millisecond, Class: uint16(i)})
	}
	r.Samples = append(r.Samples, load.Sample{Offset: 900 * time.Millisecond, Latency: time.Millisecond, Class: 7, Verdict: load.Violation})
	r.Revocations = []load.RevocationResult{{Name: "revoke client-midrun", Class: "revoked-midrun", At: 400 * time.Millisecond, Applied: 420 * time.Millisecond}}
	page, err := latencyPlot(r)
	if err != nil {
		t.Fatal(err)
	}
	m := plotOpts.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no options in the plot:\n%s", page)
	}
	var opts struct{ Labels, Colors []string }
	if err := json.Unmarshal(m[1], &opts); err != nil {
		t.Fatal(err)
	}
	if len(opts.Colors) != len(opts.Labels)-1 || len(opts.Colors) != len(names)+1 {
		t.Fatalf("labels %v colours %v", opts.Labels, opts.Colors)
	}
	seen := map[string]string{}
	for i, c := range opts.Colors {
		label := opts.Labels[i+1]
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share the colour %s", other, label, c)
		}
		seen[c] = label
		if k := contrast(c, "#161b22"); k < 4 {
			t.Errorf("%s: colour %s has contrast %.1f on the dark background, want ≥ 4", label, c, k)
		}
	}
	for _, want := range []string{"formatDuration(mtlsgateValue(u, v, si, i))", "draw: [mtlsgateMarkEvents]", `"label":"revoke client-midrun applied at 420ms"`, `"x":0.42`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the plot lacks %q", want)
		}
	}
	r.Timeline = load.Timeline{Width: 100 * time.Millisecond, Requests: make([]uint64, 10), Handshakes: make([]uint64, 10), Violations: make([]uint64, 10)}
	if svg := string(throughput(r)); !strings.Contains(svg, `stroke-dasharray="6 4"><title>revoke client-midrun applied at 420ms</title>`) {
		t.Errorf("the throughput chart does not mark the revocation:\n%s", svg)
	}
}
