package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ReportFile is the name of the report Write puts in its directory.
const ReportFile = "bench.md"

// target is one goal of the issue: which figure, compared with whom, in which direction.
type target struct {
	// higher means the reference must be at least bound × the baseline; otherwise at most.
	higher bool
	bound  float64
	text   string
	// why explains a miss; it names the mechanism, never a figure (figures are measured).
	why string
}

// simBound is the most CPU per request the simulator may spend against the vegeta CLI's.
const simBound = 1.0

// handshakeBound is the most CPU per full handshake the simulator may spend against a bare
// crypto/tls dial loop's.
const handshakeBound = 1.15

// measurement is one table of the report.
type measurement struct {
	title, unit, how string
	format           string
	// sub renders the table as a subsection of the one before it (a second view of the same
	// measurement).
	sub bool
	get func(*ServerResult) Series
	// versus is the server the target compares with ("" for an absolute bound).
	versus string
	target *target
}

func measurements(o Options) []measurement {
	return []measurement{
		{
			title: "Full mTLS handshakes per second", unit: "connections/s", format: "%.0f",
			how:    fmt.Sprintf("%d concurrent loops of: new TCP connection, full TLS 1.3 handshake (X25519, ECDSA P-256 server and client certificates, no session cache or tickets, so never resumed), one `GET /anything` answered 200 through the gateway (so the client certificate has been accepted, also by the Kong reference, which checks it per request), close. Counted over %s.", o.HandshakeConcurrency, o.Duration),
			get:    func(s *ServerResult) Series { return s.Handshakes },
			versus: Nginx,
			target: &target{higher: true, bound: 1.3, text: "≥ 1.3× nginx",
				why: "a connection's cost is mostly public-key work (on the server one P-256 signature, the P-256 check of the client's CertificateVerify and one X25519; the reference remembers verified client chains, nginx verifies the chain on every handshake) and the Go load generator sharing the 2 cores pays as much again per connection for every server alike, which pulls every rate ratio toward 1: the server's own CPU per handshake (handshakes per server core-second, below) shows the reference's lead that the rate hides"},
		},
		{
			title: "Full mTLS handshakes per server core-second", unit: "connections per CPU-second", format: "%.0f", sub: true,
			how: "The connections of the measurement above (those completed after the window closed included) divided by the CPU time the server's whole process tree spent on them (user + system from /proc/PID/stat, read before and after; 10 ms ticks; the echo upstream, its own process shared by every server, is not counted). " +
				serverCPUMeaning("a client handshake costs about as much CPU as a server's"),
			get: func(s *ServerResult) Series { return s.HandshakesPerCoreSec },
		},
		{
			title: "Keep-alive proxied requests per second", unit: "requests/s", format: "%.0f",
			how:    fmt.Sprintf("vegeta library, %d workers over %d kept-alive HTTP/1.1 mTLS connections, as fast as they go (`vegeta.Rate{Freq: 0}`), `GET /anything` proxied to the echo, for %s; only 200s count.", o.KeepAliveWorkers, o.KeepAliveWorkers, o.Duration),
			get:    func(s *ServerResult) Series { return s.KeepAlive },
			versus: Nginx,
			target: &target{higher: true, bound: 1.0, text: "≥ 1.0× nginx",
				why: "the server's CPU goes to Go's net/http server and httputil.ReverseProxy (a Request, a header map, an outgoing clone and a background read per request; the upstream side is already a synchronous keep-alive pool), not to Kong's or ALB's logic (a few percent), and the Go load generator shares the same 2 cores; meeting it needs a lean client-facing HTTP/1.1 path that parses the request head into reused storage (docs/proxy-performance.md has the profiles)"},
		},
		{
			title: "Keep-alive proxied requests per server core-second", unit: "requests per CPU-second", format: "%.0f", sub: true,
			how: "The requests of the measurement above divided by the CPU time the server's whole process tree spent on them (as for handshakes). " +
				serverCPUMeaning("vegeta's side of a request costs about as much CPU as a gateway's"),
			get: func(s *ServerResult) Series { return s.KeepAlivePerCoreSec },
		},
		{
			title: "Latency p50 at half the peak", unit: "ms", format: "%.2f",
			how: fmt.Sprintf("vegeta library at a constant rate of half that server's keep-alive peak measured in the same round, for %s.", o.Duration),
			get: func(s *ServerResult) Series { return s.P50 },
		},
		{
			title: "Latency p99 at half the peak", unit: "ms", format: "%.2f",
			how:    "same attack as p50.",
			get:    func(s *ServerResult) Series { return s.P99 },
			versus: Nginx,
			target: &target{higher: false, bound: 1.3, text: "≤ 1.3× nginx",
				why: "the tail follows the Go runtime's scheduling and garbage-collection pauses on 2 cores shared with the load generator, and net/http's per-request allocations feed the collector; nginx allocates per request from a pool freed at once"},
		},
		{
			title: "Rate the latency was measured at", unit: "requests/s", format: "%.0f",
			how: "half of that round's keep-alive peak.",
			get: func(s *ServerResult) Series { return s.HalfRate },
		},
		{
			title: fmt.Sprintf("RSS per idle mTLS connection (%d connections)", o.IdleConns), unit: "KiB", format: "%.1f",
			how:    fmt.Sprintf("RSS (VmRSS) of the server's whole process tree (nginx master and workers …) on a freshly started server that has served only the readiness probe, then again once %d connections — each a full mTLS handshake and one 200 answer, then left idle — are open and the RSS has settled; (after − before) ÷ %d. 1 in 100 connections is used again afterwards to prove the server kept them.", o.IdleConns, o.IdleConns),
			get:    func(s *ServerResult) Series { return s.IdleKiB },
			versus: Nginx,
			target: &target{higher: false, bound: 1.5, text: "≤ 1.5× nginx",
				why: "a Go TLS server holds a goroutine (8 KiB stack or more), a tls.Conn with its record buffers, AES-GCM states and parsed client certificate, and net/http's bufio reader and writer (4 KiB each) for every idle connection, where nginx releases an idle connection's buffers; and the Go collector (GOGC=100) lets the heap grow to about twice its live size before it collects, which the handshakes' garbage fills, so the RSS settles near twice the live heap (docs/proxy-performance.md has the breakdown)"},
		},
		{
			title: "RSS before the idle connections", unit: "MiB", format: "%.1f",
			how: "the baseline of the measurement above.",
			get: func(s *ServerResult) Series { return s.BaseRSSMiB },
		},
	}
}

