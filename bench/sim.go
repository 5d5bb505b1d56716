package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/load/scenario"
)

// simulator runs the same constant-rate keep-alive attack twice, once with the vegeta CLI and
// once with `mtlsgate load`, each as its own process, and compares their CPU per request.
type simulator struct {
	opts       Options
	vegeta     string
	pkiDir     string
	clientCert string
	clientKey  string
	work       string
	population string
}

// newSimulator finds (or builds) the vegeta CLI and checks that the binary has `load`.
func newSimulator(ctx context.Context, opts Options, e *env, work string) (*simulator, error) {
	s := &simulator{opts: opts, pkiDir: e.pki.dir, clientCert: e.pki.clientCert, clientKey: e.pki.clientKey, work: work}
	help, _ := exec.CommandContext(ctx, opts.Binary, "load", "-h").CombinedOutput()
	if !strings.Contains(string(help), "-population") {
		return nil, fmt.Errorf("%s has no `load` subcommand (%s)", opts.Binary, firstLine(strings.TrimSpace(string(help))))
	}
	var parts []string
	for _, name := range scenario.ClassNames() {
		w := 0
		if name == scenario.Valid {
			w = 100
		}
		parts = append(parts, name+"="+strconv.Itoa(w))
	}
	s.population = strings.Join(parts, ",")
	s.vegeta = opts.Vegeta
	if s.vegeta == "" {
		if path, err := exec.LookPath("vegeta"); err == nil {
			s.vegeta = path
		}
	}
	if s.vegeta == "" {
		s.vegeta = filepath.Join(work, "vegeta")
		progress(opts, "building the vegeta CLI from the module cache")
		bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(bctx, "go", "build", "-o", s.vegeta, "github.com/tsenart/vegeta/v12").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("build the vegeta CLI (go build github.com/tsenart/vegeta/v12): %v: %s", err, firstLine(string(out)))
		}
	}
	return s, nil
}

// measure runs the four attacks against base: the keep-alive pair (vegeta CLI, simulator), then
// the handshake pair (bare crypto/tls loop, simulator), alternating which of a pair goes first
// from round to round.
func (s *simulator) measure(ctx context.Context, r *SimResult, base string, round int) {
	s.measurePair(ctx, r, round, base, []string{"vegeta CLI", "mtlsgate load"}, "request",
		[]attackFunc{s.runVegeta, s.runLoadMode("keepalive")},
		[][3]*Series{{&r.VegetaCPU, &r.VegetaRequests, &r.VegetaMarginal}, {&r.SimCPU, &r.SimRequests, &r.SimMarginal}})
	s.measurePair(ctx, r, round, base, []string{"bare crypto/tls loop", "mtlsgate load --mode handshake"}, "handshake",
		[]attackFunc{s.runDialLoop, s.runLoadMode("handshake")},
		[][3]*Series{{&r.DialCPU, &r.DialHandshakes, &r.DialMarginal}, {&r.SimHandshakeCPU, &r.SimHandshakes, &r.SimHandshakeMarginal}})
}

// attackFunc runs one client's attack for d against base and returns its CPU and operations;
// tag names its output files apart.
type attackFunc func(ctx context.Context, base, tag string, d time.Duration) (time.Duration, uint64, error)

// shortRun is the fraction of Duration the second, short attack of each client lasts, for the
// marginal CPU per operation.
const shortRun = 4

// measurePair runs two clients doing the same attack, each as its own process, and records each
// one's CPU per operation. Each client then attacks again for a quarter of the duration: the
// CPU the long run spent beyond the short one, over the operations it did beyond it, is the
// marginal CPU per operation, free of what a process spends once whatever its length (start,
// identities, connection warm-up, the reports at the end).
func (s *simulator) measurePair(ctx context.Context, r *SimResult, round int, base string, names []string, op string,
	runs []attackFunc, series [][3]*Series) {
	order := []int{0, 1}
	if round%2 == 0 {
		order = []int{1, 0}
	}
	for _, i := range order {
		cpu, n, err := runs[i](ctx, base, strconv.Itoa(round), s.opts.Duration)
		perReq := math.NaN()
		if err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("round %d: %s: %v", round, names[i], err))
			progress(s.opts, "  %s: %v", names[i], err)
		}
		if n > 0 {
			perReq = float64(cpu.Microseconds()) / float64(n)
		}
		*series[i][0] = append(*series[i][0], perReq)
		*series[i][1] = append(*series[i][1], float64(n))
		progress(s.opts, "  %s: %d %ss, CPU %s, %.1f µs/%s", names[i], n, op, cpu.Round(time.Millisecond), perReq, op)

		marginal := math.NaN()
		short := s.opts.Duration / shortRun
		scpu, sn, serr := runs[i](ctx, base, strconv.Itoa(round)+"-short", short)
		switch {
		case serr != nil:
			r.Errors = append(r.Errors, fmt.Sprintf("round %d: %s, %s run: %v", round, names[i], short, serr))
			progress(s.opts, "  %s, %s run: %v", names[i], short, serr)
		case err == nil && n > sn:
			marginal = float64((cpu - scpu).Microseconds()) / float64(n-sn)
		}
		*series[i][2] = append(*series[i][2], marginal)
		progress(s.opts, "  %s, %s run: %d %ss, CPU %s; marginal %.1f µs/%s", names[i], short, sn, op, scpu.Round(time.Millisecond), marginal, op)
	}
}

