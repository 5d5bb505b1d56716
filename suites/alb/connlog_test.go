package alb_test

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

var _ = Describe("Connection log", func() {
	suite.It("A-LOG-1", "one line per connection in ALB's field order, Success or Failed:<code>", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify, withCRL(pkiFile("crl.pem"))))
		port := sys.ListenerPorts[0]
		good := ok(ctx, client(fixtures.Client), anything(sys))
		Expect(good.Status).To(Equal(200))
		conns := []conn{good.Conn}
		for _, name := range []string{"", fixtures.ClientUnknownCA, fixtures.ClientRevoked, fixtures.ClientExpired, fixtures.ClientNotYetValid, fixtures.ClientDeepChain, fixtures.ClientNoClientAuth, fixtures.ClientRSA1024} {
			conns = append(conns, refused(ctx, client(name), anything(sys)))
		}
		entries := logged(sys, conns...)
		lines := sys.ConnectionLog()
		Expect(lines).To(HaveLen(9), "one line per connection, no more")
		for _, l := range lines {
			Expect(l).To(MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z %s \d+ %s (TLSv1\.[23]|-) \S+ (\d+\.\d{3}|-) ("[^"]*"|-) (NotBefore=\S+;NotAfter=\S+|-) ([0-9A-F]+|-) (Success|Failed:\w+) TID_[0-9a-f]{32} \S+ app/[\w-]+/[0-9a-f]{16} \S+$`, regexp.QuoteMeta(sys.ClientIP), port),
				"ALB's 15 fields in order")
			// "tls_handshake_latency … is set to - when … the handshake is not established successfully"
			if strings.Contains(l, " Success TID_") {
				Expect(strings.Fields(l)[6]).To(MatchRegexp(`^\d+\.\d{3}$`), l)
			} else {
				Expect(strings.Fields(l)[6]).To(Equal("-"), l)
			}
		}
		byStatus := map[string]alb.LogEntry{}
		for _, e := range entries {
			byStatus[e.VerifyStatus] = e
			Expect(e.ClientIP).To(Equal(sys.ClientIP))
			Expect(e.ClientPort).To(MatchRegexp(`^\d+$`))
			Expect(e.ListenerPort).To(Equal(port))
			Expect(e.TraceID).To(MatchRegexp(`^TID_[0-9a-f]{32}$`))
			Expect(e.Time).To(BeTemporally("~", time.Now(), time.Minute))
			Expect(e.HandshakeLatency).To(BeNumerically("<", 5*time.Second))
		}
		Expect(byStatus).To(HaveLen(9), "every connection has its own status: %v", lines)
		success := entries[0]
		Expect(byStatus["Success"]).To(Equal(success), "the accepted connection's line")
		leaf := pki.Get(fixtures.Client).Cert
		Expect(success.Protocol).To(Equal("TLSv1.3"))
		Expect(success.Cipher).To(BeElementOf("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"))
		Expect(success.Subject).To(Equal(leaf.Subject.String()))
		Expect(success.Serial).To(Equal(strings.ToUpper(leaf.SerialNumber.Text(16))))
		Expect(success.Validity).To(HavePrefix("NotBefore="))
		Expect(success.KeyExchange).To(Equal("X25519"))
		for _, code := range []string{"ClientCertRejected", "ClientCertUntrusted", "ClientCertCrlHit", "ClientCertExpired", "ClientCertNotYetValid",
			"ClientCertMaxChainDepthExceeded", "ClientCertPurposeInvalid", "ClientCertTypeUnsupported"} {
			Expect(byStatus).To(HaveKey("Failed:"+code), strings.Join(lines, "\n"))
		}
		Expect(byStatus["Failed:ClientCertRejected"].Subject).To(BeEmpty())
		Expect(byStatus["Failed:ClientCertCrlHit"].Subject).To(Equal(pki.Get(fixtures.ClientRevoked).Cert.Subject.String()), "a failed line keeps the certificate's fields")
		Expect(byStatus["Failed:ClientCertCrlHit"].Serial).To(Equal(strings.ToUpper(pki.Get(fixtures.ClientRevoked).Cert.SerialNumber.Text(16))))
		Expect(success.ELB).To(HavePrefix("app/"), "the elb field")
		Expect(success.IPAddress).NotTo(BeEmpty(), "the ip_address field")
	})

	suite.It("A-LOG-1", "a connection that never completes a handshake is logged once too", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		plain := conn{Began: time.Now()} // Ended stays zero: the suite does not wait for the server
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(sys.ListenerURLs[0], "https://"))
		Expect(err).NotTo(HaveOccurred())
		plain.Port = portOf(c.LocalAddr())
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\n\r\n")) // plain HTTP on the TLS port
		_ = c.Close()
		e := logged(sys, plain)[0]
		Expect(e.VerifyStatus).To(Equal("Failed:UnmappedConnectionError"))
		Expect(e.Protocol).To(BeEmpty())
	})

	suite.It("A-LOG-1", "ConnectionLogs.Path writes the same lines to a file", func(ctx SpecContext) {
		path := filepath.Join(GinkgoT().TempDir(), "conn.log")
		sys := start(ctx, config(alb.ModeVerify, func(c *alb.Config) { c.ConnectionLogs.Path = path }))
		good := ok(ctx, client(fixtures.Client), anything(sys))
		Expect(good.Status).To(Equal(200))
		logged(sys, good.Conn, refused(ctx, client(fixtures.ClientUnknownCA), anything(sys)))
		Expect(sys.ConnectionLog()).To(HaveLen(2))
		Eventually(func() ([]string, error) {
			b, err := os.ReadFile(path)
			return strings.Split(strings.TrimSpace(string(b)), "\n"), err
		}).WithTimeout(framework.EventuallyTimeout).WithPolling(framework.PollInterval).Should(Equal(sys.ConnectionLog()), "the file holds the same lines")
	})
})

var _ = Describe("Connection log codes for broken certificates", func() {
	suite.It("A-LOG-1", "a certificate that does not parse fails the handshake, logged ClientCertInvalid", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		good := pki.Get(fixtures.Client).TLSCertificate()
		der := append([]byte(nil), good.Certificate[0]...)
		der[len(der)/2] ^= 0xff
		der = der[:len(der)-7]
		broken := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: good.PrivateKey}
		c := client("", func(conf *tls.Config) {
			conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &broken, nil }
		})
		Expect(logged(sys, refused(ctx, c, anything(sys)))[0].VerifyStatus).To(Equal("Failed:ClientCertInvalid"))
	})
})
