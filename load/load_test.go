package load

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

func TestScheduleInterleavesByWeight(t *testing.T) {
	s, err := schedule([]int{60, 20, 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 5 {
		t.Fatalf("weights 60/20/20 reduce to 3/1/1: schedule %v", s)
	}
	count := map[int]int{}
	for _, c := range s {
		count[c]++
	}
	if count[0] != 3 || count[1] != 1 || count[2] != 1 {
		t.Errorf("schedule %v does not hold the weights", s)
	}
	if s[0] == s[1] && s[1] == s[2] {
		t.Errorf("schedule %v bursts one class", s)
	}
	if _, err := schedule([]int{100_001, 1}); err == nil {
		t.Error("a huge schedule was accepted")
	}
}

func TestClassTag(t *testing.T) {
	for u, want := range map[string]int{"https://127.0.0.1:1/x#0": 0, "https://h/#12": 12, "https://h/a#b#7": 7} {
		if got, ok := classOfURL(u); !ok || got != want {
			t.Errorf("classOfURL(%q) = %d, %v; want %d", u, got, ok, want)
		}
	}
	for _, u := range []string{"https://h/", "https://h/#", "https://h/#x1", "https://h/#12345"} {
		if _, ok := classOfURL(u); ok {
			t.Errorf("classOfURL(%q) accepted", u)
		}
	}
}

func TestPlanIsRefusedBeforeAnyTraffic(t *testing.T) {
	good := Plan{Target: "https://127.0.0.1:1/", Classes: []Class{{Name: "a", Weight: 1, Expect: Outcome{Status: 200}}},
		Pacer: Pacer{Rate: 1}, Duration: time.Second, MaxRequests: 1}
	cases := map[string]func(p *Plan){
		"is not loopback":       func(p *Plan) { p.Target = "https://10.0.0.1/" },
		"example.com":           func(p *Plan) { p.Target = "https://example.com/" },
		"duration":              func(p *Plan) { p.Duration = 0 },
		"max requests":          func(p *Plan) { p.MaxRequests = 0 },
		"mode":                  func(p *Plan) { p.Mode = "pipelined" },
		"rate":                  func(p *Plan) { p.Pacer.Rate = 0 },
		"no class has a weight": func(p *Plan) { p.Classes[0].Weight = 0 },
		"not an HTTP status":    func(p *Plan) { p.Classes[0].Expect = Outcome{} },
		"not in the population": func(p *Plan) {
			p.Events = []Event{{Name: "e", Class: "zz", Apply: func(context.Context) error { return nil }}}
		},
		"must fall inside the run": func(p *Plan) {
			p.Events = []Event{{Name: "e", Class: "a", At: time.Hour, Apply: func(context.Context) error { return nil }}}
		},
		"more than 15m0s": func(p *Plan) { p.StartAt = time.Now().Add(time.Hour) },
		"--allow-host":    func(p *Plan) { p.Target = "https://gateway.example:8443/" },
		"allowed besides: other": func(p *Plan) {
			p.Target, p.AllowHosts = "https://gateway.example:8443/", []string{"other"}
		},
		"amplitude": func(p *Plan) {
			p.Pacer = Pacer{Kind: Sine, Rate: 10, Amplitude: 20, Period: time.Second}
		},
	}
	for want, mutate := range cases {
		p := good
		p.Classes = append([]Class(nil), good.Classes...)
		mutate(&p)
		_, err := Run(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v", want, err)
		}
	}
}

func TestThresholds(t *testing.T) {
	th, err := ParseThresholds(strings.NewReader("p99: 250ms\nmin_rate: 40\nmax_error_rate: 0.01\n"))
	if err != nil {
		t.Fatal(err)
	}
	if th.MaxViolations == nil || *th.MaxViolations != 0 || time.Duration(th.P99) != 250*time.Millisecond || th.MinRate != 40 {
		t.Errorf("thresholds %+v", th)
	}
	for in, want := range map[string]string{
		"p99: fast\n":            `"fast" is not a duration`,
		"max_violatons: 0\n":     "max_violatons",
		"max_error_rate: 2\n":    "max_error_rate",
		"min_rate: -1\n":         "min_rate",
		"max_violations: lots\n": "max_violations",
	} {
		if _, err := ParseThresholds(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to name %q", in, err, want)
		}
	}
	r := &Result{Requests: 10, Violations: 1, Rate: 5, ViolationSamples: []ViolationSample{{Class: "revoked", Expected: "401", Observed: "200"}}}
	gates := th.Evaluate(r)
	if Passed(gates) {
		t.Fatalf("gates passed with a violation and a low rate: %+v", gates)
	}
	failed := map[string]bool{}
	for _, g := range gates {
		if !g.Pass {
			failed[g.Name] = true
		}
	}
	if !failed["max_violations"] || !failed["min_rate"] || failed["p99"] || failed["max_error_rate"] {
		t.Errorf("failed gates %v", failed)
	}
}

func TestVerdictAroundAnEvent(t *testing.T) {
	es := &eventState{ev: &Event{Grace: 100 * time.Millisecond}, done: true, fired: time.Second, applied: 1100 * time.Millisecond}
	for _, c := range []struct {
		at    time.Duration
		match uint8
		want  Verdict
	}{
		{500 * time.Millisecond, matchClass, Expected},
		{500 * time.Millisecond, matchEvent, Violation},
		{900 * time.Millisecond, matchEvent, Violation},
		{900 * time.Millisecond, 0, Violation},
		{1050 * time.Millisecond, matchClass, Tolerated},
		{1150 * time.Millisecond, matchClass, Tolerated},
		{1150 * time.Millisecond, matchEvent, Expected},
		{1300 * time.Millisecond, matchClass, Violation},
		{1300 * time.Millisecond, matchEvent, Expected},
		{1300 * time.Millisecond, 0, Violation},
	} {
		s := Sample{Offset: c.at, Latency: 50 * time.Millisecond, match: c.match}
		if got := verdict(&s, es); got != c.want {
			t.Errorf("at %s match %b: verdict %d, want %d", c.at, c.match, got, c.want)
		}
	}
	// A request that started before the event and was answered after it fired may get the new
	// outcome: the gateway decided after the change.
	inFlight := Sample{Offset: 900 * time.Millisecond, Latency: 200 * time.Millisecond, match: matchEvent}
	if got := verdict(&inFlight, es); got != Expected {
		t.Errorf("in-flight request with the new outcome: verdict %d", got)
	}
	if es.oldAfter != 2 || es.lastOld != 1300*time.Millisecond || es.newAt != 2 {
		t.Errorf("event bookkeeping %+v", es)
	}
}

// startTLS serves 200 on loopback with conf; it stops with the test.
func startTLS(t testing.TB, conf *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) }),
		ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)} // refused handshakes are the point
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().(*net.TCPAddr).String() + "/"
}

