package bench

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleResult() *Result {
	o := Defaults()
	o.Binary = "/bin/mtlsgate"
	return &Result{
		Options: o, Started: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), Elapsed: 3 * time.Minute,
		Machine:    Machine{CPUs: 2, CPUModel: "Test CPU", Kernel: "6.1", GoVersion: "go1.26", Nginx: "nginx/1.22.1", HAProxy: "HAProxy 2.6"},
		LoadBefore: "1.00 1.00 1.00", LoadAfter: "2.00 1.50 1.00",
		Servers: []*ServerResult{
			{Name: Kong, Label: serverLabel(Kong), Handshakes: Series{1300, 1200, 1250}, KeepAlive: Series{900, 1000, math.NaN()},
				HandshakesPerCoreSec: Series{800, 700, 750}, KeepAlivePerCoreSec: Series{3000, math.NaN(), 2800},
				P50: Series{1, 2, 3}, P99: Series{5, 6, 7}, HalfRate: Series{450, 500, 475}, IdleKiB: Series{40, 42, 41}, BaseRSSMiB: Series{20, 20, 20},
				Errors: []string{"round 3: keep-alive peak: 0 of 10 requests answered 200\nmore detail"}},
			{Name: ALB, Label: serverLabel(ALB), Skipped: "this binary has no `serve alb` | nothing"},
			{Name: Nginx, Label: serverLabel(Nginx), Handshakes: Series{1000, 1000, 1000}, KeepAlive: Series{1000, 1000, 1000},
				HandshakesPerCoreSec: Series{500, 500, 500}, KeepAlivePerCoreSec: Series{4000, 4000, 4000},
				P50: Series{1, 1, 1}, P99: Series{2, 2, 2}, HalfRate: Series{500, 500, 500}, IdleKiB: Series{20, 20, 20}, BaseRSSMiB: Series{5, 5, 5}},
			{Name: HAProxy, Label: serverLabel(HAProxy), Handshakes: Series{500, 500, 500}, KeepAlive: Series{2000, 2000, 2000},
				HandshakesPerCoreSec: Series{250, 250, 250}, KeepAlivePerCoreSec: Series{8000, 8000, 8000},
				P50: Series{1, 1, 1}, P99: Series{2, 2, 2}, HalfRate: Series{1000, 1000, 1000}, IdleKiB: Series{80, 80, 80}, BaseRSSMiB: Series{10, 10, 10}},
		},
		Sim: SimResult{Target: serverLabel(Nginx), Rate: 500, VegetaCPU: Series{10, 12, 11}, SimCPU: Series{15, 14, 16},
			VegetaRequests: Series{4000, 4000, 4000}, SimRequests: Series{4000, 3990, 4000},
			DialCPU: Series{100, 100, 100}, SimHandshakeCPU: Series{110, 110, 110},
			DialHandshakes: Series{2000, 2000, 2000}, SimHandshakes: Series{2000, 2000, 2000},
			VegetaMarginal: Series{8, 10, 11}, SimMarginal: Series{7, 8, 10},
			DialMarginal: Series{90, 90, 90}, SimHandshakeMarginal: Series{99, 99, math.NaN()}},
	}
}

