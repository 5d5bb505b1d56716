package h1upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/internal/idleconn"
)

// rawServer accepts connections on 127.0.0.1 and runs handle on each in its own goroutine.
type rawServer struct {
	ln      net.Listener
	accepts atomic.Int32
	wg      sync.WaitGroup
}

func startRaw(t *testing.T, handle func(n int, c net.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(s.accepts.Add(1))
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(n, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *rawServer) url(path string) string { return "http://" + s.ln.Addr().String() + path }

// readRequest reads one request head from br and returns its bytes (false at EOF or error).
func readRequest(br *bufio.Reader) (string, bool) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), false
		}
		if line == "\r\n" {
			return b.String(), true
		}
	}
}

// newFallback is a transport configured as the gateways configure theirs.
func newFallback(read time.Duration) *http.Transport {
	return &http.Transport{
		DialContext: idleconn.Dialer(5*time.Second, func() (time.Duration, time.Duration) {
			return read, read
		}),
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// keepAnswering answers every request on the connection with okResponse and sends what it read
// to heads.
func keepAnswering(heads chan<- string) func(int, net.Conn) {
	return func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			h, ok := readRequest(br)
			if !ok {
				return
			}
			if heads != nil {
				heads <- h
			}
			if _, err := io.WriteString(c, okResponse); err != nil {
				return
			}
		}
	}
}

func get(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, string, error) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

func newRequest(t *testing.T, ctx context.Context, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func (tr *Transport) idleCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, cs := range tr.idle {
		n += len(cs)
	}
	return n
}

// TestWritesWhatTransportWrites: the request bytes on the wire are http.Transport's (with
// DisableCompression), for the requests the lean path takes.
func TestWritesWhatTransportWrites(t *testing.T) {
	heads := make(chan string, 4)
	s := startRaw(t, keepAnswering(heads))
	cases := []func() *http.Request{
		func() *http.Request { return newRequest(t, context.Background(), http.MethodGet, s.url("/a?b=c")) },
		func() *http.Request {
			r := newRequest(t, context.Background(), http.MethodGet, s.url("/ua"))
			r.Header.Set("User-Agent", "client/1")
			r.Header.Add("X-Many", "1")
			r.Header.Add("X-Many", "2")
			r.Host = "example.test:8080"
			return r
		},
		func() *http.Request {
			r := newRequest(t, context.Background(), http.MethodHead, s.url("/h"))
			r.Header.Set("Accept-Encoding", "br")
			return r
		},
		func() *http.Request {
			r := newRequest(t, context.Background(), http.MethodPost, s.url("/empty"))
			r.Body = http.NoBody
			return r
		},
		func() *http.Request {
			r := newRequest(t, context.Background(), http.MethodDelete, s.url("/close"))
			r.Close = true
			return r
		},
	}
	for i, mk := range cases {
		fb := newFallback(0)
		if _, _, err := get(t, fb, mk()); err != nil {
			t.Fatalf("case %d via http.Transport: %v", i, err)
		}
		want := <-heads
		fb.CloseIdleConnections()
		tr := New(newFallback(0))
		if _, _, err := get(t, tr, mk()); err != nil {
			t.Fatalf("case %d via h1upstream: %v", i, err)
		}
		if got := <-heads; got != want {
			t.Errorf("case %d: wrote\n%q\nhttp.Transport writes\n%q", i, got, want)
		}
		tr.CloseIdleConnections()
	}
}

// TestReusesAConnection: sequential requests share one connection, which goes back to the pool
// once the body is read to its end.
func TestReusesAConnection(t *testing.T) {
	s := startRaw(t, keepAnswering(nil))
	tr := New(newFallback(0))
	defer tr.CloseIdleConnections()
	for i := range 3 {
		_, body, err := get(t, tr, newRequest(t, context.Background(), http.MethodGet, s.url("/")))
		if err != nil || body != "ok" {
			t.Fatalf("request %d: %q, %v", i, body, err)
		}
	}
	if n := s.accepts.Load(); n != 1 {
		t.Fatalf("%d connections for three sequential requests; want 1", n)
	}
	if n := tr.idleCount(); n != 1 {
		t.Fatalf("%d idle connections; want 1", n)
	}
}

