package load_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	kongref "github.com/mtlsgate/mtlsgate/reference/kong"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/report"
	"github.com/mtlsgate/mtlsgate/load/scenario"
)

// plan is a short attack on the configured gateway with the Kong population at the given
// weights (nil: the defaults). The specs check behaviour, not speed, on a machine other suites
// share (under the race detector too): rates are modest, concurrency is capped so a slow
// moment cannot snowball into hundreds of connections, and the per-request timeout is generous.
func plan(weights map[string]int, mode load.Mode, pacer load.Pacer, d time.Duration, maxRequests uint64) load.Plan {
	classes, err := kong.Population(weights)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return load.Plan{Target: kong.URL, Profile: scenario.ProfileKong, Classes: classes, Mode: mode, Pacer: pacer,
		Duration: d, MaxRequests: maxRequests, Timeout: 20 * time.Second, Workers: 4, MaxWorkers: 32}
}

// run carries out p and attaches the headline figures to the spec's report.
func run(ctx context.Context, p load.Plan) *load.Result {
	r, err := load.Run(ctx, p)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	AddReportEntry("load", map[string]any{"mode": r.Mode, "pacer": r.PacerText, "requests": r.Requests, "violations": r.Violations,
		"rate": r.Rate, "handshakes_per_s": r.HandshakeRate, "p99": r.Total.Latencies.P99.String()}, ReportEntryVisibilityFailureOrVerbose)
	return r
}

// class returns a class's result by name.
func class(r *load.Result, name string) load.ClassResult {
	for _, c := range r.Classes {
		if c.Name == name {
			return c
		}
	}
	Fail("no class " + name + " in the result")
	return load.ClassResult{}
}

func constant(rate float64) load.Pacer { return load.Pacer{Kind: load.Constant, Rate: rate} }

// describeViolations lists the first violations, for failure messages.
func describeViolations(r *load.Result) string {
	var b strings.Builder
	for _, v := range r.ViolationSamples {
		b.WriteString(v.Class + ": expected " + v.Expected + ", observed " + v.Observed + " " + v.Error + "\n")
	}
	return b.String()
}

var _ = Describe("identity populations", Label(conformance.LoadLabel), func() {
	suite.It("L-1", "every class of the Kong population gets its promised outcome under load: 0 violations", func(ctx SpecContext) {
		// The count ends the run (in a second, or later on a busy machine), so every class is in it.
		r := run(ctx, plan(nil, load.KeepAlive, constant(100), 10*time.Second, 100))
		Expect(r.Violations).To(BeZero(), describeViolations(r))
		Expect(r.Requests).To(Equal(uint64(100)))
		want := map[string]string{
			scenario.Valid:      "200",
			scenario.TLS12:      "200",
			scenario.Missing:    `401 "` + kongref.MsgNoCertificate + `"`,
			scenario.Untrusted:  `401 "` + kongref.MsgFailedVerify + `"`,
			scenario.Expired:    `401 "` + kongref.MsgFailedVerify + `"`,
			scenario.SelfSigned: `401 "` + kongref.MsgFailedVerify + `"`,
			scenario.Revoked:    `401 "` + kongref.MsgFailedVerify + `"`,
		}
		Expect(r.Classes).To(HaveLen(len(want)))
		for name, outcome := range want {
			c := class(r, name)
			Expect(c.Requests).To(BeNumerically(">", 0), name)
			Expect(c.Observed).To(Equal(map[string]uint64{outcome: c.Requests}), name)
			Expect(c.Expected).To(Equal(c.Requests), name)
		}
		// The weights hold: valid is 60 of 100.
		Expect(float64(class(r, scenario.Valid).Requests) / float64(r.Requests)).To(BeNumerically("~", 0.6, 0.05))
		Expect(load.Passed(load.DefaultThresholds().Evaluate(r))).To(BeTrue())
	}, SpecTimeout(90*time.Second))

	suite.It("L-1", "a gateway that lets a revoked certificate through fails the gate (violation injected)", func(ctx SpecContext) {
		plugins, err := sys.Admin.List(ctx, "/plugins")
		Expect(err).NotTo(HaveOccurred())
		Expect(plugins).To(HaveLen(1))
		// revocation_check_mode SKIP: the gateway no longer checks the CRL, so revoked gets 200.
		Expect(sys.Admin.Patch(ctx, "/plugins/"+plugins[0]["id"].(string),
			map[string]any{"config": map[string]any{"revocation_check_mode": "SKIP"}}, nil)).To(Succeed())
		r := run(ctx, plan(map[string]int{scenario.Valid: 3, scenario.Revoked: 1, scenario.TLS12: 0, scenario.Missing: 0,
			scenario.Untrusted: 0, scenario.Expired: 0, scenario.SelfSigned: 0}, load.KeepAlive, constant(60), 5*time.Second, 60))
		revoked := class(r, scenario.Revoked)
		Expect(revoked.Violations).To(Equal(revoked.Requests))
		Expect(revoked.Requests).To(BeNumerically(">", 0))
		Expect(revoked.Observed).To(HaveKey("200"))
		Expect(class(r, scenario.Valid).Violations).To(BeZero())
		Expect(r.Violations).To(Equal(revoked.Requests))
		gates := load.DefaultThresholds().Evaluate(r)
		Expect(load.Passed(gates)).To(BeFalse())
		Expect(gates[0].Name).To(Equal("max_violations"))
		Expect(gates[0].Pass).To(BeFalse())
		Expect(gates[0].Detail).To(ContainSubstring("revoked at"))
		Expect(gates[0].Detail).To(ContainSubstring("observed 200"))
	}, SpecTimeout(90*time.Second))
})

