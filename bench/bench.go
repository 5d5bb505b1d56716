// Package bench is `make bench`: the reference gateway (Kong mode and ALB mode) against nginx
// and HAProxy doing the same work on the same machine, measured side by side in one run, and the
// load simulator's CPU per request against the vegeta CLI's. Every server runs as its own process
// so its memory and CPU can be read from /proc; measurements are interleaved in rounds so drift
// hits all servers alike, and the report quotes medians and ratios, never one lucky run.
package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// Options configures a run. Zero fields take the values of Defaults.
type Options struct {
	// Binary is the mtlsgate executable that serves upstream, kong and alb and runs load.
	Binary string
	// Vegeta is the vegeta CLI; empty means `vegeta` on PATH, else built from the module cache.
	Vegeta string
	// WorkDir holds the PKI, configurations and logs; empty means a temporary directory,
	// removed at the end.
	WorkDir string
	// Rounds is how many times every server is measured; medians are over rounds.
	Rounds int
	// Duration is the length of each timed measurement (handshakes, keep-alive, latency, and
	// each side of the simulator comparison).
	Duration time.Duration
	// IdleConns is how many idle mTLS connections the memory measurement holds open; 0 skips it.
	IdleConns int
	// Servers are the servers to measure (Kong, ALB, Nginx, HAProxy), in round order.
	Servers []string
	// HandshakeConcurrency is how many connections handshake at once.
	HandshakeConcurrency int
	// KeepAliveWorkers is how many keep-alive connections (and vegeta workers) the peak uses.
	KeepAliveWorkers uint64
	// SimRate is the constant rate (requests/s) of the simulator-vs-vegeta attack; 0 skips it.
	SimRate int
	// MaxRequests bounds every attack, whatever its duration.
	MaxRequests uint64
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

// Defaults are a run that finishes in a few minutes on two cores.
func Defaults() Options {
	return Options{
		Rounds: 3, Duration: 4 * time.Second, IdleConns: 10000, Servers: AllServers(),
		HandshakeConcurrency: 16, KeepAliveWorkers: 32, SimRate: 500, MaxRequests: 5_000_000,
	}
}

func (o Options) withDefaults() Options {
	d := Defaults()
	if o.Rounds <= 0 {
		o.Rounds = d.Rounds
	}
	if o.Duration <= 0 {
		o.Duration = d.Duration
	}
	if o.IdleConns < 0 {
		o.IdleConns = 0
	}
	if len(o.Servers) == 0 {
		o.Servers = d.Servers
	}
	if o.HandshakeConcurrency <= 0 {
		o.HandshakeConcurrency = d.HandshakeConcurrency
	}
	if o.KeepAliveWorkers == 0 {
		o.KeepAliveWorkers = d.KeepAliveWorkers
	}
	if o.SimRate < 0 {
		o.SimRate = 0
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = d.MaxRequests
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Validate names the first bad option and how to fix it.
func (o Options) Validate() error {
	if o.Binary == "" {
		return errors.New("Binary: the mtlsgate executable is required (build it with make build)")
	}
	seen := map[string]bool{}
	for _, s := range o.Servers {
		if !slices.Contains(AllServers(), s) {
			return fmt.Errorf("only: unknown server %q (use %s)", s, strings.Join(AllServers(), ", "))
		}
		if seen[s] {
			return fmt.Errorf("only: %q is named twice", s)
		}
		seen[s] = true
	}
	if o.Rounds > 100 {
		return fmt.Errorf("rounds: %d is more than 100; medians settle long before", o.Rounds)
	}
	if o.Duration > 10*time.Minute {
		return fmt.Errorf("duration: %s is longer than 10m per measurement", o.Duration)
	}
	if o.IdleConns > 60000 {
		return fmt.Errorf("idle-conns: %d is more than the ephemeral port range holds (28k on Linux's default 32768-60999, plus headroom); use at most 60000", o.IdleConns)
	}
	return nil
}

// Result is everything one run measured.
type Result struct {
	Machine               Machine
	Options               Options
	Started               time.Time
	Elapsed               time.Duration
	Servers               []*ServerResult
	Sim                   SimResult
	LoadBefore, LoadAfter string
}

// ServerResult holds one server's figures, one value per round (NaN where a round failed).
type ServerResult struct {
	Name, Label string
	// Handshakes is completed connections per second: new TCP connection, full TLS 1.3 mTLS
	// handshake, one GET /anything answered 200, close.
	Handshakes Series
	// HandshakesPerCoreSec is the same connections per second of the server's own CPU time (user
	// + system over its process tree, from /proc): a figure the load generator's share of the
	// cores cannot compress toward 1, as it does the rate.
	HandshakesPerCoreSec Series
	// KeepAlive is GET /anything answered 200 per second over kept-alive connections.
	KeepAlive Series
	// KeepAlivePerCoreSec is the keep-alive requests per second of the server's own CPU time.
	KeepAlivePerCoreSec Series
	// HalfRate is the rate the latency measurement ran at (half that round's KeepAlive).
	HalfRate Series
	// P50 and P99 are latencies in milliseconds at HalfRate.
	P50, P99 Series
	// IdleKiB is the server's RSS growth per idle mTLS connection, in KiB.
	IdleKiB Series
	// BaseRSSMiB is the server's RSS before the idle connections were opened.
	BaseRSSMiB Series
	// Errors are what went wrong, per round.
	Errors []string
	// Skipped, when set, says why the server was not measured at all.
	Skipped string
}

// SimResult compares the load simulator's CPU per request with the vegeta CLI's.
type SimResult struct {
	Target string
	Rate   int
	// VegetaCPU and SimCPU are microseconds of CPU (user+system) per request.
	VegetaCPU, SimCPU Series
	// VegetaRequests and SimRequests are how many requests each sent.
	VegetaRequests, SimRequests Series
	// DialCPU and SimHandshakeCPU are microseconds of CPU per full mTLS handshake: the bare
	// crypto/tls loop's and `mtlsgate load --mode handshake`'s, at the same rate.
	DialCPU, SimHandshakeCPU Series
	// DialHandshakes and SimHandshakes are how many handshakes each completed.
	DialHandshakes, SimHandshakes Series
	// The marginal figures are microseconds of CPU per operation a run of Duration spent beyond
	// a run of a quarter of it, over the operations it did beyond it: what one more operation
	// costs, without what a process spends once (start, identities, warm-up, reports).
	VegetaMarginal, SimMarginal, DialMarginal, SimHandshakeMarginal Series
	Errors                                                          []string
	Skipped                                                         string
	// Off says the comparison was turned off on purpose (--sim-rate 0), so its absence is no
	// missing baseline.
	Off bool
}

// Missing lists every measurement the run was asked for but could not make (a server that did
// not start, the vegeta CLI that could not be built), each with its reason, so a caller can
// refuse to pass off a report with a missing baseline as complete.
func (r *Result) Missing() []string {
	var out []string
	for _, s := range r.Servers {
		if s.Skipped != "" {
			out = append(out, fmt.Sprintf("%s not measured: %s", s.Label, s.Skipped))
		}
	}
	if !r.Sim.Off && r.Sim.Skipped != "" {
		out = append(out, "simulator vs vegeta CLI not measured: "+r.Sim.Skipped)
	}
	return out
}

// Run measures every server for opts.Rounds rounds and returns the figures. It fails only when
// nothing can be measured (no PKI, no echo upstream); a server or round that fails is recorded
// in the result and the run goes on.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Options: opts, Started: time.Now(), LoadBefore: loadAvg()}
	defer func() {
		res.Elapsed = time.Since(res.Started)
		res.LoadAfter = loadAvg()
	}()
	res.Machine = DescribeMachine(ctx)
	work := opts.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "mtlsgate-bench-")
		if err != nil {
			return nil, fmt.Errorf("make work directory: %w", err)
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	nofile, err := raiseNoFile(opts.IdleConns)
	if err != nil {
		return nil, err
	}
	e := &env{work: work, binary: opts.Binary, idleConns: opts.IdleConns, nofile: nofile}
	progress(opts, "generating the PKI (seed 1) in %s", work)
	pki, err := writePKI(ctx, filepath.Join(work, "pki"))
	if err != nil {
		return nil, err
	}
	e.pki = pki.files
	c := newClient(pki.client, pki.roots, opts.MaxRequests)

	echo, err := startEcho(ctx, e)
	if err != nil {
		return nil, err
	}
	defer echo.stop(5 * time.Second)
	progress(opts, "echo upstream on %s", echo.url)

	byName := map[string]*ServerResult{}
	for _, name := range opts.Servers {
		sr := &ServerResult{Name: name, Label: serverLabel(name)}
		res.Servers = append(res.Servers, sr)
		byName[name] = sr
	}
	res.Sim = SimResult{Rate: opts.SimRate}
	var sim *simulator
	if opts.SimRate == 0 {
		res.Sim.Skipped = "turned off (--sim-rate 0)"
		res.Sim.Off = true
	} else if sim, err = newSimulator(ctx, opts, e, work); err != nil {
		res.Sim.Skipped = err.Error()
	}

	for round := 1; round <= opts.Rounds; round++ {
		for _, name := range opts.Servers {
			sr := byName[name]
			if sr.Skipped != "" {
				continue
			}
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("bench interrupted in round %d: %w", round, err)
			}
			progress(opts, "round %d/%d: %s", round, opts.Rounds, sr.Label)
			var simRun func(base string)
			if sim != nil && name == simTargetOf(res.Servers) {
				res.Sim.Target = sr.Label
				simRun = func(base string) { sim.measure(ctx, &res.Sim, base, round) }
			}
			measureServer(ctx, opts, e, c, sr, round, simRun)
		}
	}
	if sim != nil && res.Sim.Target == "" {
		res.Sim.Skipped = "no server could be started to attack"
	}
	return res, nil
}

// simTargetOf picks the server the simulator comparison attacks: the fastest kind still being
// measured, so the server is not what limits either client.
func simTargetOf(servers []*ServerResult) string {
	for _, name := range []string{Nginx, HAProxy, Kong, ALB} {
		for _, s := range servers {
			if s.Name == name && s.Skipped == "" {
				return name
			}
		}
	}
	return ""
}

// measureServer runs one round for one server: start it fresh, idle memory first (on a process
// that has served only the readiness probe), then handshakes, keep-alive peak and latency at
// half the peak; stop it.
func measureServer(ctx context.Context, opts Options, e *env, c *client, sr *ServerResult, round int, simRun func(base string)) {
	nan := math.NaN()
	record := func(what string, err error) {
		sr.Errors = append(sr.Errors, fmt.Sprintf("round %d: %s: %v", round, what, err))
		progress(opts, "  %s: %s: %v", sr.Label, what, err)
	}
	p, err := startServer(ctx, e, sr.Name, c)
	if err != nil {
		if len(sr.Handshakes) == 0 && round == 1 {
			sr.Skipped = firstLine(err.Error())
			sr.Errors = append(sr.Errors, fmt.Sprintf("round %d: start: %v", round, err))
			progress(opts, "  %s not measured: %v", sr.Label, err)
			return
		}
		record("start", err)
		for _, s := range []*Series{&sr.Handshakes, &sr.HandshakesPerCoreSec, &sr.KeepAlive, &sr.KeepAlivePerCoreSec, &sr.HalfRate, &sr.P50, &sr.P99, &sr.IdleKiB, &sr.BaseRSSMiB} {
			*s = append(*s, nan)
		}
		return
	}
	defer p.stop(10 * time.Second)

	if opts.IdleConns > 0 {
		perConn, base, err := measureIdle(ctx, opts, c, p)
		if err != nil {
			record("idle connections", err)
		}
		sr.IdleKiB = append(sr.IdleKiB, perConn)
		sr.BaseRSSMiB = append(sr.BaseRSSMiB, base)
	}

	quiesce(ctx, p.pid)
	cpu := startCPU(p.pid)
	hs := c.handshakes(ctx, p.url, opts.HandshakeConcurrency, opts.Duration)
	hsCore, cpuErr := cpu.perCoreSecond(hs.Completed + hs.Late)
	rate := hs.Rate()
	if hs.Completed == 0 || hs.Failed > hs.Completed/100 {
		record("handshakes", fmt.Errorf("%d completed, %d failed (first: %s)", hs.Completed, hs.Failed, hs.FirstError))
		if hs.Completed == 0 {
			rate, hsCore = nan, nan
		}
	}
	if cpuErr != nil {
		record("server CPU over the handshakes", cpuErr)
	}
	sr.Handshakes = append(sr.Handshakes, rate)
	sr.HandshakesPerCoreSec = append(sr.HandshakesPerCoreSec, hsCore)
	progress(opts, "  handshakes: %.0f/s (%d failed), %.0f per server core-second", hs.Rate(), hs.Failed, hsCore)

	quiesce(ctx, p.pid)
	cpu = startCPU(p.pid)
	peak, err := c.attack(ctx, p.url, 0, opts.KeepAliveWorkers, opts.Duration)
	kaCore, cpuErr := cpu.perCoreSecond(peak.Requests)
	peakRate := peak.Throughput
	if err == nil && peak.OK < peak.Requests*99/100 {
		err = fmt.Errorf("%d of %d requests answered 200 (first other: %s)", peak.OK, peak.Requests, peak.FirstError)
	}
	if err != nil {
		record("keep-alive peak", err)
		if peak.OK == 0 {
			peakRate, kaCore = nan, nan
		}
	}
	if cpuErr != nil {
		record("server CPU over the keep-alive peak", cpuErr)
	}
	sr.KeepAlive = append(sr.KeepAlive, peakRate)
	sr.KeepAlivePerCoreSec = append(sr.KeepAlivePerCoreSec, kaCore)
	progress(opts, "  keep-alive: %.0f req/s, %.0f per server core-second", peak.Throughput, kaCore)

	half := int(peakRate / 2)
	if math.IsNaN(peakRate) || half < 1 {
		sr.HalfRate, sr.P50, sr.P99 = append(sr.HalfRate, nan), append(sr.P50, nan), append(sr.P99, nan)
	} else {
		quiesce(ctx, p.pid)
		lat, err := c.attack(ctx, p.url, half, opts.KeepAliveWorkers, opts.Duration)
		if err == nil && lat.OK < lat.Requests*99/100 {
			err = fmt.Errorf("%d of %d requests answered 200 (first other: %s)", lat.OK, lat.Requests, lat.FirstError)
		}
		p50, p99 := ms(lat.P50), ms(lat.P99)
		if err != nil {
			record("latency at half the peak", err)
			if lat.OK == 0 {
				p50, p99 = nan, nan
			}
		}
		sr.HalfRate, sr.P50, sr.P99 = append(sr.HalfRate, float64(half)), append(sr.P50, p50), append(sr.P99, p99)
		progress(opts, "  at %d req/s: p50 %.2f ms, p99 %.2f ms", half, p50, p99)
	}
	if simRun != nil {
		quiesce(ctx, p.pid)
		simRun(p.url)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuMeter is a server's CPU time (its process tree's user + system) when a measurement
// started, so the work the measurement did can be divided by the CPU the server spent on it.
type cpuMeter struct {
	pid   int
	start time.Duration
	err   error
}

func startCPU(pid int) cpuMeter {
	t, err := ProcessTree(pid)
	return cpuMeter{pid: pid, start: t.CPU, err: err}
}

// perCoreSecond is ops per second of the server's CPU time since the meter started; NaN, with
// the reason, when /proc could not be read or shows no CPU spent.
func (m cpuMeter) perCoreSecond(ops uint64) (float64, error) {
	if m.err != nil {
		return math.NaN(), fmt.Errorf("read CPU before: %w", m.err)
	}
	t, err := ProcessTree(m.pid)
	if err != nil {
		return math.NaN(), fmt.Errorf("read CPU after: %w", err)
	}
	return opsPerCoreSecond(ops, t.CPU-m.start)
}

// opsPerCoreSecond divides ops by cpu in seconds. /proc counts CPU in ticks of 10ms, so a
// measurement that shows none has too little CPU to divide by.
func opsPerCoreSecond(ops uint64, cpu time.Duration) (float64, error) {
	if cpu <= 0 {
		return math.NaN(), fmt.Errorf("the server's process tree shows %s of CPU time over %d operations; measure longer (--duration)", cpu, ops)
	}
	return float64(ops) / cpu.Seconds(), nil
}

// measureIdle opens IdleConns connections and returns the server's RSS growth per connection in
// KiB and its RSS before, in MiB.
func measureIdle(ctx context.Context, opts Options, c *client, p *process) (perConnKiB, baseMiB float64, err error) {
	nan := math.NaN()
	before, err := ProcessTree(p.pid)
	if err != nil {
		return nan, nan, fmt.Errorf("read RSS before: %w", err)
	}
	start := time.Now()
	conns, err := c.idleConns(ctx, p.url, opts.IdleConns, 32)
	if err != nil {
		return nan, float64(before.RSSKiB) / 1024, err
	}
	defer closeAll(conns)
	after, err := settledRSS(ctx, p.pid)
	if err != nil {
		return nan, float64(before.RSSKiB) / 1024, fmt.Errorf("read RSS after: %w", err)
	}
	if err := stillOpen(ctx, conns, max(1, len(conns)/100)); err != nil {
		return nan, float64(before.RSSKiB) / 1024, err
	}
	per := float64(after.RSSKiB-before.RSSKiB) / float64(len(conns))
	progress(opts, "  idle: %d connections in %s, RSS %d → %d KiB (%d processes): %.1f KiB each",
		len(conns), time.Since(start).Round(time.Millisecond), before.RSSKiB, after.RSSKiB, after.Procs, per)
	return per, float64(before.RSSKiB) / 1024, nil
}

// quiesce waits, up to 5s, until the server's process tree uses less than a tenth of a core, so
// one measurement's tail (10,000 connections closing, connections draining) does not bleed into
// the next.
func quiesce(ctx context.Context, pid int) {
	last, err := ProcessTree(pid)
	if err != nil {
		return
	}
	const every = 200 * time.Millisecond
	tick := time.NewTicker(every)
	defer tick.Stop()
	for range 25 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cur, err := ProcessTree(pid)
		if err != nil {
			return
		}
		busy := cur.CPU - last.CPU
		last = cur
		if busy < every/10 {
			return
		}
	}
}

// settledRSS reads the tree's RSS every 200ms until two readings agree within 0.5% (or 5s pass),
// so memory the server is still allocating for the last connections is counted.
func settledRSS(ctx context.Context, pid int) (TreeStat, error) {
	last, err := ProcessTree(pid)
	if err != nil {
		return last, err
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for range 25 {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-tick.C:
		}
		cur, err := ProcessTree(pid)
		if err != nil {
			return last, err
		}
		diff := math.Abs(float64(cur.RSSKiB - last.RSSKiB))
		last = cur
		if diff <= 0.005*float64(cur.RSSKiB) {
			break
		}
	}
	return last, nil
}

// raiseNoFile lifts this process's open-file limit to the hard limit (children inherit it) and
// checks that idle connections fit: each costs one descriptor here and one in the server.
func raiseNoFile(idle int) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	if need := uint64(idle) + 2048; lim.Cur < need {
		return 0, fmt.Errorf("idle-conns: %d idle connections need %d open files but the hard limit is %d; lower --idle-conns or raise the limit (ulimit -Hn)", idle, need, lim.Cur)
	}
	return lim.Cur, nil
}