// TestNotReused: a connection that cannot carry another exchange is closed, not pooled.
func TestNotReused(t *testing.T) {
	cases := map[string]struct {
		response string
		reqClose bool
		// closeEarly closes the body before its end.
		closeEarly bool
	}{
		"Connection: close":      {response: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"},
		"request Close":          {response: okResponse, reqClose: true},
		"body without length":    {response: "HTTP/1.1 200 OK\r\n\r\nuntil the end"},
		"body closed early":      {response: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", closeEarly: true},
		"HTTP/1.0 no keep-alive": {response: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			closed := make(chan struct{})
			s := startRaw(t, func(_ int, c net.Conn) {
				br := bufio.NewReader(c)
				readRequest(br)
				_, _ = io.WriteString(c, tc.response)
				if strings.Contains(tc.response, "until the end") {
					return // the body ends with the connection
				}
				// Wait for the client to close its side.
				_, _ = io.Copy(io.Discard, br)
				close(closed)
			})
			tr := New(newFallback(0))
			defer tr.CloseIdleConnections()
			req := newRequest(t, context.Background(), http.MethodGet, s.url("/"))
			req.Close = tc.reqClose
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.closeEarly {
				if _, err := io.ReadAll(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			resp.Body.Close()
			if n := tr.idleCount(); n != 0 {
				t.Fatalf("%d idle connections; want 0", n)
			}
			if !strings.Contains(tc.response, "until the end") {
				<-closed
			}
		})
	}
}

// TestRetryRule: a reused connection that dies before the first response byte is retried for a
// replayable request and not for another one, as http.Transport does; checked against it.
func TestRetryRule(t *testing.T) {
	cases := []struct {
		method, key string
		retried     bool
	}{
		{http.MethodGet, "", true},
		{http.MethodHead, "", true},
		{http.MethodOptions, "", true},
		{http.MethodPost, "", false},
		{http.MethodDelete, "", false},
		{http.MethodPost, "Idempotency-Key", true},
		{http.MethodPatch, "X-Idempotency-Key", true},
	}
	for _, tc := range cases {
		for _, impl := range []string{"http.Transport", "h1upstream"} {
			t.Run(tc.method+tc.key+"/"+impl, func(t *testing.T) {
				// The first connection answers one request, then reads the next and hangs up
				// without a byte of answer; later connections answer everything.
				s := startRaw(t, func(n int, c net.Conn) {
					br := bufio.NewReader(c)
					for i := 0; ; i++ {
						if _, ok := readRequest(br); !ok {
							return
						}
						if n == 1 && i == 1 {
							return
						}
						if _, err := io.WriteString(c, okResponse); err != nil {
							return
						}
					}
				})
				fb := newFallback(0)
				var rt interface {
					http.RoundTripper
					CloseIdleConnections()
				} = fb
				if impl == "h1upstream" {
					rt = New(fb)
				}
				defer rt.CloseIdleConnections()
				if _, _, err := get(t, rt, newRequest(t, context.Background(), http.MethodGet, s.url("/"))); err != nil {
					t.Fatal(err)
				}
				req := newRequest(t, context.Background(), tc.method, s.url("/"))
				if tc.key != "" {
					req.Header.Set(tc.key, "k1")
				}
				_, _, err := get(t, rt, req)
				if tc.retried && err != nil {
					t.Fatalf("replayable %s on a dead reused connection: %v; want a retry", tc.method, err)
				}
				if !tc.retried {
					if err == nil {
						t.Fatalf("%s on a dead reused connection succeeded; want no retry", tc.method)
					}
					if !errors.Is(err, io.EOF) {
						t.Fatalf("%s: %v; want the read's EOF in the chain", tc.method, err)
					}
				}
				wantAccepts := int32(1)
				if tc.retried {
					wantAccepts = 2
				}
				if n := s.accepts.Load(); n != wantAccepts {
					t.Fatalf("%d connections; want %d", n, wantAccepts)
				}
			})
		}
	}
}

// TestNoRetryOnAFreshConnection: a new connection that dies before answering is final.
func TestNoRetryOnAFreshConnection(t *testing.T) {
	s := startRaw(t, func(_ int, c net.Conn) { readRequest(bufio.NewReader(c)) })
	tr := New(newFallback(0))
	defer tr.CloseIdleConnections()
	_, _, err := get(t, tr, newRequest(t, context.Background(), http.MethodGet, s.url("/")))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("%v; want EOF", err)
	}
	if n := s.accepts.Load(); n != 1 {
		t.Fatalf("%d connections; want 1", n)
	}
}

// TestIdleCloseNoticed: a pooled connection the upstream closed while idle is not used, so even
// a POST, which is never retried, goes out on a new connection (http.Transport's idle readLoop
// notices the same).
func TestIdleCloseNoticed(t *testing.T) {
	s := startRaw(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, ok := readRequest(br); !ok {
				return
			}
			if _, err := io.WriteString(c, okResponse); err != nil || n == 1 {
				return // the first connection closes after one answer
			}
		}
	})
	tr := New(newFallback(0))
	defer tr.CloseIdleConnections()
	if _, _, err := get(t, tr, newRequest(t, context.Background(), http.MethodGet, s.url("/"))); err != nil {
		t.Fatal(err)
	}
	g := gomega.NewWithT(t)
	g.Eventually(func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		cs := tr.idle[s.ln.Addr().String()]
		return len(cs) == 1 && !cs[0].quiet()
	}).Should(gomega.BeTrue(), "the closed idle connection never looked closed")
	req := newRequest(t, context.Background(), http.MethodPost, s.url("/"))
	req.Body = http.NoBody
	if _, _, err := get(t, tr, req); err != nil {
		t.Fatalf("POST after the upstream closed the idle connection: %v", err)
	}
	if n := s.accepts.Load(); n != 2 {
		t.Fatalf("%d connections; want 2", n)
	}
}

