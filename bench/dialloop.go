package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// DialLoopOptions configures the bare crypto/tls handshake loop the simulator's handshake mode is
// compared with.
type DialLoopOptions struct {
	// URL is the gateway URL every connection asks for (one GET, then close).
	URL string
	// Certificate is the client identity presented on every handshake.
	Certificate tls.Certificate
	// Rate is connections started per second, constant.
	Rate int
	// Duration bounds the loop; Max bounds it in connections too.
	Duration time.Duration
	Max      uint64
	// Concurrency caps connections in flight, as the simulator's --max-workers does.
	Concurrency int
}

// DialLoopResult counts the loop's connections.
type DialLoopResult struct {
	Completed uint64 `json:"completed"`
	Failed    uint64 `json:"failed"`
	// FirstError is the first failure's text, so a broken setup says why.
	FirstError string `json:"first_error,omitempty"`
}

// DialLoop is the least a client can do per full mTLS handshake: at a constant rate, dial TCP,
// complete a TLS handshake with the client certificate and no session resumption, send one
// HTTP/1.1 GET with Connection: close, read the status line and headers, close. It has the same
// TLS settings as `mtlsgate load --mode handshake` (the gateway's certificate is not verified,
// like curl -k; Go's default key exchanges), so their CPU per handshake differs only by what the
// simulator adds.
func DialLoop(ctx context.Context, o DialLoopOptions) (DialLoopResult, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return DialLoopResult{}, fmt.Errorf("dial loop: --url %q must be an https URL", o.URL)
	}
	if o.Rate <= 0 || o.Duration <= 0 || o.Concurrency <= 0 {
		return DialLoopResult{}, fmt.Errorf("dial loop: rate, duration and concurrency must be positive (got %d, %s, %d)", o.Rate, o.Duration, o.Concurrency)
	}
	conf := &tls.Config{
		Certificates:           []tls.Certificate{o.Certificate},
		InsecureSkipVerify:     true, //nolint:gosec // like the simulator without --ca: the client side is measured
		ServerName:             u.Hostname(),
		SessionTicketsDisabled: true,
		NextProtos:             []string{"http/1.1"},
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n")
	// The loop stops starting connections after Duration; those in flight finish (each bounded
	// by its own timeout), as the simulator lets its requests in flight finish.
	launch, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		res      DialLoopResult
		done     atomic.Uint64
		failed   atomic.Uint64
		firstErr sync.Once
		wg       sync.WaitGroup
	)
	slots := make(chan struct{}, o.Concurrency)
	one := func() {
		defer wg.Done()
		defer func() { <-slots }()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := dialOnce(cctx, u.Host, conf, req); err != nil {
			failed.Add(1)
			firstErr.Do(func() { res.FirstError = err.Error() })
			return
		}
		done.Add(1)
	}
	// Connection n is due at begin + n×interval and a late loop catches up, as vegeta's pacer
	// does: a ticker would drop the ticks it missed, so a loop falling behind would complete
	// fewer handshakes than the simulator it is compared with and look dearer per handshake.
	interval := time.Second / time.Duration(o.Rate)
	begin := time.Now()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var started uint64
loop:
	for o.Max == 0 || started < o.Max {
		if wait := time.Until(begin.Add(time.Duration(started) * interval)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-launch.Done():
				timer.Stop()
				break loop
			case <-timer.C:
			}
		} else if launch.Err() != nil {
			break loop
		}
		select {
		case slots <- struct{}{}:
		case <-launch.Done():
			break loop
		}
		started++
		wg.Add(1)
		go one()
	}
	wg.Wait()
	res.Completed, res.Failed = done.Load(), failed.Load()
	return res, nil
}

// dialOnce is one connection of the loop; ctx ending cuts it short.
func dialOnce(ctx context.Context, host string, conf *tls.Config, req []byte) error {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: conf}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(req); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answer %d, want 200", resp.StatusCode)
	}
	return nil
}
