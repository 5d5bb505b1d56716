//go:build soak

// Package soak_test is the long-running soak `make soak` runs against the race build: bounded
// keep-alive traffic, handshake storms (a new TLS connection per request, with and without a
// client certificate) and Admin API churn against the in-process Kong reference, sampling RSS,
// goroutines and open file descriptors over time. It fails on any unexpected status, on a Go heap that
// keeps growing, or on goroutines or descriptors left behind. It is not part of `make test`.
package soak_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/bench"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

var (
	duration = flag.Duration("soak.duration", 10*time.Minute, "how long traffic runs")
	every    = flag.Duration("soak.sample", 10*time.Second, "how often RSS, goroutines and fds are sampled")
	outDir   = flag.String("soak.out", "", "directory for soak.md and soak.json (none when empty)")
)

// Sample is one point of the soak's time series.
type Sample struct {
	Elapsed time.Duration `json:"elapsed_ns"`
	RSSKiB  int64         `json:"rss_kib"`
	// HeapKiB is the Go heap in use; under the race detector RSS also holds the detector's own
	// per-goroutine history, which grows with every goroutine ever started (golang/go#63276: the
	// race runtime keeps dead goroutines' thread contexts), so leaks are judged by the heap.
	HeapKiB    int64 `json:"heap_kib"`
	Goroutines int   `json:"goroutines"`
	FDs        int   `json:"fds"`
	Requests   int64 `json:"requests"`
	Violations int64 `json:"violations"`
}

// Report is what soak.json holds.
type Report struct {
	Duration   time.Duration `json:"duration_ns"`
	Samples    []Sample      `json:"samples"`
	Requests   int64         `json:"requests"`
	Handshakes int64         `json:"handshakes"`
	AdminOps   int64         `json:"admin_ops"`
	Violations int64         `json:"violations"`
	Failures   []string      `json:"failures"`
}

func TestSoak(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := fixtures.Generate(ctx, fixtures.Options{})
	must(t, err)
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0"})
	must(t, err)
	defer echo.Close(context.Background())
	conf, err := kongconf.Parse(strings.NewReader("proxy_listen = 127.0.0.1:0 ssl\nadmin_listen = 127.0.0.1:0\nstatus_listen = off\n"), "soak", nil)
	must(t, err)
	g, err := kong.New(kong.Options{Config: conf})
	must(t, err)
	must(t, g.Start(ctx))
	defer g.Close(context.Background())
	admin := kongapi.New(g.URL("admin", false), nil)
	ca, err := admin.CreateCACertificate(ctx, string(p.Get(fixtures.RootCA).CertPEM()))
	must(t, err)
	svc, err := admin.CreateService(ctx, kongapi.Service{Name: "echo", URL: echo.HTTPURL() + "/anything"})
	must(t, err)
	_, err = admin.CreateRoute(ctx, kongapi.Route{Name: "soak", Paths: []string{"/soak"}, Service: &kongapi.Ref{ID: svc.ID}})
	must(t, err)
	_, err = admin.CreatePlugin(ctx, kongapi.Plugin{Name: kong.MTLSAuthName, Config: map[string]any{"ca_certificates": []string{ca.ID}}})
	must(t, err)
	_, err = admin.CreateConsumer(ctx, kongapi.Consumer{Username: fixtures.ClientCommonName})
	must(t, err)
	url := g.URL("proxy", true) + "/soak"

	var rep Report
	var requests, handshakes, adminOps, violations atomic.Int64
	var failMu sync.Mutex
	violate := func(format string, args ...any) {
		if violations.Add(1) <= 20 {
			failMu.Lock()
			rep.Failures = append(rep.Failures, fmt.Sprintf(format, args...))
			failMu.Unlock()
		}
	}
	expect := func(c *http.Client, want int) {
		resp, err := c.Get(url)
		requests.Add(1)
		if err != nil {
			violate("GET %s: %v", url, err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			violate("GET %s: %d, want %d", url, resp.StatusCode, want)
		}
	}
	clientFor := func(identity string, keepAlive bool) *http.Client {
		tc := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // soak client
		if identity != "" {
			tc.Certificates = []tls.Certificate{p.Get(identity).TLSCertificate()}
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: !keepAlive}}
	}

	baseGoroutines, baseFDs := runtime.NumGoroutine(), openFDs()
	start := time.Now()
	trafficCtx, stopTraffic := context.WithTimeout(ctx, *duration)
	defer stopTraffic()
	var wg sync.WaitGroup
	paced := func(rate time.Duration, fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(rate)
			defer tick.Stop()
			for {
				select {
				case <-trafficCtx.Done():
					return
				case <-tick.C:
					fn()
				}
			}
		}()
	}
	keepAlive := clientFor(fixtures.Client, true)
	for range 4 { // keep-alive traffic: 4 × 50/s
		paced(20*time.Millisecond, func() { expect(keepAlive, http.StatusOK) })
	}
	good, anonymous := clientFor(fixtures.Client, false), clientFor("", false)
	paced(50*time.Millisecond, func() { handshakes.Add(1); expect(good, http.StatusOK) }) // handshake storm: 20/s each
	paced(50*time.Millisecond, func() { handshakes.Add(1); expect(anonymous, http.StatusUnauthorized) })
	var churn atomic.Int64
	paced(200*time.Millisecond, func() { // Admin API churn: a consumer and a route made and removed, 5/s
		n := churn.Add(1)
		name := fmt.Sprintf("churn-%d", n)
		if _, err := admin.CreateConsumer(trafficCtx, kongapi.Consumer{Username: name}); err != nil {
			if trafficCtx.Err() == nil {
				violate("create consumer %s: %v", name, err)
			}
			return
		}
		r, err := admin.CreateRoute(trafficCtx, kongapi.Route{Name: name, Paths: []string{"/" + name}, Service: &kongapi.Ref{ID: svc.ID}})
		if err == nil {
			err = admin.Delete(trafficCtx, "/routes/"+r.ID)
		}
		if err == nil {
			err = admin.Delete(trafficCtx, "/consumers/"+name)
		}
		if err != nil && trafficCtx.Err() == nil {
			violate("churn %s: %v", name, err)
		}
		adminOps.Add(4)
	})

	sample := func() Sample {
		rss := int64(0)
		if ts, err := bench.ProcessTree(os.Getpid()); err == nil {
			rss = ts.RSSKiB
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return Sample{Elapsed: time.Since(start), RSSKiB: rss, HeapKiB: int64(ms.HeapInuse >> 10), Goroutines: runtime.NumGoroutine(), FDs: openFDs(),
			Requests: requests.Load(), Violations: violations.Load()}
	}
	tick := time.NewTicker(*every)
	for done := false; !done; {
		select {
		case <-trafficCtx.Done():
			done = true
		case <-tick.C:
			rep.Samples = append(rep.Samples, sample())
			t.Logf("%+v", rep.Samples[len(rep.Samples)-1])
		}
	}
	tick.Stop()
	wg.Wait()
	for _, c := range []*http.Client{keepAlive, good, anonymous} {
		c.CloseIdleConnections()
	}
	// After the traffic, goroutines and descriptors go back to where they were (the gateway's
	// idle upstream connections close within their idle timeout; allow a small margin).
	settled := time.NewTimer(90 * time.Second)
	poll := time.NewTicker(100 * time.Millisecond) // the runtime's counters have no event to wait on
	for runtime.NumGoroutine() > baseGoroutines+20 || openFDs() > baseFDs+16 {
		select {
		case <-poll.C:
			continue
		case <-settled.C:
		}
		rep.Failures = append(rep.Failures, fmt.Sprintf("after the traffic: %d goroutines (%d before), %d fds (%d before)",
			runtime.NumGoroutine(), baseGoroutines, openFDs(), baseFDs))
		break
	}
	poll.Stop()
	settled.Stop()
	rep.Samples = append(rep.Samples, sample())
	rep.Duration, rep.Requests, rep.Handshakes, rep.AdminOps, rep.Violations = time.Since(start), requests.Load(), handshakes.Load(), adminOps.Load(), violations.Load()
	if msg := heapGrowth(rep.Samples); msg != "" {
		rep.Failures = append(rep.Failures, msg)
	}
	writeReport(t, rep)
	if rep.Violations > 0 || len(rep.Failures) > 0 {
		t.Fatalf("soak failed: %d violations; %s", rep.Violations, strings.Join(rep.Failures, "; "))
	}
}