// hang answers nothing: it reads the request, reports it, and waits for the client to leave.
func hang(read chan<- struct{}) func(int, net.Conn) {
	return func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		readRequest(br)
		if read != nil {
			read <- struct{}{}
		}
		_, _ = io.Copy(io.Discard, br)
	}
}

// TestResponseHeaderTimeout: the same error as http.Transport's, a net.Error timeout (504 in
// both gateways' mappers).
func TestResponseHeaderTimeout(t *testing.T) {
	s := startRaw(t, hang(nil))
	var errs []error
	for _, impl := range []string{"http.Transport", "h1upstream"} {
		fb := newFallback(0)
		fb.ResponseHeaderTimeout = 50 * time.Millisecond
		var rt http.RoundTripper = fb
		if impl == "h1upstream" {
			rt = New(fb)
		}
		_, _, err := get(t, rt, newRequest(t, context.Background(), http.MethodGet, s.url("/")))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%s: %v; want a net.Error timeout", impl, err)
		}
		errs = append(errs, err)
	}
	if errs[0].Error() != errs[1].Error() {
		t.Fatalf("h1upstream says %q, http.Transport %q", errs[1], errs[0])
	}
}

// TestReadTimeout: idleconn's per-read deadline ends a response that stalls mid-body.
func TestReadTimeout(t *testing.T) {
	s := startRaw(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		readRequest(br)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
		_, _ = io.Copy(io.Discard, br)
	})
	tr := New(newFallback(50 * time.Millisecond))
	defer tr.CloseIdleConnections()
	_, _, err := get(t, tr, newRequest(t, context.Background(), http.MethodGet, s.url("/")))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%v; want a deadline error", err)
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d idle connections after a failed body; want 0", n)
	}
}

// TestMaxResponseHeaderBytes: a response head over the limit fails with http.Transport's error,
// not a timeout (502 in both gateways' mappers).
func TestMaxResponseHeaderBytes(t *testing.T) {
	big := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 3000) + "\r\nContent-Length: 2\r\n\r\nok"
	s := startRaw(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		readRequest(br)
		_, _ = io.WriteString(c, big)
		_, _ = io.Copy(io.Discard, br)
	})
	var errs []string
	for _, impl := range []string{"http.Transport", "h1upstream"} {
		fb := newFallback(0)
		fb.MaxResponseHeaderBytes = 1024
		var rt http.RoundTripper = fb
		if impl == "h1upstream" {
			rt = New(fb)
		}
		_, _, err := get(t, rt, newRequest(t, context.Background(), http.MethodGet, s.url("/")))
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("%s: %v; want a non-timeout error", impl, err)
		}
		errs = append(errs, err.Error())
		fb.CloseIdleConnections()
	}
	if errs[0] != errs[1] || !strings.Contains(errs[1], "exceeded 1024 bytes") {
		t.Fatalf("h1upstream says %q, http.Transport %q", errs[1], errs[0])
	}
	// Under the limit it passes.
	tr := New(newFallback(0))
	defer tr.CloseIdleConnections()
	if _, _, err := get(t, tr, newRequest(t, context.Background(), http.MethodGet, s.url("/"))); err != nil {
		t.Fatal(err)
	}
}

// TestCancelAbortsABlockedRead: cancelling the request's context ends a wait for the head and a
// wait inside the body, with the context's error.
func TestCancelAbortsABlockedRead(t *testing.T) {
	read := make(chan struct{}, 1)
	s := startRaw(t, hang(read))
	tr := New(newFallback(0))
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-read; cancel() }()
	_, _, err := get(t, tr, newRequest(t, ctx, http.MethodGet, s.url("/")))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting for the head: %v; want context.Canceled", err)
	}

	s2 := startRaw(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		readRequest(br)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
		_, _ = io.Copy(io.Discard, br)
	})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	resp, err := tr.RoundTrip(newRequest(t, ctx2, http.MethodGet, s2.url("/")))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel2()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Fatalf("inside the body: %v; want context.Canceled", err)
	}
	resp.Body.Close()
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d idle connections after a cancel; want 0", n)
	}
}

