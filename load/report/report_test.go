package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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