// serverCPUMeaning says what a per-server-core-second figure means beside the rate it divides:
// clientCost says why the load generator's share pulls the rate's ratios toward 1.
func serverCPUMeaning(clientCost string) string {
	return "The rate above is compressed toward 1× nginx: the Go load generator shares the same cores with the server and " + clientCost +
		", so a server that needs less CPU leaves it to the client and gains less rate than it saves. " +
		"This figure is the server's own cost, which the client cannot compress: how many a core of that server does. It is reported beside the rate, not judged; the target is on the rate."
}

// Render writes the Markdown report of a run.
func Render(r *Result) string {
	var b strings.Builder
	o := r.Options
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# mtlsgate bench\n\n")
	p("The reference gateway (Kong mode and ALB mode) against nginx and HAProxy doing the same work, measured side by side in one run by `mtlsgate bench`. ")
	p("Every figure below was measured in this run; each is the **median of %d rounds** (min and max beside it), and rounds were interleaved (%s, then again) so drift hits every server alike.\n\n",
		o.Rounds, strings.Join(labels(r.Servers), ", "))
	p("## Machine and run\n\n")
	m := r.Machine
	p("| | |\n|---|---|\n")
	p("| CPUs (nproc) | %d |\n| CPU | %s |\n| kernel | %s |\n| Go | %s |\n| nginx | %s |\n| HAProxy | %s |\n", m.CPUs, m.CPUModel, m.Kernel, m.GoVersion, m.Nginx, m.HAProxy)
	p("| started | %s |\n| took | %s |\n| rounds × duration | %d × %s per measurement |\n", r.Started.UTC().Format(time.RFC3339), r.Elapsed.Round(time.Second), o.Rounds, o.Duration)
	p("| load average before → after | %s → %s |\n\n", r.LoadBefore, r.LoadAfter)
	p("All servers listen on 127.0.0.1 with the same PKI (`fixtures.Generate`, seed 1: ECDSA P-256 root CA, server and client certificates), proxy to the same echo upstream (`mtlsgate serve upstream`, its own process) and get the same number of cores: ")
	p("the reference is one Go process (GOMAXPROCS = %d), nginx runs `worker_processes 2`, HAProxy `nbthread 2`. ", m.CPUs)
	p("The load generator (this process, Go) runs **on the same %d cores** as the server under test, so absolute figures are lower than on a dedicated client; the ratios are what this report is for. ", m.CPUs)
	p("A machine shared with other work (compilers, tests) makes single rounds noisy; compare the min–max spread before trusting a ratio.\n\n")

	renderVerdicts(&b, r)
	for _, ms := range measurements(o) {
		renderMeasurement(&b, r, ms)
	}
	renderSim(&b, r)
	if r.Sim.Skipped == "" {
		renderSimHandshakes(&b, r)
	}
	renderErrors(&b, r)
	return b.String()
}