func cert(p *fixtures.PKI, name string) *tls.Certificate {
	c := p.Get(name).TLSCertificate()
	return &c
}

// TestVerifyModeAndInjectedViolation plays an ALB in verify mode (a TLS 1.3-only listener that
// demands a certificate from the root): bad identities must fail the handshake. Then a listener
// that accepts any certificate: the untrusted class gets 200, a violation the gate catches.
func TestVerifyModeAndInjectedViolation(t *testing.T) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	server := p.Get(fixtures.Server).TLSCertificate()
	hs := Outcome{HandshakeFailure: true}
	classes := []Class{
		{Name: "valid", Weight: 4, Identity: fixtures.Client, Certificate: cert(p, fixtures.Client), Expect: Outcome{Status: 200, BodyContains: `"ok"`}},
		{Name: "missing", Weight: 1, Expect: hs},
		{Name: "untrusted", Weight: 1, Certificate: cert(p, fixtures.ClientUnknownCA), Expect: hs},
		{Name: "tls12", Weight: 1, Certificate: cert(p, fixtures.Client), MaxVersion: tls.VersionTLS12, Expect: hs},
	}
	plan := Plan{Classes: classes, Mode: Handshake, Pacer: Pacer{Kind: Constant, Rate: 70}, Duration: time.Second, MaxRequests: 70, Timeout: 5 * time.Second}

	plan.Target = startTLS(t, &tls.Config{Certificates: []tls.Certificate{server}, MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.Pool(fixtures.RootCA)})
	for _, mode := range Modes() {
		plan.Mode = mode
		r, err := Run(context.Background(), plan)
		if err != nil {
			t.Fatal(err)
		}
		if r.Violations != 0 || r.Requests < 50 {
			t.Fatalf("verify mode, %s: %d violations in %d requests: %+v", mode, r.Violations, r.Requests, r.ViolationSamples)
		}
		for _, c := range r.Classes {
			if c.Requests == 0 || c.Expected != c.Requests || len(c.Observed) != 1 {
				t.Errorf("%s: class %s: %d requests, %d expected, observed %v", mode, c.Name, c.Requests, c.Expected, c.Observed)
			}
		}
		if !Passed(DefaultThresholds().Evaluate(r)) {
			t.Errorf("%s: a clean run failed its gates", mode)
		}
	}
	plan.Mode = Handshake

	plan.Target = startTLS(t, &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.RequestClientCert})
	r, err := Run(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ClassResult{}
	for _, c := range r.Classes {
		byName[c.Name] = c
	}
	if u := byName["untrusted"]; u.Violations == 0 || u.Violations != u.Requests || u.Observed["200"] != u.Requests {
		t.Errorf("a gateway accepting an untrusted certificate was not caught: %+v", u)
	}
	if byName["valid"].Violations != 0 {
		t.Errorf("valid class: %+v", byName["valid"])
	}
	gates := DefaultThresholds().Evaluate(r)
	if Passed(gates) || gates[0].Pass || !strings.Contains(gates[0].Detail, "untrusted") {
		t.Errorf("the gate did not fail on the injected violation: %+v", gates)
	}
}