// TestInformational: 1xx answers go to httptrace's Got1xxResponse (as httputil.ReverseProxy
// expects), then the final answer is returned and the connection reused.
func TestInformational(t *testing.T) {
	s := startRaw(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, ok := readRequest(br); !ok {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+okResponse)
		}
	})
	tr := New(newFallback(0))
	defer tr.CloseIdleConnections()
	for range 2 {
		var got []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, http.StatusText(code)+" "+h.Get("Link"))
			return nil
		}}
		ctx := httptrace.WithClientTrace(context.Background(), trace)
		resp, body, err := get(t, tr, newRequest(t, ctx, http.MethodGet, s.url("/")))
		if err != nil || resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("%v %q %v", resp, body, err)
		}
		if len(got) != 1 || got[0] != "Early Hints </a.css>; rel=preload" {
			t.Fatalf("1xx seen: %q", got)
		}
	}
	if n := s.accepts.Load(); n != 1 {
		t.Fatalf("%d connections; want 1", n)
	}
}

// TestIdleLimits: at most MaxIdleConnsPerHost connections wait per host, and one idle longer
// than IdleConnTimeout is closed.
func TestIdleLimits(t *testing.T) {
	s := startRaw(t, keepAnswering(nil))
	fb := newFallback(0)
	fb.MaxIdleConnsPerHost = 1
	tr := New(fb)
	defer tr.CloseIdleConnections()
	var resps []*http.Response
	for range 2 {
		resp, err := tr.RoundTrip(newRequest(t, context.Background(), http.MethodGet, s.url("/")))
		if err != nil {
			t.Fatal(err)
		}
		resps = append(resps, resp)
	}
	for _, r := range resps {
		_, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	if n := tr.idleCount(); n != 1 {
		t.Fatalf("%d idle connections; want 1", n)
	}

	fb2 := newFallback(0)
	fb2.IdleConnTimeout = 20 * time.Millisecond
	tr2 := New(fb2)
	defer tr2.CloseIdleConnections()
	if _, _, err := get(t, tr2, newRequest(t, context.Background(), http.MethodGet, s.url("/"))); err != nil {
		t.Fatal(err)
	}
	gomega.NewWithT(t).Eventually(tr2.idleCount).Should(gomega.BeZero())
}

// TestCloseIdleConnections: idle connections close at once; one in use closes when it comes
// back, until the next request.
func TestCloseIdleConnections(t *testing.T) {
	s := startRaw(t, keepAnswering(nil))
	tr := New(newFallback(0))
	if _, _, err := get(t, tr, newRequest(t, context.Background(), http.MethodGet, s.url("/"))); err != nil {
		t.Fatal(err)
	}
	inUse, err := tr.RoundTrip(newRequest(t, context.Background(), http.MethodGet, s.url("/")))
	if err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d idle connections after CloseIdleConnections", n)
	}
	_, _ = io.ReadAll(inUse.Body)
	inUse.Body.Close()
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("a connection that came back after CloseIdleConnections was pooled")
	}
	if _, _, err := get(t, tr, newRequest(t, context.Background(), http.MethodGet, s.url("/"))); err != nil {
		t.Fatal(err)
	}
	if n := tr.idleCount(); n != 1 {
		t.Fatalf("%d idle connections after a new request; want 1", n)
	}
	tr.CloseIdleConnections()
}

// TestFallback: https, request bodies, upgrades and Expect go through the http.Transport (seen by
// its httptrace GetConn hook, which the lean path never calls).
func TestFallback(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	defer ts.Close()
	plain := httptest.NewServer(ts.Config.Handler)
	defer plain.Close()
	fb := newFallback(0)
	fb.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test server
	tr := New(fb)
	defer tr.CloseIdleConnections()
	cases := map[string]func() *http.Request{
		"https": func() *http.Request { return newRequest(t, context.Background(), http.MethodGet, ts.URL) },
		"body": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, plain.URL, strings.NewReader("x"))
			return r
		},
		"upgrade": func() *http.Request {
			r := newRequest(t, context.Background(), http.MethodGet, plain.URL)
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		},
		"expect": func() *http.Request {
			r := newRequest(t, context.Background(), http.MethodGet, plain.URL)
			r.Header.Set("Expect", "100-continue")
			return r
		},
		"plain GET": func() *http.Request { return newRequest(t, context.Background(), http.MethodGet, plain.URL) },
	}
	for name, mk := range cases {
		var viaTransport bool
		r := mk()
		r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{GetConn: func(string) { viaTransport = true }}))
		if _, _, err := get(t, tr, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := name != "plain GET"; viaTransport != want {
			t.Errorf("%s: through http.Transport %v; want %v", name, viaTransport, want)
		}
	}
}

// TestDialError: a refused connection reports the dial's own error, as http.Transport does.
func TestDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tr := New(newFallback(0))
	_, _, err = get(t, tr, newRequest(t, context.Background(), http.MethodGet, "http://"+addr+"/"))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("%v; want the dial's *net.OpError", err)
	}
}