func labels(srs []*ServerResult) []string {
	var out []string
	for _, s := range srs {
		out = append(out, s.Label)
	}
	return out
}

func find(r *Result, name string) *ServerResult {
	for _, s := range r.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func renderMeasurement(b *strings.Builder, r *Result, ms measurement) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	heading := "##"
	if ms.sub {
		heading = "###"
	}
	p("%s %s\n\n%s\n\n", heading, ms.title, ms.how)
	ratioCols := []string{}
	for _, base := range []string{Nginx, HAProxy} {
		if find(r, base) != nil {
			ratioCols = append(ratioCols, base)
		}
	}
	p("| server | median (%s) | min – max | rounds |", ms.unit)
	for _, c := range ratioCols {
		p(" ÷ %s |", serverLabel(c))
	}
	if ms.target != nil {
		p(" target | verdict |")
	}
	p("\n|---|---:|---|---:|")
	for range ratioCols {
		p("---:|")
	}
	if ms.target != nil {
		p("---|---|")
	}
	p("\n")
	var misses []string
	for _, s := range r.Servers {
		sum := ms.get(s).Summarize()
		if s.Skipped != "" || !sum.Valid {
			why := s.Skipped
			if why == "" {
				why = "no round produced a value (see Errors)"
			}
			p("| %s | not measured | %s | 0 |", s.Label, escape(why))
			for range ratioCols {
				p(" – |")
			}
			if ms.target != nil {
				p(" %s | %s |", targetCell(s, ms.target.text), targetCell(s, "not measured"))
			}
			p("\n")
			continue
		}
		p("| %s | "+ms.format+" | "+ms.format+" – "+ms.format+" | %d |", s.Label, sum.Median, sum.Min, sum.Max, sum.N)
		for _, c := range ratioCols {
			if ratio, ok := Ratio(sum, ms.get(find(r, c)).Summarize()); ok && c != s.Name {
				p(" %.2f× |", ratio)
			} else {
				p(" – |")
			}
		}
		if ms.target != nil {
			verdict, missed := judge(r, s, sum, ms)
			p(" %s | %s |", targetCell(s, ms.target.text), targetCell(s, verdict))
			if missed {
				misses = append(misses, s.Label)
			}
		}
		p("\n")
	}
	p("\n")
	if len(misses) > 0 {
		p("**Missed** by %s. Why: %s.\n\n", strings.Join(misses, " and "), ms.target.why)
	}
}

// judgement is one row of the verdict table: a target, a reference mode and how it did.
type judgement struct {
	what, server, target, value, verdict string
	missed, conclusive                   bool
}