func TestRenderQuotesMediansRatiosAndVerdicts(t *testing.T) {
	md := Render(sampleResult())
	for _, want := range []string{
		"median of 3 rounds",
		"| CPU | Test CPU |",
		// handshakes: Kong median 1250 vs nginx 1000 → 1.25×, ≥ 1.3× missed; vs HAProxy 2.50×.
		"| reference (Kong mode) | 1250 | 1200 – 1300 | 3 | 1.25× | 2.50× | ≥ 1.3× nginx | **missed** |",
		// keep-alive: the failed round is left out: median of 900 and 1000 is 950 → 0.95×, missed.
		"| reference (Kong mode) | 950 | 900 – 1000 | 2 | 0.95× | 0.47× | ≥ 1.0× nginx | **missed** |",
		"**Missed** by reference (Kong mode). Why:",
		// per server core-second: Kong 750 against nginx's 500 is 1.50×, against HAProxy's 250 3.00×;
		// reported beside the rate, never judged (no target or verdict columns).
		"### Full mTLS handshakes per server core-second\n",
		"| server | median (connections per CPU-second) | min – max | rounds | ÷ nginx | ÷ HAProxy |\n",
		"| reference (Kong mode) | 750 | 700 – 800 | 3 | 1.50× | 3.00× |\n",
		"| nginx | 500 | 500 – 500 | 3 | – | 2.00× |\n",
		// keep-alive: the failed round is left out, median of 2800 and 3000 is 2900: 0.72× nginx.
		"### Keep-alive proxied requests per server core-second\n",
		"| reference (Kong mode) | 2900 | 2800 – 3000 | 2 | 0.72× | 0.36× |\n",
		// idle: 41 KiB against nginx's 20 is 2.05×, over 1.5×: missed; baselines are not judged.
		"| reference (Kong mode) | 41.0 | 40.0 – 42.0 | 3 | 2.05× | 0.51× | ≤ 1.5× nginx | **missed** |",
		"| nginx | 20.0 | 20.0 – 20.0 | 3 | – | 0.25× | – | – |",
		// a skipped server says why, with its pipe escaped so the table holds.
		"| reference (ALB mode) | not measured | this binary has no `serve alb` \\| nothing | 0 |",
		// simulator: 15 / 11 = 1.36×, missed.
		"| mtlsgate load | 15.0 | 14.0 – 16.0 | 4000 | 3 |",
		"Ratio simulator ÷ vegeta: **1.36×**. Target ≤ 1.0×: **missed**.",
		// the verdict table opens the report, one row per target and reference mode.
		"| Full mTLS handshakes per second | reference (Kong mode) | ≥ 1.3× nginx | 1.25× (1.20×–1.30×) | **missed** |",
		"| Full mTLS handshakes per second | reference (ALB mode) | ≥ 1.3× nginx | – | not measured |",
		"| Latency p99 at half the peak | reference (Kong mode) | ≤ 1.3× nginx | 3.00× (2.50×–3.50×) | **missed** |",
		"| Simulator CPU per request | mtlsgate load | ≤ 1.0× vegeta CLI | 1.36× (1.17×–1.60×) | **missed** |",
		"**What to conclude:** 1 of 10 targets met conclusively, 5 missed, 4 not measured or not conclusive.",
		// the handshake comparison: 110 / 100 = 1.10×, within 1.15×.
		"| Simulator CPU per full mTLS handshake | mtlsgate load --mode handshake | ≤ 1.15× bare crypto/tls loop | 1.10× (1.10×–1.10×) | **met** |",
		"| mtlsgate load --mode handshake | 110.0 | 110.0 – 110.0 | 2000 | 3 |",
		// per core: 1e6 / 15 µs = 66667 requests/s, nginx's 1000 needs 0.015 cores (0.01); 1e6 / 110 = 9091.
		// marginal: 8 / 10 = 0.80×, rounds 7/11 and 10/8; 1e6 / 8 µs = 125000/s; 1e6 / 99 = 10101.
		"vegeta: 10.0 µs (8.0 – 11.0); simulator: 8.0 µs (7.0 – 10.0); ratio simulator ÷ vegeta 0.80× (rounds allow 0.64×–1.25×).",
		"bare loop: 90.0 µs (90.0 – 90.0); simulator: 99.0 µs (99.0 – 99.0); ratio simulator ÷ bare loop 1.10× (rounds allow 1.10×–1.10×).",
		"| keep-alive request | 15.0 | 66667 | 1000 | 0.01 | 8.0 | 125000 | 0.01 |",
		"| full mTLS handshake | 110.0 | 9091 | 1000 | 0.11 | 99.0 | 10101 | 0.10 |",
		"- reference (Kong mode), round 3: keep-alive peak: 0 of 10 requests answered 200\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n---\n%s", want, md)
		}
	}
	// The server-CPU figure sits in the handshake section: after its table and its miss, before
	// the keep-alive section.
	hs, hsCore, ka := strings.Index(md, "## Full mTLS handshakes per second"), strings.Index(md, "### Full mTLS handshakes per server core-second"), strings.Index(md, "## Keep-alive proxied requests per second")
	if hs >= hsCore || hsCore >= ka {
		t.Errorf("the handshakes-per-core-second table is not inside the handshake section (at %d, section %d, next %d)", hsCore, hs, ka)
	}
	if strings.Index(md, "## Verdicts") > strings.Index(md, "## Full mTLS handshakes") {
		t.Error("the verdict table does not open the report")
	}
	if strings.Contains(md, "more detail") {
		t.Error("an error's later lines leaked into the report's one-line list")
	}
}