// TestHTTP2Plan: an HTTP/2 plan speaks h2 to a gateway that offers it, in every connection mode,
// and counts every request a violation where the gateway offers only HTTP/1.1.
func TestHTTP2Plan(t *testing.T) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	server := p.Get(fixtures.Server).TLSCertificate()
	classes := []Class{{Name: "valid", Weight: 1, Certificate: cert(p, fixtures.Client), Expect: Outcome{Status: 200, BodyContains: `"ok"`}}}
	// A generous timeout: on a loaded machine (the race detector, shared cores) a handshake can
	// take seconds, and a timeout is a violation.
	plan := Plan{Classes: classes, HTTP2: true, Pacer: Pacer{Kind: Constant, Rate: 30}, Duration: time.Second, MaxRequests: 30, Timeout: 30 * time.Second}
	plan.Target = startTLS(t, &tls.Config{Certificates: []tls.Certificate{server}, NextProtos: []string{"h2", "http/1.1"}})
	for _, mode := range Modes() {
		plan.Mode = mode
		r, err := Run(context.Background(), plan)
		if err != nil {
			t.Fatal(err)
		}
		if r.Violations != 0 || r.Requests < 15 {
			t.Fatalf("HTTP/2, %s: %d violations in %d requests: %+v", mode, r.Violations, r.Requests, r.ViolationSamples)
		}
	}
	plan.Mode = KeepAlive
	plan.Target = startTLS(t, &tls.Config{Certificates: []tls.Certificate{server}, NextProtos: []string{"http/1.1"}})
	r, err := Run(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Violations != r.Requests {
		t.Errorf("a gateway without h2: %d violations in %d requests, want all", r.Violations, r.Requests)
	}
}

func TestTransportErrorsAreViolations(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens: connection refused
	r, err := Run(context.Background(), Plan{Target: "https://" + addr + "/", Classes: []Class{{Name: "valid", Weight: 1, Expect: Outcome{Status: 200}}},
		Pacer: Pacer{Rate: 50}, Duration: 300 * time.Millisecond, MaxRequests: 10})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Violations != r.Requests || r.TransportErrors != r.Requests || r.ErrorRate != 1 || r.ValidLost != r.Requests {
		t.Errorf("refused connections: %+v", r)
	}
	if r.Classes[0].Observed["error: connection refused"] != r.Requests {
		t.Errorf("observed %v", r.Classes[0].Observed)
	}
}

func TestContextCancelStopsTheRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := Run(ctx, Plan{Target: "https://127.0.0.1:1/", Classes: []Class{{Name: "a", Weight: 1, Expect: Outcome{Status: 200}}},
		Pacer: Pacer{Rate: 10}, Duration: time.Minute, MaxRequests: 1000})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled run: err %v after %s", err, time.Since(start))
	}
	if r == nil || r.Requests == 0 || r.Requests > 10 {
		t.Errorf("the partial result of a cancelled run: %+v", r)
	}
}

func TestExampleThresholdsFileParses(t *testing.T) {
	th, err := ReadThresholds("thresholds.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if th.MaxViolations == nil || th.MaxValidLost == nil || th.P99 == 0 || th.MaxErrorRate == nil || th.MinRate == 0 || th.MaxTimeToEnforce == 0 {
		t.Errorf("example thresholds leave a gate unset: %+v", th)
	}
}

func TestCheckHostAllowsOnlyWhatWasNamed(t *testing.T) {
	for _, c := range []struct {
		host  string
		allow []string
		ok    bool
	}{
		{"127.0.0.1", nil, true},
		{"localhost", nil, true},
		{"kong", []string{"kong"}, true},
		{"Kong-Proxy.kong.svc", []string{"kong-proxy.kong.svc"}, true},
		{"kong-proxy.kong.svc.evil", []string{"kong-proxy.kong.svc"}, false},
		{"10.0.0.1", []string{"kong"}, false},
		{"kong", []string{""}, false},
	} {
		if err := CheckHost(c.host, c.allow); (err == nil) != c.ok {
			t.Errorf("CheckHost(%q, %q) = %v", c.host, c.allow, err)
		}
	}
}
