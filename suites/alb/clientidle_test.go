package alb_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// The idle timeout on the client side: ALB closes the front-end connection when no data is sent
// or received within idle_timeout.timeout_seconds, between requests and while a request's header
// is still arriving. Every case here would otherwise wait for the 60 s header timeout or the
// client's own deadline (15 s).

// dialListener opens a TLS connection to the first listener speaking HTTP/1.1.
func dialListener(ctx context.Context, sys *harness.ALBSystem) *tls.Conn {
	conf := client("").Transport.(*http.Transport).TLSClientConfig.Clone()
	conf.NextProtos = []string{"http/1.1"}
	d := &tls.Dialer{Config: conf}
	c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(sys.ListenerURLs[0], "https://"))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	ExpectWithOffset(1, c.SetDeadline(time.Now().Add(15*time.Second))).To(Succeed())
	return c.(*tls.Conn)
}

// closedByPeer reads until the connection ends and reports how: nil when the load balancer
// closed it (EOF), the read error otherwise (a deadline of the client's own).
func closedByPeer(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return nil // a reset: closed by the peer too
}

// getOn sends a GET over c and reads its whole answer, keeping the connection.
func getOn(c *tls.Conn, br *bufio.Reader) *http.Response {
	_, err := io.WriteString(c, "GET /anything HTTP/1.1\r\nHost: alb.test\r\n\r\n")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	resp, err := http.ReadResponse(br, nil)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	_, err = io.Copy(io.Discard, resp.Body)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, resp.Body.Close()).To(Succeed())
	return resp
}

var _ = Describe("client idle timeout", func() {
	suite.It("A-REQ-1", "an idle keep-alive client connection is closed by the load balancer once the idle timeout passes with no data", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, idleTimeout("1")))
		c := dialListener(ctx, sys)
		br := bufio.NewReader(c)
		Expect(getOn(c, br).StatusCode).To(Equal(http.StatusOK))
		begin := time.Now()
		Expect(closedByPeer(br)).To(Succeed(), "the load balancer keeps an idle connection past its 1 s idle timeout")
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline))
		Expect(time.Since(begin)).To(BeNumerically(">=", 500*time.Millisecond), "closed right after the answer, not after an idle second")
	}, SpecTimeout(30*time.Second))

	suite.It("A-REQ-1", "a connection that carries data more often than the idle timeout stays open: the timeout counts from the last byte", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, idleTimeout("2")))
		c := dialListener(ctx, sys)
		br := bufio.NewReader(c)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for range 8 { // 4 s in all, twice the idle timeout
			Expect(getOn(c, br).StatusCode).To(Equal(http.StatusOK))
			<-tick.C
		}
	}, SpecTimeout(30*time.Second))

	suite.It("A-REQ-1", "a client that stalls in the middle of its request header is closed after the idle timeout, with no answer", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, idleTimeout("1")))
		for _, stall := range []string{
			"",                                 // nothing after the handshake
			"GET /anything HTTP/1.1\r\nHost: ", // part of the header block
		} {
			c := dialListener(ctx, sys)
			_, err := io.WriteString(c, stall)
			Expect(err).NotTo(HaveOccurred())
			begin := time.Now()
			got, _ := io.ReadAll(c)
			Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline), "stalled after %q", stall)
			Expect(string(got)).To(BeEmpty(), "stalled after %q", stall)
		}
	}, SpecTimeout(30*time.Second))

	suite.It("A-REQ-1", "a changed idle timeout applies to new connections, and an idle HTTP/2 connection is closed likewise", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, idleTimeout("4000")))
		Expect(sys.Apply(ctx, config(alb.ModeOff, idleTimeout("1")))).To(Succeed())
		conf := clientOver("h2", fixtures.Client).Transport.(*http.Transport).TLSClientConfig.Clone()
		conf.NextProtos = []string{"h2"}
		d := &tls.Dialer{Config: conf}
		raw, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(sys.ListenerURLs[0], "https://"))
		Expect(err).NotTo(HaveOccurred())
		defer raw.Close()
		Expect(raw.(*tls.Conn).ConnectionState().NegotiatedProtocol).To(Equal("h2"))
		Expect(raw.SetDeadline(time.Now().Add(15 * time.Second))).To(Succeed())
		_, err = io.WriteString(raw, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
		Expect(err).NotTo(HaveOccurred())
		begin := time.Now()
		Expect(closedByPeer(raw)).To(Succeed(), "the load balancer keeps an idle HTTP/2 connection past its 1 s idle timeout")
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline))
	}, SpecTimeout(30*time.Second))

	suite.It("A-REQ-1", "a client that stops reading a response is closed after the idle timeout: no data is sent or received, request in progress or not", func(ctx SpecContext) {
		// Many times what loopback's socket buffers hold, so the load balancer's writes block.
		const size = 64 << 20
		sys := start(ctx, config(alb.ModeOff, idleTimeout("1")))
		c := dialListener(ctx, sys)
		_, err := io.WriteString(c, "GET /bytes/"+strconv.Itoa(size)+" HTTP/1.1\r\nHost: alb.test\r\n\r\n")
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.ContentLength).To(BeEquivalentTo(size))
		// The fault: nothing read for 3 s, the 1 s idle timeout with a margin.
		stall := time.NewTimer(3 * time.Second)
		defer stall.Stop()
		select {
		case <-stall.C:
		case <-ctx.Done():
		}
		begin := time.Now()
		n, err := io.Copy(io.Discard, resp.Body)
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline), "draining what the kernel buffered")
		Expect(n).To(BeNumerically("<", size), "the load balancer kept sending to a client that stopped reading past the idle timeout")
		Expect(err).To(HaveOccurred())
	}, SpecTimeout(30*time.Second))
})