// judgements judges every target for each reference mode in the run, and the simulator.
func judgements(r *Result) []judgement {
	var out []judgement
	for _, ms := range measurements(r.Options) {
		if ms.target == nil {
			continue
		}
		for _, s := range r.Servers {
			if s.Name != Kong && s.Name != ALB {
				continue
			}
			j := judgement{what: ms.title, server: s.Label, target: ms.target.text, value: "–"}
			sum := ms.get(s).Summarize()
			switch {
			case s.Skipped != "" || !sum.Valid:
				j.verdict = "not measured"
			default:
				j.verdict, j.missed = judge(r, s, sum, ms)
				j.value = valueCell(r, sum, ms)
			}
			j.conclusive = !strings.Contains(j.verdict, "not ")
			out = append(out, j)
		}
	}
	return append(out,
		simJudgement(r, "Simulator CPU per request", "mtlsgate load", fmt.Sprintf("≤ %.1f× vegeta CLI", simBound), simBound, r.Sim.SimCPU, r.Sim.VegetaCPU),
		simJudgement(r, "Simulator CPU per full mTLS handshake", "mtlsgate load --mode handshake", fmt.Sprintf("≤ %.2f× bare crypto/tls loop", handshakeBound), handshakeBound, r.Sim.SimHandshakeCPU, r.Sim.DialCPU))
}

// simJudgement judges the simulator's CPU against a baseline client's at most bound ×, with the
// ratio's spread over the rounds.
func simJudgement(r *Result, what, server, text string, bound float64, sim, base Series) judgement {
	j := judgement{what: what, server: server, target: text, value: "–"}
	sc, bc := sim.Summarize(), base.Summarize()
	if ratio, ok := Ratio(sc, bc); ok && r.Sim.Skipped == "" && bc.Min > 0 {
		j.verdict, j.missed = verdict(&target{bound: bound}, ratio, sc.Min/bc.Max, sc.Max/bc.Min, true)
		j.value = fmt.Sprintf("%.2f× (%.2f×–%.2f×)", ratio, sc.Min/bc.Max, sc.Max/bc.Min)
	} else {
		j.verdict = "not measured"
		if r.Sim.Skipped != "" {
			j.verdict += ": " + r.Sim.Skipped
		}
	}
	j.conclusive = !strings.Contains(j.verdict, "not ")
	return j
}

// valueCell writes a median as a ratio to the target's baseline with the range the rounds allow,
// or as an absolute figure with its min–max.
func valueCell(r *Result, sum Summary, ms measurement) string {
	if ms.versus == "" {
		return fmt.Sprintf(ms.format+" %s ("+ms.format+"–"+ms.format+")", sum.Median, ms.unit, sum.Min, sum.Max)
	}
	base := find(r, ms.versus)
	if base == nil {
		return "–"
	}
	bs := ms.get(base).Summarize()
	ratio, ok := Ratio(sum, bs)
	if !ok || bs.Min == 0 || bs.Max == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f× (%.2f×–%.2f×)", ratio, sum.Min/bs.Max, sum.Max/bs.Min)
}

// renderVerdicts opens the report: every target with its verdict and the ratio's spread, and
// what a reader should conclude from them.
func renderVerdicts(b *strings.Builder, r *Result) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	js := judgements(r)
	p("## Verdicts\n\n| measurement | reference | target | median (min–max over rounds) | verdict |\n|---|---|---|---|---|\n")
	var met, missed, open int
	for _, j := range js {
		p("| %s | %s | %s | %s | %s |\n", j.what, j.server, j.target, j.value, escape(j.verdict))
		switch {
		case !j.conclusive:
			open++
		case j.missed:
			missed++
		default:
			met++
		}
	}
	p("\n**What to conclude:** %d of %d targets met conclusively, %d missed, %d not measured or not conclusive. ", met, len(js), missed, open)
	switch {
	case missed == 0 && open == 0:
		p("On this machine the reference is not the bottleneck of a test that nginx could carry.\n\n")
	case missed > 0:
		p("Where a target is missed, a load test against the reference measures the reference, not only the gateway's configuration: size rates from nginx's figures below, and read each miss's explanation under its table.\n\n")
	default:
		p("Rerun with more rounds (`--rounds 5 --duration 10s`) on a quiet machine before relying on the open rows.\n\n")
	}
}

// targetCell shows a target or verdict on the reference's rows only: the targets are the
// reference's.
func targetCell(s *ServerResult, text string) string {
	if s.Name != Kong && s.Name != ALB {
		return "–"
	}
	return text
}