var _ = Describe("connection modes and pacers", Label(conformance.LoadLabel), func() {
	validOnly := map[string]int{scenario.Valid: 1, scenario.Missing: 0, scenario.Untrusted: 0, scenario.Expired: 0,
		scenario.SelfSigned: 0, scenario.Revoked: 0, scenario.TLS12: 0}

	suite.It("L-2", "handshake per request: one full handshake per request, none resumed", func(ctx SpecContext) {
		r := run(ctx, plan(validOnly, load.Handshake, constant(30), 5*time.Second, 45))
		Expect(r.Violations).To(BeZero(), describeViolations(r))
		Expect(r.Requests).To(Equal(uint64(45)))
		Expect(r.Handshakes).To(Equal(r.Requests))
		Expect(r.Resumed).To(BeZero())
	}, SpecTimeout(90*time.Second))

	suite.It("L-2", "keep-alive: connections are reused, few handshakes", func(ctx SpecContext) {
		p := plan(validOnly, load.KeepAlive, constant(100), 5*time.Second, 150)
		// At most 8 requests in flight: the pool holds at most 8 busy connections and, while
		// they are busy, up to 8 more being dialled.
		p.Workers, p.MaxWorkers = 4, 8
		r := run(ctx, p)
		Expect(r.Violations).To(BeZero(), describeViolations(r))
		Expect(r.Requests).To(Equal(uint64(150)))
		Expect(r.Handshakes).To(And(BeNumerically(">", 0), BeNumerically("<=", 16)), "keep-alive should reuse connections")
	}, SpecTimeout(90*time.Second))

	suite.It("L-2", "session resumption: a new connection per request, most of them resumed", func(ctx SpecContext) {
		p := plan(validOnly, load.Resume, constant(40), 5*time.Second, 60)
		// Only the connections opened before the first ticket arrives can be full handshakes.
		p.Workers, p.MaxWorkers = 2, 4
		r := run(ctx, p)
		Expect(r.Violations).To(BeZero(), describeViolations(r))
		Expect(r.Requests).To(Equal(uint64(60)))
		Expect(r.Handshakes).To(Equal(r.Requests))
		Expect(r.Resumed).To(BeNumerically(">", r.Requests/2), "tickets should resume most sessions")
	}, SpecTimeout(90*time.Second))

	suite.It("L-2", "linear ramp: the rate rises over the run; sine: it follows the wave; the count bound stops a run early", func(ctx SpecContext) {
		r := run(ctx, plan(validOnly, load.KeepAlive, load.Pacer{Kind: load.Linear, Rate: 5, Slope: 30}, 2*time.Second, 1000))
		Expect(r.Violations).To(BeZero(), describeViolations(r))
		// 5/s + 30/s²: about 20 hits in the first second, 50 in the second. (A loaded machine may
		// fall behind the pacer, never ahead of it.)
		first, second := halves(r)
		Expect(r.Requests).To(And(BeNumerically(">=", 35), BeNumerically("<=", 77)))
		Expect(float64(second)).To(BeNumerically(">", 1.5*float64(first)))

		r = run(ctx, plan(validOnly, load.KeepAlive, load.Pacer{Kind: load.Sine, Rate: 30, Amplitude: 25, Period: 2 * time.Second}, 2*time.Second, 1000))
		Expect(r.Violations).To(BeZero(), describeViolations(r))
		// Starting at the mean going up: the first half is the crest (about 46 hits), the second
		// the trough (about 14).
		first, second = halves(r)
		Expect(r.Requests).To(And(BeNumerically(">=", 30), BeNumerically("<=", 66)))
		Expect(float64(first)).To(BeNumerically(">", 1.5*float64(second)))

		r = run(ctx, plan(validOnly, load.KeepAlive, constant(200), 10*time.Second, 50))
		Expect(r.Requests).To(Equal(uint64(50)))
		Expect(r.Total.Duration).To(BeNumerically("<", 5*time.Second), "the count bound ends the attack, not the 10s duration")
		// The shape is a matter of timing: on a machine starved by other work the pacer can fall
		// behind, so one retry is allowed; a pacer that is wrong fails both.
	}, FlakeAttempts(2), SpecTimeout(90*time.Second))
})

