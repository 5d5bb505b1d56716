package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/load"
)

// Off a terminal (a CI log) the load command still shows progress and ends with a summary per class.
func TestLoadOffATerminalShowsProgressAndClasses(t *testing.T) {
	var out bytes.Buffer
	// Valid clients only: what this test checks is the console, not the gateway under a busy machine.
	err := run(context.Background(), []string{"load", "--duration", "2s", "--rate", "20", "--out", t.TempDir(),
		"--population", "valid=1,missing=0,untrusted=0,expired=0,self-signed=0,revoked=0,tls12=0"}, &out, &out)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out.String())
	}
	for _, want := range []string{"s / 2s ", " requests ", "  class valid ", "reports written to"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// A refused connection's cause (the handshake error) is in the console summary, not only in load.json.
func TestLoadSummaryNamesViolationCauses(t *testing.T) {
	res := &load.Result{Target: "https://127.0.0.1:1/mtls", Requests: 3, Violations: 2,
		Classes: []load.ClassResult{{Name: "valid", Expect: "200", Requests: 3, Violations: 2, Observed: map[string]uint64{"200": 1, "handshake-failure": 2}}},
		ViolationSamples: []load.ViolationSample{
			{Class: "valid", Offset: time.Second, Expected: "200", Observed: "handshake-failure", Error: "remote error: tls: unknown certificate authority"},
			{Class: "valid", Offset: 2 * time.Second, Expected: "200", Observed: "handshake-failure", Error: "remote error: tls: unknown certificate authority"},
		}}
	var out bytes.Buffer
	writeLoadSummary(&out, res, []load.Gate{{Name: "max_violations", Limit: "0", Actual: "2"}}, "out/load")
	for _, want := range []string{
		"class valid                 3 requests, expected 200, 2 violations; observed 200×1, handshake-failure×2",
		"violation valid (2 sampled): expected 200, observed handshake-failure: remote error: tls: unknown certificate authority",
		"gate max_violations", "FAIL",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestProgressOffATerminalPrintsEveryFewSeconds(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, &out, 20*time.Second)
	for s := time.Second; s <= 12*time.Second; s += time.Second {
		p.show(load.Progress{Elapsed: s, Requests: uint64(s / time.Millisecond)})
	}
	p.done()
	if n := strings.Count(out.String(), "\n"); n != 3 || strings.Contains(out.String(), "\r") {
		t.Errorf("want 3 plain lines (1s, 6s, 11s), got %d:\n%q", n, out.String())
	}
}