// judge says whether the reference row s meets the measurement's target.
func judge(r *Result, s *ServerResult, sum Summary, ms measurement) (string, bool) {
	if s.Name != Kong && s.Name != ALB {
		return "–", false
	}
	t := ms.target
	value, lo, hi := sum.Median, sum.Min, sum.Max
	if ms.versus != "" {
		base := find(r, ms.versus)
		if base == nil {
			return "not judged: " + serverLabel(ms.versus) + " not in this run", false
		}
		bs := ms.get(base).Summarize()
		ratio, ok := Ratio(sum, bs)
		if !ok || bs.Min == 0 {
			return "not judged: " + serverLabel(ms.versus) + " not measured", false
		}
		// The widest ratio the rounds allow: our worst against its best, and the reverse.
		value, lo, hi = ratio, sum.Min/bs.Max, sum.Max/bs.Min
	}
	return verdict(t, value, lo, hi, ms.versus != "")
}

// verdict judges a median against a target, and says when the bound lies inside the spread the
// rounds allow: on a noisy machine such a verdict could go either way.
func verdict(t *target, value, lo, hi float64, ratio bool) (string, bool) {
	met := value >= t.bound
	if !t.higher {
		met = value <= t.bound
	}
	out := "**missed**"
	if met {
		out = "**met**"
	}
	if lo < t.bound && t.bound < hi {
		if ratio {
			out += fmt.Sprintf(" (not conclusive: rounds allow %.2f×–%.2f×)", lo, hi)
		} else {
			out += fmt.Sprintf(" (not conclusive: rounds range %.1f–%.1f)", lo, hi)
		}
	}
	return out, !met
}

func renderSim(b *strings.Builder, r *Result) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	s := r.Sim
	o := r.Options
	p("## Load simulator CPU per request vs the vegeta CLI\n\n")
	if s.Skipped != "" {
		p("Not measured: %s.\n\n", escape(s.Skipped))
		return
	}
	p("The same attack twice per round, each as its own process, alternating which goes first: `vegeta attack -rate %d/1s -duration %s -keepalive=true -http2=false -insecure -cert client.crt -key client.key -max-workers 256` and `mtlsgate load --url … --population valid=100 (all other classes 0) --mode keepalive --rate %d --duration %s --max-workers 256`, both against %s's `GET /anything` (the fastest server in the run, so the server is not what limits either client). CPU is the process's user + system time (getrusage after it exits) divided by the requests it sent.\n\n",
		s.Rate, o.Duration, s.Rate, o.Duration, s.Target)
	vc, sc := s.VegetaCPU.Summarize(), s.SimCPU.Summarize()
	renderCPUTable(b, "request", []cpuRow{{"vegeta CLI", vc, s.VegetaRequests}, {"mtlsgate load", sc, s.SimRequests}})
	ratio, ok := Ratio(sc, vc)
	switch {
	case !ok:
		p("Ratio simulator ÷ vegeta: not computed (a side has no valid round). Target ≤ %.1f×: not judged.\n\n", simBound)
	case ratio <= simBound:
		v, _ := verdict(&target{bound: simBound}, ratio, sc.Min/vc.Max, sc.Max/vc.Min, true)
		p("Ratio simulator ÷ vegeta: **%.2f×**. Target ≤ %.1f×: %s.\n\n", ratio, simBound, v)
	default:
		v, _ := verdict(&target{bound: simBound}, ratio, sc.Min/vc.Max, sc.Max/vc.Min, true)
		p("Ratio simulator ÷ vegeta: **%.2f×**. Target ≤ %.1f×: %s. Why: both clients pace requests with vegeta's attacker, so the difference is in what the simulator does per answer beyond writing it to a file (its class's classification, two vegeta.Metrics, a timeline sample: well under a microsecond of CPU each, by Go benchmark) and in its HTTP client. On a few shared cores most of either client's CPU per request is the Go scheduler waking goroutines and threads (profiles put the kernel's context switches and the runtime's sysmon first), so every goroutine a request passes through costs more than the work done in it. Each mtlsgate process also spends tens of milliseconds in package initialisation before it starts (`GODEBUG=inittrace=1`: testcontainers-go's bootstrap reads every process in /proc), which the vegeta CLI does not: the marginal figure below leaves that out.\n\n", ratio, simBound, v)
	}
	renderMarginal(b, "request", "vegeta", s.VegetaMarginal, s.SimMarginal)
}