func TestRenderTargetsMet(t *testing.T) {
	r := sampleResult()
	r.Servers = r.Servers[:1:1]
	r.Servers = append(r.Servers, sampleResult().Servers[2:]...)
	r.Servers[0].Handshakes = Series{1400, 1400, 1400}
	r.Servers[0].KeepAlive = Series{1100, 1100, 1100}
	r.Servers[0].P99 = Series{2, 2, 2}
	r.Servers[0].IdleKiB = Series{25, 25, 25}
	r.Sim.SimCPU = Series{11, 11, 11}
	r.Sim.VegetaCPU = Series{11, 11, 11}
	r.Sim.SimMarginal = Series{math.NaN(), math.NaN(), math.NaN()} // every short run failed
	md := Render(r)
	if !strings.Contains(md, "the simulator's index.html, load.json and junit.xml at the end). Not computed: a side has no valid round.") ||
		!strings.Contains(md, "| keep-alive request | 11.0 | 90909 | 1000 | 0.01 | not measured | – | – |") {
		t.Errorf("a missing marginal figure is not said so:\n%s", md)
	}
	if strings.Contains(md, "**Missed**") || strings.Contains(md, "**missed**") {
		t.Errorf("a met target was reported missed:\n%s", md)
	}
	if !strings.Contains(md, "**What to conclude:** 6 of 6 targets met conclusively") {
		t.Errorf("verdict summary wrong:\n%s", md)
	}
	if !strings.Contains(md, "Ratio simulator ÷ vegeta: **1.00×**. Target ≤ 1.0×: **met**.") {
		t.Errorf("simulator target not met:\n%s", md)
	}
}

func TestRenderWithoutBaselineDoesNotJudge(t *testing.T) {
	r := sampleResult()
	r.Servers = []*ServerResult{r.Servers[0]}
	r.Sim = SimResult{Skipped: "turned off (--sim-rate 0)"}
	md := Render(r)
	if !strings.Contains(md, "not judged: nginx not in this run") {
		t.Errorf("ratio target judged without nginx:\n%s", md)
	}
	if !strings.Contains(md, "Not measured: turned off (--sim-rate 0).") {
		t.Errorf("skipped simulator comparison not explained:\n%s", md)
	}
}

// The server-CPU figures are reported, never judged: a run whose only numbers are those still
// counts the same targets.
func TestServerCPUFiguresAreNotJudged(t *testing.T) {
	for _, j := range judgements(sampleResult()) {
		if strings.Contains(j.what, "core-second") {
			t.Errorf("per core-second figure judged: %+v", j)
		}
	}
}

func TestOpsPerCoreSecond(t *testing.T) {
	got, err := opsPerCoreSecond(1500, 3*time.Second)
	if err != nil || got != 500 {
		t.Errorf("1500 ops over 3s of CPU = %v, %v; want 500", got, err)
	}
	if got, err := opsPerCoreSecond(1500, 0); err == nil || !math.IsNaN(got) || !strings.Contains(err.Error(), "--duration") {
		t.Errorf("no CPU = %v, %v; want NaN and an error suggesting a longer --duration", got, err)
	}
}

func TestWriteReplacesReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	path, err := Write(dir, sampleResult())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "# mtlsgate bench") {
		t.Fatalf("read %s: %v, %.40q", path, err, b)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestVerdictSaysWhenRoundsDisagree(t *testing.T) {
	r := sampleResult()
	// Kong's handshakes: median 1250 against nginx's 1000, but one round at 900 and nginx's
	// best at 1100: the rounds allow 900/1100 = 0.82× up to 1300/900 = 1.44×, around 1.3×.
	r.Servers[0].Handshakes = Series{900, 1250, 1300}
	r.Servers[2].Handshakes = Series{900, 1000, 1100}
	md := Render(r)
	if want := "≥ 1.3× nginx | **missed** (not conclusive: rounds allow 0.82×–1.44×) |"; !strings.Contains(md, want) {
		t.Errorf("report lacks %q\n%s", want, md)
	}
	// A bound at most × nginx, inside the spread of the rounds: 30 / 20 = 1.5×, 25/20 to 35/20.
	r.Servers[0].IdleKiB = Series{25, 30, 35}
	if want := "≤ 1.5× nginx | **met** (not conclusive: rounds allow 1.25×–1.75×) |"; !strings.Contains(Render(r), want) {
		t.Errorf("report lacks %q", want)
	}
}

// A server that did not start or a vegeta CLI that could not be built is a missing baseline;
// a comparison turned off on purpose is not.
func TestResultMissing(t *testing.T) {
	r := &Result{Servers: []*ServerResult{
		{Name: Kong, Label: "mtlsgate (Kong mode)"},
		{Name: Nginx, Label: "nginx", Skipped: "nginx not found on PATH"},
	}, Sim: SimResult{Skipped: "build the vegeta CLI: missing go.sum entry"}}
	got := r.Missing()
	if len(got) != 2 || !strings.Contains(got[0], "nginx not measured: nginx not found") || !strings.Contains(got[1], "vegeta CLI not measured") {
		t.Fatalf("Missing() = %q", got)
	}
	r.Servers[1].Skipped = ""
	r.Sim = SimResult{Skipped: "turned off (--sim-rate 0)", Off: true}
	if got := r.Missing(); len(got) != 0 {
		t.Fatalf("Missing() with nothing missing = %q", got)
	}
}