// runVegeta is `vegeta attack` at the rate with keep-alive and the client certificate, then
// `vegeta report -type json` for the request count (its CPU is not counted).
func (s *simulator) runVegeta(ctx context.Context, base, tag string, d time.Duration) (time.Duration, uint64, error) {
	out := filepath.Join(s.work, "vegeta-"+tag+".bin")
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.vegeta, "attack",
		"-rate", fmt.Sprintf("%d/1s", s.opts.SimRate), "-duration", d.String(),
		"-cert", s.clientCert, "-key", s.clientKey, "-insecure", "-http2=false", "-keepalive=true",
		"-max-workers", "256", "-output", out)
	cmd.Stdin = strings.NewReader("GET " + base + requestPath + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("vegeta attack: %w: %s", err, firstLine(stderr.String()))
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	rep, err := exec.CommandContext(ctx, s.vegeta, "report", "-type", "json", out).Output()
	if err != nil {
		return cpu, 0, fmt.Errorf("vegeta report: %w", err)
	}
	var m struct {
		Requests    uint64         `json:"requests"`
		StatusCodes map[string]int `json:"status_codes"`
	}
	if err := json.Unmarshal(rep, &m); err != nil {
		return cpu, 0, fmt.Errorf("vegeta report: decode: %w", err)
	}
	if ok := uint64(m.StatusCodes["200"]); ok < m.Requests*99/100 {
		return cpu, m.Requests, fmt.Errorf("vegeta: %d of %d requests answered 200 (codes %v)", ok, m.Requests, m.StatusCodes)
	}
	return cpu, m.Requests, nil
}

// runDialLoop is `mtlsgate bench dial-loop` at the same rate and duration: the bare crypto/tls
// baseline of a full handshake's client CPU.
func (s *simulator) runDialLoop(ctx context.Context, base, _ string, d time.Duration) (time.Duration, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.opts.Binary, "bench", "dial-loop",
		"--url", base+requestPath, "--cert", s.clientCert, "--key", s.clientKey,
		"--rate", strconv.Itoa(s.opts.SimRate), "--duration", d.String(), "--concurrency", "256")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if cmd.ProcessState == nil {
		return 0, 0, fmt.Errorf("dial loop: %w", err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if err != nil {
		return cpu, 0, fmt.Errorf("dial loop: %w: %s", err, firstLine(stderr.String()))
	}
	var res DialLoopResult
	if err := json.Unmarshal(out, &res); err != nil {
		return cpu, 0, fmt.Errorf("dial loop: decode its result: %w", err)
	}
	if res.Failed > res.Completed/100 {
		return cpu, res.Completed, fmt.Errorf("dial loop: %d of %d handshakes failed (first: %s)", res.Failed, res.Completed+res.Failed, res.FirstError)
	}
	return cpu, res.Completed, nil
}

// runLoadMode returns runLoad for one connection mode.
func (s *simulator) runLoadMode(mode string) attackFunc {
	return func(ctx context.Context, base, tag string, d time.Duration) (time.Duration, uint64, error) {
		return s.runLoad(ctx, base, tag, mode, d)
	}
}

// runLoad is `mtlsgate load` with only the valid class, the same rate, duration, connection mode
// and worker cap; the request count comes from its load.json.
func (s *simulator) runLoad(ctx context.Context, base, tag, mode string, d time.Duration) (time.Duration, uint64, error) {
	out := filepath.Join(s.work, "load-"+mode+"-"+tag)
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.opts.Binary, "load",
		"--url", base+requestPath, "--certs", s.pkiDir, "--population", s.population, "--mode", mode,
		"--rate", strconv.Itoa(s.opts.SimRate), "--duration", d.String(),
		"--max-requests", strconv.FormatUint(s.opts.MaxRequests, 10), "--max-workers", "256", "--out", out)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	runErr := cmd.Run()
	if cmd.ProcessState == nil {
		return 0, 0, fmt.Errorf("mtlsgate load: %w", runErr)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	b, err := os.ReadFile(filepath.Join(out, "load.json"))
	if err != nil {
		return cpu, 0, fmt.Errorf("mtlsgate load wrote no load.json (%v): %s", runErr, lastLines(output.String(), 3))
	}
	var doc struct {
		Result struct {
			Requests   uint64 `json:"requests"`
			Violations uint64 `json:"violations"`
			ValidLost  uint64 `json:"valid_lost"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return cpu, 0, fmt.Errorf("mtlsgate load: decode load.json: %w", err)
	}
	n := doc.Result.Requests
	if doc.Result.ValidLost > n/100 {
		return cpu, n, fmt.Errorf("mtlsgate load: %d of %d valid requests not answered as expected", doc.Result.ValidLost, n)
	}
	if runErr != nil {
		var exit *exec.ExitError
		if !errors.As(runErr, &exit) {
			return cpu, n, fmt.Errorf("mtlsgate load: %w", runErr)
		}
		// A failed gate (violations) still measured the CPU of a full attack: keep it, say so.
		return cpu, n, fmt.Errorf("mtlsgate load exited %d (%d violations): %s", exit.ExitCode(), doc.Result.Violations, lastLines(output.String(), 2))
	}
	return cpu, n, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