// renderMarginal quotes each client's marginal CPU per operation and their ratio, for reading
// beside the judged figure: it leaves out what each process spends once.
func renderMarginal(b *strings.Builder, op, baseline string, base, sim Series) {
	bm, sm := base.Summarize(), sim.Summarize()
	fmt.Fprintf(b, "Marginal CPU per %s (not judged; the fairer figure for sizing a long attack): each client also ran for a quarter of the duration in the same round, and the CPU the full run spent beyond that short one, over the %ss it did beyond it, is what one more %s costs, without what a process spends once whatever its length (start, loading identities, warming up connections, the simulator's index.html, load.json and junit.xml at the end). ", op, op, op)
	if !bm.Valid || !sm.Valid {
		fmt.Fprintf(b, "Not computed: a side has no valid round.\n\n")
		return
	}
	fmt.Fprintf(b, "%s: %.1f µs (%.1f – %.1f); simulator: %.1f µs (%.1f – %.1f)", baseline, bm.Median, bm.Min, bm.Max, sm.Median, sm.Min, sm.Max)
	if ratio, ok := Ratio(sm, bm); ok && bm.Min > 0 {
		fmt.Fprintf(b, "; ratio simulator ÷ %s %.2f× (rounds allow %.2f×–%.2f×)", baseline, ratio, sm.Min/bm.Max, sm.Max/bm.Min)
	}
	fmt.Fprintf(b, ".\n\n")
}

// cpuRow is one client of a CPU comparison: its CPU per operation and how many it completed.
type cpuRow struct {
	name string
	cpu  Summary
	n    Series
}

// renderCPUTable writes a CPU comparison's table, one row per client, per op ("request").
func renderCPUTable(b *strings.Builder, op string, rows []cpuRow) {
	fmt.Fprintf(b, "| client | median CPU per %s (µs) | min – max | %ss (median) | rounds |\n|---|---:|---|---:|---:|\n", op, op)
	for _, row := range rows {
		if !row.cpu.Valid {
			fmt.Fprintf(b, "| %s | not measured | – | – | 0 |\n", row.name)
			continue
		}
		fmt.Fprintf(b, "| %s | %.1f | %.1f – %.1f | %.0f | %d |\n", row.name, row.cpu.Median, row.cpu.Min, row.cpu.Max, row.n.Summarize().Median, row.cpu.N)
	}
	fmt.Fprintf(b, "\n")
}