// halves counts the requests started in the first and second half of the run's duration.
func halves(r *load.Result) (first, second uint64) {
	for _, s := range r.Samples {
		if s.Offset < r.Duration/2 {
			first++
		} else {
			second++
		}
	}
	return first, second
}

var _ = Describe("revocation under load", Label(conformance.LoadLabel), func() {
	suite.It("L-3", "a client revoked mid-run is refused within cert_cache_ttl, and no valid request is lost", func(ctx SpecContext) {
		p := plan(map[string]int{scenario.Valid: 6, scenario.RevokedMidRun: 3, scenario.Missing: 1, scenario.Revoked: 1,
			scenario.Untrusted: 0, scenario.Expired: 0, scenario.SelfSigned: 0, scenario.TLS12: 0}, load.KeepAlive, constant(60), 6*time.Second, 500)
		// Revoked at 1 s, the run goes on past the bound, so enforcement is seen within the run.
		p.Events = []load.Event{kong.RevokeMidRun(time.Second)}
		r := run(ctx, p)
		// A correct gateway may answer from its cache for cert_cache_ttl after the CRL changed,
		// plus one fetch (http_timeout) that began before the change: the stated bound.
		bound := kong.Opts.CertCacheTTL + kong.Opts.HTTPTimeout
		Expect(p.Events[0].Grace).To(Equal(bound))
		Expect(r.Revocations).To(HaveLen(1))
		rv := r.Revocations[0]
		AddReportEntry("time to enforce", rv.TimeToEnforce.String(), ReportEntryVisibilityFailureOrVerbose)
		Expect(rv.Error).To(BeEmpty())
		Expect(rv.Enforced).To(BeTrue(), "%+v", rv)
		Expect(rv.NewAfter).To(BeNumerically(">", 0))
		Expect(rv.TimeToEnforce).To(BeNumerically("<=", bound))
		Expect(time.Second+bound).To(BeNumerically("<", r.Duration), "the run outlasts the bound, so a late enforcement would show")
		Expect(r.ValidLost).To(BeZero())
		Expect(r.Violations).To(BeZero(), describeViolations(r))
		mid := class(r, scenario.RevokedMidRun)
		Expect(mid.Observed).To(HaveKey("200"))
		Expect(mid.Observed).To(HaveKey(`401 "` + kongref.MsgFailedVerify + `"`))

		maxTTE := load.Duration(bound)
		gates := load.Thresholds{MaxTimeToEnforce: maxTTE, MaxValidLost: new(uint64)}.Evaluate(r)
		Expect(load.Passed(gates)).To(BeTrue(), "%+v", gates)
	}, SpecTimeout(90*time.Second))

	suite.It("L-3", "a gateway that never re-reads the CRL fails the revocation gate", func(ctx SpecContext) {
		plugins, err := sys.Admin.List(ctx, "/plugins")
		Expect(err).NotTo(HaveOccurred())
		// cert_cache_ttl of an hour: the revocation is never seen during the run.
		Expect(sys.Admin.Patch(ctx, "/plugins/"+plugins[0]["id"].(string),
			map[string]any{"config": map[string]any{"cert_cache_ttl": 3600000}}, nil)).To(Succeed())
		p := plan(map[string]int{scenario.Valid: 1, scenario.RevokedMidRun: 1, scenario.Missing: 0, scenario.Revoked: 0,
			scenario.Untrusted: 0, scenario.Expired: 0, scenario.SelfSigned: 0, scenario.TLS12: 0}, load.KeepAlive, constant(60), 3*time.Second, 300)
		p.Events = []load.Event{kong.RevokeMidRun(500 * time.Millisecond)}
		// The gateway's own cache is an hour now; hold it to the suite's cert_cache_ttl.
		p.Events[0].Grace = cacheTTL
		r := run(ctx, p)
		rv := r.Revocations[0]
		Expect(rv.Enforced).To(BeFalse())
		Expect(rv.OldAfter).To(BeNumerically(">", 0))
		Expect(r.Violations).To(BeNumerically(">", 0), "200s after the grace period are violations")
		gates := load.Thresholds{MaxTimeToEnforce: load.Duration(kong.Opts.CertCacheTTL + kong.Opts.HTTPTimeout)}.Evaluate(r)
		Expect(load.Passed(gates)).To(BeFalse())
	}, SpecTimeout(90*time.Second))
})

