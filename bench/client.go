package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// requestPath is what every measurement asks for: the echo's /anything, through the gateway.
const requestPath = "/anything"

// client is the one load generator every server meets: the same TLS settings and the same
// request, so only the server differs.
type client struct {
	// tls is TLS 1.3 only, X25519 key exchange (what OpenSSL 3.0 in nginx and HAProxy and Go
	// all implement; Go's default would offer the post-quantum hybrid that only Go's servers
	// accept), the ECDSA P-256 client certificate, no session cache: every handshake is full.
	tls *tls.Config
	// maxRequests bounds every attack besides its duration.
	maxRequests uint64
}

func newClient(cert tls.Certificate, roots *x509.CertPool, maxRequests uint64) *client {
	return &client{
		tls: &tls.Config{
			Certificates:           []tls.Certificate{cert},
			RootCAs:                roots,
			ServerName:             "localhost",
			MinVersion:             tls.VersionTLS13,
			MaxVersion:             tls.VersionTLS13,
			CurvePreferences:       []tls.CurveID{tls.X25519},
			SessionTicketsDisabled: true,
			NextProtos:             []string{"http/1.1"},
		},
		maxRequests: maxRequests,
	}
}

// dial opens one TCP connection to base's host and completes a full mTLS handshake.
func (c *client) dial(ctx context.Context, base string) (*tls.Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", base, err)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, c.tls)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	st := conn.ConnectionState()
	if st.Version != tls.VersionTLS13 || st.DidResume {
		conn.Close()
		return nil, fmt.Errorf("handshake: got version %#x, resumed %v; want a full TLS 1.3 handshake", st.Version, st.DidResume)
	}
	return conn, nil
}

// get sends GET /anything on conn and reads the whole answer, which must be a 200: only then has
// the server accepted the client certificate (the Kong reference checks it per request).
func get(ctx context.Context, conn net.Conn, closeAfter bool) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
		defer conn.SetDeadline(time.Time{})
	}
	req := "GET " + requestPath + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: mtlsgate-bench\r\n"
	if closeAfter {
		req += "Connection: close\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 4096), nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d, want 200", requestPath, resp.StatusCode)
	}
	return nil
}

// oneShot is a new connection, one request, close: the readiness probe.
func (c *client) oneShot(ctx context.Context, base string) error {
	conn, err := c.dial(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close()
	return get(ctx, conn, true)
}

// HandshakeResult is one run of the handshake measurement.
type HandshakeResult struct {
	Completed, Failed uint64
	// Late counts connections that completed after the window closed: they are not in the rate,
	// but the server did their work, so per-CPU figures count them.
	Late       uint64
	Elapsed    time.Duration
	FirstError string
}

// Rate is completed connections per second.
func (r HandshakeResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Completed) / r.Elapsed.Seconds()
}

// handshakes runs `concurrency` loops of: new TCP connection, full mTLS handshake, one GET
// /anything with Connection: close, close; for d or until maxRequests connections. Only
// connections that finish within d count; the ones in flight at the end are let finish (each
// bounded by its own timeout) and ignored.
func (c *client) handshakes(ctx context.Context, base string, concurrency int, d time.Duration) HandshakeResult {
	var done, failed, late, started atomic.Uint64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(end) && started.Add(1) <= c.maxRequests {
				octx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := c.oneShot(octx, base)
				cancel()
				switch {
				case time.Now().After(end):
					// finished after the window: neither completed nor failed in it
					if err == nil {
						late.Add(1)
					}
				case err == nil:
					done.Add(1)
				default:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if elapsed > d {
		elapsed = d
	}
	r := HandshakeResult{Completed: done.Load(), Failed: failed.Load(), Late: late.Load(), Elapsed: elapsed}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	return r
}

// AttackResult is one vegeta attack.
type AttackResult struct {
	Requests, OK uint64
	Elapsed      time.Duration
	// Throughput is 200s per second over the attack.
	Throughput float64
	P50, P99   time.Duration
	FirstError string
}

// attack runs vegeta against base with keep-alive connections: rate 0 is as fast as `workers`
// workers go; otherwise a constant rate with up to maxWorkers in flight.
func (c *client) attack(ctx context.Context, base string, rate int, workers uint64, d time.Duration) (AttackResult, error) {
	// At a constant rate, vegeta adds workers when all are busy; cap them (and so the
	// connections) at twice the peak's, so a slow server queues instead of making the client
	// open hundreds of new connections mid-measurement.
	maxWorkers := workers
	if rate > 0 {
		maxWorkers = 2 * workers
	}
	conns := int(maxWorkers)
	atk := vegeta.NewAttacker(
		vegeta.TLSConfig(c.tls.Clone()),
		vegeta.KeepAlive(true),
		vegeta.HTTP2(false),
		vegeta.Workers(workers),
		vegeta.MaxWorkers(maxWorkers),
		vegeta.Connections(conns),
		vegeta.Timeout(10*time.Second),
		vegeta.MaxBody(0),
	)
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: base + requestPath})
	pacer := boundedPacer{Pacer: vegeta.Rate{Freq: rate, Per: time.Second}, max: c.maxRequests}
	var m vegeta.Metrics
	res := AttackResult{}
	start := time.Now()
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	for r := range atk.Attack(tr, pacer, d, "bench") {
		m.Add(r)
		res.Requests++
		if r.Code == http.StatusOK {
			res.OK++
		} else if res.FirstError == "" {
			res.FirstError = fmt.Sprintf("status %d %s", r.Code, r.Error)
		}
	}
	res.Elapsed = time.Since(start)
	m.Close()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("attack %s: %w", base, err)
	}
	if res.Requests == 0 {
		return res, errors.New("attack sent no request")
	}
	res.Throughput = float64(res.OK) / res.Elapsed.Seconds()
	res.P50 = m.Latencies.Quantile(0.50)
	res.P99 = m.Latencies.Quantile(0.99)
	return res, nil
}

// boundedPacer stops an attack after max hits whatever the rate.
type boundedPacer struct {
	vegeta.Pacer
	max uint64
}

// Pace implements vegeta.Pacer.
func (p boundedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.max {
		return 0, true
	}
	return p.Pacer.Pace(elapsed, hits)
}

// idleConns opens n mTLS connections (each completing one request, so every server has accepted
// the client certificate) with `parallel` dialers, and returns them open. On error the ones
// opened so far are closed.
func (c *client) idleConns(ctx context.Context, base string, n, parallel int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				conn, err := c.open(ctx, base)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("open idle connection %d of %d: %w", i+1, n, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				conns[i] = conn
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeAll(conns)
		return nil, firstErr
	}
	return conns, nil
}

func (c *client) open(ctx context.Context, base string) (net.Conn, error) {
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := c.dial(rctx, base)
	if err != nil {
		return nil, err
	}
	if err := get(rctx, conn, false); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// stillOpen sends one more request on every k-th connection: a server that dropped idle
// connections would make the RSS figure meaningless.
func stillOpen(ctx context.Context, conns []net.Conn, k int) error {
	for i := 0; i < len(conns); i += k {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := get(rctx, conns[i], false)
		cancel()
		if err != nil {
			return fmt.Errorf("idle connection %d was no longer usable: %w", i+1, err)
		}
	}
	return nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