// renderSimHandshakes compares the simulator's CPU per full handshake with the bare loop's, and
// turns both CPU figures into what one simulator core sustains, against nginx's peak.
func renderSimHandshakes(b *strings.Builder, r *Result) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	s := r.Sim
	o := r.Options
	p("## Load simulator CPU per full mTLS handshake vs a bare crypto/tls loop\n\n")
	p("The same handshake attack twice per round, each as its own process, alternating which goes first: `mtlsgate bench dial-loop` (the least a Go client can do: dial, a full TLS handshake with the client certificate and no resumption, one `GET` with `Connection: close`, read the answer, close; %d connections started per second for %s) and `mtlsgate load --mode handshake` at the same rate, against %s. CPU per completed handshake as above.\n\n",
		s.Rate, o.Duration, s.Target)
	dc, hc := s.DialCPU.Summarize(), s.SimHandshakeCPU.Summarize()
	renderCPUTable(b, "handshake", []cpuRow{{"bare crypto/tls loop", dc, s.DialHandshakes}, {"mtlsgate load --mode handshake", hc, s.SimHandshakes}})
	if ratio, ok := Ratio(hc, dc); ok && dc.Min > 0 {
		v, missed := verdict(&target{bound: handshakeBound}, ratio, hc.Min/dc.Max, hc.Max/dc.Min, true)
		p("Ratio simulator ÷ bare loop: **%.2f×**. Target ≤ %.2f×: %s.", ratio, handshakeBound, v)
		if missed {
			p(" Why: both clients dial, handshake, write one request and read the answer in one goroutine; the simulator also builds a request object and parses the answer's headers into a map (http.ReadResponse), and passes each hit through vegeta's pacer, worker and result goroutines, where the loop starts one goroutine per connection and reads the status line.")
		}
		p("\n\n")
	} else {
		p("Ratio simulator ÷ bare loop: not computed (a side has no valid round).\n\n")
	}
	renderMarginal(b, "handshake", "bare loop", s.DialMarginal, s.SimHandshakeMarginal)

	p("### How many simulator cores a gateway needs\n\n")
	p("One core gives 1,000,000 µs of CPU a second, so what one simulator process sustains per core is 1,000,000 ÷ its CPU per operation (measured above at a rate it kept up with). Set against nginx's peak in this run, that is how many simulator cores it takes to load nginx here; scale by your gateway's own peak. The marginal columns use the marginal CPU per operation instead, which is what a long attack costs per operation once the process is running; the first columns include a short run's fixed costs, so they overstate the cores a long attack needs.\n\n")
	p("| operation | simulator CPU (µs) | per simulator core (/s) | nginx peak here (/s) | simulator cores for nginx's peak | marginal CPU (µs) | marginal per core (/s) | marginal cores for nginx's peak |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	nginx := find(r, Nginx)
	for _, row := range []struct {
		what          string
		cpu, marginal Summary
		peak          func(*ServerResult) Series
	}{{"keep-alive request", s.SimCPU.Summarize(), s.SimMarginal.Summarize(), func(x *ServerResult) Series { return x.KeepAlive }},
		{"full mTLS handshake", hc, s.SimHandshakeMarginal.Summarize(), func(x *ServerResult) Series { return x.Handshakes }}} {
		if !row.cpu.Valid || row.cpu.Median <= 0 {
			p("| %s | not measured | – | – | – | – | – | – |\n", row.what)
			continue
		}
		var ps Summary
		if nginx != nil {
			ps = row.peak(nginx).Summarize()
		}
		// cols is one CPU figure's columns: the CPU, what a core sustains, the cores for nginx.
		cols := func(cpu Summary, peakCol bool) string {
			if !cpu.Valid || cpu.Median <= 0 {
				if peakCol {
					return "not measured | – | – | –"
				}
				return "not measured | – | –"
			}
			perCore := 1e6 / cpu.Median
			peak, cores := "not measured", "–"
			if ps.Valid {
				peak, cores = fmt.Sprintf("%.0f", ps.Median), fmt.Sprintf("%.2f", ps.Median/perCore)
			}
			if peakCol {
				return fmt.Sprintf("%.1f | %.0f | %s | %s", cpu.Median, perCore, peak, cores)
			}
			return fmt.Sprintf("%.1f | %.0f | %s", cpu.Median, perCore, cores)
		}
		p("| %s | %s | %s |\n", row.what, cols(row.cpu, true), cols(row.marginal, false))
	}
	p("\n")
}

func renderErrors(b *strings.Builder, r *Result) {
	var lines []string
	for _, s := range r.Servers {
		for _, e := range s.Errors {
			lines = append(lines, fmt.Sprintf("- %s, %s", s.Label, firstLine(e)))
		}
	}
	for _, e := range r.Sim.Errors {
		lines = append(lines, "- simulator comparison, "+firstLine(e))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "## Errors\n\nRounds with an error count only where they produced a value.\n\n%s\n", strings.Join(lines, "\n"))
}

// escape keeps a message from breaking a Markdown table.
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// Write renders the report into dir/bench.md, written whole under a temporary name first so a
// reader never sees half a report.
func Write(dir string, r *Result) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write bench report: %w", err)
	}
	path := filepath.Join(dir, ReportFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(Render(r)), 0o644); err != nil {
		return "", fmt.Errorf("write bench report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write bench report: %w", err)
	}
	return path, nil
}