// heapGrowth compares the median Go heap of the last third of the samples with the second
// third's (the first third is warm-up); more than 25% and 16 MiB of growth is a leak.
func heapGrowth(s []Sample) string {
	if len(s) < 6 {
		return ""
	}
	third := len(s) / 3
	median := func(xs []Sample) int64 {
		v := make([]int64, len(xs))
		for i, x := range xs {
			v[i] = x.HeapKiB
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	mid, last := median(s[third:2*third]), median(s[2*third:])
	if last > mid+mid/4 && last-mid > 16<<10 {
		return fmt.Sprintf("the Go heap grew from %d KiB to %d KiB (median of the middle and last thirds)", mid, last)
	}
	return ""
}

func writeReport(t *testing.T, rep Report) {
	if *outDir == "" {
		return
	}
	must(t, os.MkdirAll(*outDir, 0o755))
	b, err := json.MarshalIndent(rep, "", "  ")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(*outDir, "soak.json"), b, 0o644))
	var md strings.Builder
	fmt.Fprintf(&md, "# Soak: Kong reference, race build\n\n%s of keep-alive traffic, handshake storms (with and without a client certificate) and Admin API churn.\n\n", rep.Duration.Round(time.Second))
	fmt.Fprintf(&md, "Requests %d, handshakes %d, Admin API operations %d, **violations %d**.\n\n", rep.Requests, rep.Handshakes, rep.AdminOps, rep.Violations)
	md.WriteString("RSS includes the race detector's own memory, which grows with every goroutine started (the race runtime never frees a finished goroutine's thread context, [golang/go#63276](https://github.com/golang/go/issues/63276); net/http alone starts one per HTTP/1.1 request and several per connection); leaks are judged by the Go heap.\n\n")
	md.WriteString("| elapsed | RSS (MiB) | Go heap (MiB) | goroutines | fds | requests |\n|---|---|---|---|---|---|\n")
	for _, s := range rep.Samples {
		fmt.Fprintf(&md, "| %s | %.1f | %.1f | %d | %d | %d |\n", s.Elapsed.Round(time.Second), float64(s.RSSKiB)/1024, float64(s.HeapKiB)/1024, s.Goroutines, s.FDs, s.Requests)
	}
	if len(rep.Failures) > 0 {
		md.WriteString("\nFailures:\n\n")
		for _, f := range rep.Failures {
			fmt.Fprintf(&md, "- %s\n", f)
		}
	}
	must(t, os.WriteFile(filepath.Join(*outDir, "soak.md"), []byte(md.String()), 0o644))
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(es)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
