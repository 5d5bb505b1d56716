package alb_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// Faulty targets and clients against a load balancer whose idle timeout is 1 s: each case names
// the answer it must get and the deadline; the faulty peers stall for 8 s, so a load balancer
// that waits them out misses every deadline.

// faultDeadline bounds any faulty exchange once the 1 s idle timeout has passed.
const faultDeadline = 5 * time.Second

// idleTimeout sets the idle_timeout.timeout_seconds load balancer attribute.
func idleTimeout(seconds string) func(*alb.Config) {
	return func(c *alb.Config) {
		c.LoadBalancerAttributes = append(c.LoadBalancerAttributes, alb.Attribute{Key: alb.AttrIdleTimeout, Value: seconds})
	}
}

var _ = Describe("faults", func() {
	suite.It("A-REQ-1", "a target that does not answer within the idle timeout → 504; one that sends its headers and stalls is cut off", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, idleTimeout("1")))
		begin := time.Now()
		r := ok(ctx, client(""), sys.ListenerURLs[0]+"/delay/8")
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline))
		Expect(r.Status).To(Equal(http.StatusGatewayTimeout))
		Expect(r.Header.Get("Server")).To(Equal("awselb/2.0"))

		begin = time.Now()
		_, err := fetch(ctx, client(""), sys.ListenerURLs[0]+"/stall/8")
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline))
		Expect(err).To(HaveOccurred(), "the target sent 10 of 1000 bytes: the response cannot complete")
	}, SpecTimeout(framework.SlowSpecBudget))

	suite.It("A-REQ-1", "a target that answers garbage or a header above 32 KB → 502; one that resets mid-body is cut off; each before the deadline", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, idleTimeout("1")))
		for _, c := range []struct {
			name, path string
			status     int // 0: the response is cut (the client sees an error)
		}{
			{"garbage instead of HTTP", "/garbage", http.StatusBadGateway},
			{"a header of 64 KB", "/big-header/64", http.StatusBadGateway},
			{"a header of 16 KB", "/big-header/16", http.StatusOK},
			{"a reset after 10 of 1000 body bytes", "/reset", 0},
		} {
			begin := time.Now()
			r, err := fetch(ctx, client(""), sys.ListenerURLs[0]+c.path)
			Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline), c.name)
			if c.status == 0 {
				Expect(err).To(HaveOccurred(), "%s: the response cannot complete", c.name)
				continue
			}
			Expect(err).NotTo(HaveOccurred(), c.name)
			Expect(r.Status).To(Equal(c.status), c.name)
		}
	}, SpecTimeout(framework.SlowSpecBudget))

	suite.It("A-REQ-1", "a request body idle past the idle timeout → 408", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, idleTimeout("1")))
		begin := time.Now()
		status := rawTLS(ctx, sys, "POST /anything HTTP/1.1\r\nHost: alb.test\r\nContent-Length: 1000\r\n\r\n0123456789")
		Expect(time.Since(begin)).To(BeNumerically("<", faultDeadline))
		Expect(status).To(HavePrefix("HTTP/1.1 408"))
	}, SpecTimeout(framework.SlowSpecBudget))

	suite.It("A-REQ-1", "idle_timeout.timeout_seconds takes 1 to 4000, client_keep_alive.seconds 60 to 604800; another value or an attribute the emulator does not apply is refused and the running configuration stays", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff))
		keepAlive := func(seconds string) func(*alb.Config) {
			return func(c *alb.Config) {
				c.LoadBalancerAttributes = append(c.LoadBalancerAttributes, alb.Attribute{Key: alb.AttrClientKeepAlive, Value: seconds})
			}
		}
		for _, bad := range []func(*alb.Config){idleTimeout("0"), idleTimeout("4001"), idleTimeout("1.5"), idleTimeout(""),
			keepAlive("59"), keepAlive("604801"), keepAlive("1h"),
			func(c *alb.Config) {
				c.LoadBalancerAttributes = append(c.LoadBalancerAttributes, alb.Attribute{Key: "idle_timeout.seconds", Value: "5"})
			}} {
			cfg := config(alb.ModeOff, bad)
			err := sys.Apply(ctx, cfg)
			Expect(err).To(HaveOccurred(), "%v", cfg.LoadBalancerAttributes)
			Expect(err.Error()).To(ContainSubstring("LoadBalancerAttributes[0]"))
		}
		Expect(ok(ctx, client(""), anything(sys)).Status).To(Equal(http.StatusOK))
		Expect(sys.Apply(ctx, config(alb.ModeOff, idleTimeout("4000")))).To(Succeed())
		Expect(sys.Apply(ctx, config(alb.ModeOff, keepAlive("60")))).To(Succeed())
		Expect(sys.Apply(ctx, config(alb.ModeOff, keepAlive("604800"), idleTimeout("1")))).To(Succeed())
	})

	suite.It("A-REQ-1", "TRACE → 405, CONNECT and a malformed chunked body → 400, from the load balancer itself", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff))
		req, err := http.NewRequestWithContext(ctx, http.MethodTrace, anything(sys), nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := client("").Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed))
		Expect(resp.Header.Get("Server")).To(Equal("awselb/2.0"))
		Expect(rawTLS(ctx, sys, "CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n")).To(HavePrefix("HTTP/1.1 400"))
		Expect(rawTLS(ctx, sys, "POST /anything HTTP/1.1\r\nHost: alb.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")).To(HavePrefix("HTTP/1.1 400"))
	})

	suite.It("A-HDR-3", "underscore spellings of the load balancer's headers (X_Amzn_Mtls_Clientcert, X_Forwarded_For) never reach the target", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		forged := []string{"X_Amzn_Mtls_Clientcert", "X_Amzn_Mtls_Clientcert_Subject", "X-Amzn-Mtls_Clientcert-Leaf", "x_amzn_mtls_clientcert_serial_number",
			"X_Forwarded_For", "X_Forwarded_Proto", "X_Forwarded_Port", "X_Amzn_Trace_Id"}
		var header []string
		for _, h := range forged {
			header = append(header, h, "forged")
		}
		r := ok(ctx, client(fixtures.Client), anything(sys), header...)
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Echo).NotTo(BeNil())
		for name, value := range r.Echo.Headers {
			Expect(value).NotTo(Equal("forged"), "%s reached the target", name)
		}
		Expect(r.Echo.Headers).To(HaveKey("X-Amzn-Mtls-Clientcert-Subject"), "the load balancer's own header is still set")
	})

	suite.It("A-HDR-3", "over HTTP/2 too, underscore spellings of the load balancer's headers never reach the target", conformance.Requires(catalog.HTTP2), func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		forged := []string{"x_amzn_mtls_clientcert", "x_amzn_mtls_clientcert_subject", "x-amzn-mtls_clientcert-leaf", "x_forwarded_for", "x_amzn_trace_id"}
		var header []string
		for _, h := range forged {
			header = append(header, h, "forged")
		}
		r := spoken(ok(ctx, clientOver("h2", fixtures.Client), anything(sys), header...), "h2")
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Echo).NotTo(BeNil())
		for name, value := range r.Echo.Headers {
			Expect(value).NotTo(Equal("forged"), "%s reached the target over HTTP/2", name)
		}
		Expect(r.Echo.Headers).To(HaveKey("X-Amzn-Mtls-Clientcert-Subject"), "the load balancer's own header is still set")
	})
})

// rawTLS writes request as it is over a TLS connection to the first listener and returns the
// status line of the answer ("" when the load balancer closes without one).
func rawTLS(ctx context.Context, sys *harness.ALBSystem, request string) string {
	conf := client("").Transport.(*http.Transport).TLSClientConfig
	d := &tls.Dialer{Config: conf}
	c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(sys.ListenerURLs[0], "https://"))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	defer c.Close()
	ExpectWithOffset(1, c.SetDeadline(time.Now().Add(framework.RequestTimeout))).To(Succeed())
	_, err = io.WriteString(c, request)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	status, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(status)
}