var _ = Describe("reports", Label(conformance.LoadLabel), func() {
	suite.It("L-4", "index.html, load.json and junit.xml are written; gates come from the thresholds file and can fail", func(ctx SpecContext) {
		r := run(ctx, plan(nil, load.Handshake, constant(40), 5*time.Second, 60))
		dir := GinkgoT().TempDir()
		th, err := load.ParseThresholds(strings.NewReader("max_violations: 0\np99: 60s\nmax_error_rate: 0\nmin_rate: 100000\n"))
		Expect(err).NotTo(HaveOccurred())
		gates := th.Evaluate(r)
		Expect(report.WriteDir(dir, r, gates)).To(Succeed())

		var doc report.Document
		b, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &doc)).To(Succeed())
		Expect(doc.Result.Requests).To(Equal(r.Requests))
		Expect(doc.Result.Classes).To(HaveLen(len(r.Classes)))
		Expect(doc.Passed).To(BeFalse(), "min_rate 100000/s cannot be met")

		var junit struct {
			Suites []struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
				Cases    []struct {
					Name    string    `xml:"name,attr"`
					Failure *struct{} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		b, err = os.ReadFile(filepath.Join(dir, report.JUnitFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(xml.Unmarshal(b, &junit)).To(Succeed())
		Expect(junit.Suites).To(HaveLen(1))
		Expect(junit.Suites[0].Tests).To(Equal(5))
		Expect(junit.Suites[0].Failures).To(Equal(1))
		for _, c := range junit.Suites[0].Cases {
			Expect(c.Failure != nil).To(Equal(strings.Contains(c.Name, "min_rate")), c.Name)
		}

		b, err = os.ReadFile(filepath.Join(dir, report.HTMLFile))
		Expect(err).NotTo(HaveOccurred())
		html := string(b)
		for _, c := range r.Classes {
			Expect(html).To(ContainSubstring(">" + c.Name + "<"))
		}
		Expect(html).To(ContainSubstring("expected × observed"))
		Expect(html).To(ContainSubstring("<svg"))
		Expect(html).To(ContainSubstring("<polyline"))
		Expect(html).To(ContainSubstring("srcdoc="))
		Expect(html).To(ContainSubstring("uPlot"))
		Expect(html).NotTo(MatchRegexp(`(src|href)=["']?(https?:)?//`), "the page fetches nothing")
	}, SpecTimeout(90*time.Second))
})