func progress(o Options, format string, args ...any) {
	fmt.Fprintf(o.Progress, format+"\n", args...)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// benchPKI is the written PKI and what the client needs of it.
type benchPKI struct {
	files  files
	client tls.Certificate
	roots  *x509.CertPool
}

// writePKI generates the catalogue from a fixed seed (the same keys every run) and writes it.
func writePKI(ctx context.Context, dir string) (*benchPKI, error) {
	seed := int64(1)
	p, err := fixtures.Generate(ctx, fixtures.Options{Seed: &seed})
	if err != nil {
		return nil, fmt.Errorf("generate PKI: %w", err)
	}
	if err := p.WriteDir(dir); err != nil {
		return nil, err
	}
	server := p.Get(fixtures.Server)
	key, err := server.KeyPEM()
	if err != nil {
		return nil, err
	}
	f := files{
		dir: dir, ca: filepath.Join(dir, fixtures.RootCA+".crt"),
		serverCert: filepath.Join(dir, fixtures.Server+".crt"), serverKey: filepath.Join(dir, fixtures.Server+".key"),
		serverPEM:  filepath.Join(dir, "server-haproxy.pem"),
		clientCert: filepath.Join(dir, fixtures.Client+".crt"), clientKey: filepath.Join(dir, fixtures.Client+".key"),
		clientCN: fixtures.ClientCommonName,
	}
	if err := os.WriteFile(f.serverPEM, append(server.ChainPEM(), key...), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", f.serverPEM, err)
	}
	return &benchPKI{files: f, client: p.Get(fixtures.Client).TLSCertificate(), roots: p.Pool(fixtures.RootCA)}, nil
}
