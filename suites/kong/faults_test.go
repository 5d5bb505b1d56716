package kong_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// Faulty peers: upstreams that stall mid-exchange and clients that send broken or stalled
// requests. Each case names the answer it must get and the deadline it must get it by; the
// stalls last 8 s, so a gateway that waits them out misses every deadline.

// stallSeconds is how long the faulty upstreams stall; deadlines are well under it.
const stallSeconds = "8"

// faultDeadline is how long any faulty exchange may take once the timeout under test (≤ 1 s)
// has passed.
const faultDeadline = 5 * time.Second

var _ = Describe("faulty upstreams", func() {
	suite.It("K-UP-6", "an upstream that sends its headers and 10 of 1000 body bytes, then stalls, is cut off after read_timeout: the client's response ends before the deadline", func(ctx SpecContext) {
		serviceTo(ctx, sys, "stall", sys.EchoURL+"/stall/"+stallSeconds, "/stall", map[string]any{"read_timeout": 500})
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, sys.ProxyURL+"/stall", nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := client("").Do(req)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		Expect(time.Since(start)).To(BeNumerically("<", faultDeadline), "read_timeout applies between successive reads, the body's too")
		Expect(err).To(HaveOccurred(), "the upstream sent %d of %d bytes: the response cannot complete (got %d bytes)", upstream.StallSent, upstream.StallLength, len(body))
	}, SpecTimeout(framework.SpecBudget))

	suite.It("K-UP-6", "an upstream that never reads the request body is cut off after write_timeout → 504 before the deadline", func(ctx SpecContext) {
		serviceTo(ctx, sys, "deaf", sys.EchoURL+"/ignore-body/"+stallSeconds, "/deaf", map[string]any{"write_timeout": 500})
		start := time.Now()
		// More than loopback's socket buffers hold, so the gateway's writes block. The body is
		// written while the answer is read: a gateway that streams it answers before it ends.
		const size = 64 << 20
		status, body := rawStream(ctx, sys.ProxyURL, "POST /deaf HTTP/1.1\r\nHost: gateway.test\r\nAccept: application/json\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n", io.LimitReader(zeros{}, size))
		Expect(time.Since(start)).To(BeNumerically("<", faultDeadline))
		Expect(status).To(HavePrefix("HTTP/1.1 504"))
		Expect(body).To(ContainSubstring(`"message":"The upstream server is timing out"`))
	}, SpecTimeout(framework.SlowSpecBudget))
})

var _ = Describe("misbehaving upstreams", func() {
	suite.It("K-UP-6", "an upstream that answers garbage, resets mid-body or sends a header larger than proxy_buffer_size gets a 502 or a cut connection, each before the deadline", func(ctx SpecContext) {
		for _, c := range []struct {
			name, path string
			status     int // 0: the response is cut (the client sees an error)
		}{
			{"garbage instead of HTTP", "/garbage", http.StatusBadGateway},
			{"a header of 64 KB", "/big-header/64", http.StatusBadGateway},
			{"a reset after 10 of 1000 body bytes", "/reset", 0},
		} {
			serviceTo(ctx, sys, "bad"+strconv.Itoa(len(c.path)), sys.EchoURL+c.path, "/bad"+strconv.Itoa(len(c.path)), nil)
			begin := time.Now()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, sys.ProxyURL+"/bad"+strconv.Itoa(len(c.path)), nil)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Accept", "application/json")
			resp, err := client("").Do(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline), c.name)
			if c.status == 0 {
				Expect(err).To(HaveOccurred(), "%s: the response cannot complete", c.name)
				continue
			}
			Expect(err).NotTo(HaveOccurred(), c.name)
			Expect(resp.StatusCode).To(Equal(c.status), "%s: %s", c.name, body)
			Expect(string(body)).To(ContainSubstring("An invalid response was received from the upstream server"), c.name)
		}
	}, SpecTimeout(framework.SlowSpecBudget))
})

var _ = Describe("faulty clients", func() {
	suite.It("K-PROXY-2", "TRACE and CONNECT are refused with 405 Method not allowed and never reach the upstream", func(ctx SpecContext) {
		echoRoute(ctx, "methods", "/methods")
		r := do(ctx, client(""), http.MethodTrace, sys.ProxyURL+"/methods", nil, nil)
		Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
		Expect(r.Echo).To(BeNil(), "the upstream answered TRACE")
		Expect(r.JSON()).To(HaveKeyWithValue("message", "Method not allowed"))

		status, _ := raw(ctx, sys.ProxyURL, "CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n")
		Expect(status).To(HavePrefix("HTTP/1.1 405"))
	})

	suite.It("K-PROXY-2", "header names with underscores reach the upstream (Kong sets underscores_in_headers on); names with other characters are dropped", func(ctx SpecContext) {
		echoRoute(ctx, "open", "/open")
		sent := http.Header{"X_Request_Source": {"batch-job"}, "X.Dotted.Name": {"dropped"}}
		r := do(ctx, client(""), http.MethodGet, sys.ProxyURL+"/open", sent, nil)
		Expect(r.Status).To(Equal(http.StatusOK))
		var got []string
		for name, value := range r.Echo.Headers {
			if strings.EqualFold(name, "X_Request_Source") {
				Expect(value).To(Equal("batch-job"))
				got = append(got, name)
			}
			Expect(value).NotTo(Equal("dropped"), "%s, a name with a dot, reached the upstream", name)
		}
		Expect(got).To(HaveLen(1), "X_Request_Source did not reach the upstream")
	})

	suite.It("K-PROXY-2", "a malformed chunked request body → 400 Bad request, not an upstream error", func(ctx SpecContext) {
		echoRoute(ctx, "chunked", "/chunked")
		status, body := raw(ctx, sys.ProxyURL, "POST /chunked HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\nAccept: application/json\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
		Expect(status).To(HavePrefix("HTTP/1.1 400"))
		Expect(body).To(ContainSubstring(`"message":"Bad request"`))
	})

	suite.It("K-PROXY-2", "a request body that stalls longer than client_body_timeout ends the request: the connection closes before the deadline", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "nginx_http_client_body_timeout = 1s")
		serviceTo(ctx, s, "slow-client", s.EchoURL+"/anything", "/upload", nil)
		start := time.Now()
		status, _ := raw(ctx, s.ProxyURL, "POST /upload HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 1000\r\n\r\n0123456789")
		Expect(time.Since(start)).To(BeNumerically("<", faultDeadline))
		// nginx ends the request with a 408 it logs but does not send (ngx_http_terminate_request).
		Expect(status).To(BeEmpty(), "nginx closes the connection without an answer")
	}, SpecTimeout(framework.SpecBudget))

	suite.It("K-PROXY-2", "a client that stalls in its request header or its TLS handshake is closed after client_header_timeout, without an answer, before the deadline", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "nginx_http_client_header_timeout = 1s")
		begin := time.Now()
		status, _ := raw(ctx, s.ProxyURL, "GET /anything HTTP/1.1\r\nHost: ")
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline), "a header stalled past client_header_timeout")
		Expect(status).To(BeEmpty(), "nginx closes the connection without an answer")
		for name, stall := range map[string]string{
			"nothing after the TCP connect": "",
			"part of a ClientHello":         "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		} {
			begin := time.Now()
			status, _ := raw(ctx, strings.Replace(s.ProxyTLSURL, "https://", "http://", 1), stall)
			Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline), "a TLS handshake stalled after %s", name)
			Expect(status).To(BeEmpty(), name)
		}
	}, SpecTimeout(framework.SlowSpecBudget))

	suite.It("K-PROXY-2", "a client that stops reading a response is closed after send_timeout: the rest of the body never comes", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "nginx_http_send_timeout = 1s")
		serviceTo(ctx, s, "big", s.EchoURL+"/bytes/"+strconv.Itoa(unreadBodySize), "/big", nil)
		_, resp := rawGet(ctx, s.ProxyURL, "/big")
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.ContentLength).To(BeEquivalentTo(unreadBodySize))
		stopReading(ctx, unreadStall)
		begin := time.Now()
		n, err := io.Copy(io.Discard, resp.Body)
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline), "draining what the kernel buffered")
		Expect(n).To(BeNumerically("<", unreadBodySize), "the gateway kept sending to a client that stopped reading past send_timeout")
		Expect(err).To(HaveOccurred())
	}, SpecTimeout(framework.SlowSpecBudget))

	suite.It("K-PROXY-2", "an idle keep-alive client connection is closed after keepalive_timeout", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "nginx_http_keepalive_timeout = 1s")
		serviceTo(ctx, s, "keepalive", s.EchoURL+"/anything", "/keepalive", nil)
		br, resp := rawGet(ctx, s.ProxyURL, "/keepalive")
		_, err := io.Copy(io.Discard, resp.Body)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.Close).To(BeFalse(), "the connection is kept alive")
		begin := time.Now()
		_, err = br.ReadByte()
		Expect(errors.Is(err, io.EOF) || isReset(err)).To(BeTrue(), "the gateway keeps an idle connection past keepalive_timeout: %v", err)
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline))
	}, SpecTimeout(framework.SpecBudget))
})

// unreadBodySize is the body a client stops reading: many times what loopback's socket buffers
// (a few MB each way) hold, so the gateway's writes block long before it is sent.
const unreadBodySize = 64 << 20

// unreadStall is how long such a client stops reading: longer than the 1 s timeout under test by
// a margin, far shorter than the body would need to be buffered whole.
const unreadStall = 3 * time.Second

// stopReading is the fault itself: a client that reads nothing for d (or until the spec ends).
func stopReading(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// zeros is an endless source of zero bytes, for request bodies larger than memory should hold.
type zeros struct{}

// Read implements io.Reader.
func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// rawGet sends GET path over a plain TCP connection to base's host:port and reads the answer's
// head. The connection has the deadline framework.RequestTimeout and closes when the spec ends;
// its reader is returned, to read again after the body.
func rawGet(ctx context.Context, base, path string) (*bufio.Reader, *http.Response) {
	u, err := url.Parse(base)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	ExpectWithOffset(1, c.SetDeadline(time.Now().Add(framework.RequestTimeout))).To(Succeed())
	_, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return br, resp
}

// raw writes request as it is to base's host:port and returns the status line and the body of
// the answer ("" and "" when the server closes without one). A request that promises more body
// than it carries leaves the connection open until the server acts.
func raw(ctx context.Context, base, request string) (string, string) {
	return rawStream(ctx, base, request, nil)
}

// rawStream is raw with a body written, in the background, after request; write errors are
// ignored (the server may answer and close before it has read it all).
func rawStream(ctx context.Context, base, request string, body io.Reader) (string, string) {
	u, err := url.Parse(base)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	defer c.Close()
	ExpectWithOffset(1, c.SetDeadline(time.Now().Add(framework.RequestTimeout))).To(Succeed())
	_, err = io.WriteString(c, request)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	if body != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		defer c.Close()
		go func() {
			defer close(done)
			_, _ = io.Copy(c, body)
		}()
	}
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil {
		ExpectWithOffset(1, errors.Is(err, io.EOF) || isReset(err)).To(BeTrue(), "reading the answer: %v", err)
		return strings.TrimSpace(status), ""
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(status), br)), nil)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(status), string(b)
}

// isReset reports a connection the server reset instead of closing.
func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}
