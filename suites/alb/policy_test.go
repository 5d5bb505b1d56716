package alb_test

import (
	"crypto/tls"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

var _ = Describe("Security policies", func() {
	tls13Only := []string{"ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"}

	suite.It("A-POL-1", "TLS 1.3-only policies refuse a TLS 1.2 client with a protocol_version alert and serve TLS 1.3", func(ctx SpecContext) {
		for _, p := range tls13Only {
			sys := start(ctx, config(alb.ModeVerify, withPolicy(p)))
			tls12 := refused(ctx, client(fixtures.Client, tls12Only), anything(sys))
			Expect(tls12.Err.Error()).To(ContainSubstring("protocol version not supported"), "%s: the alert is protocol_version", p)
			r := ok(ctx, client(fixtures.Client), anything(sys))
			Expect(r.TLS.Version).To(Equal(uint16(tls.VersionTLS13)), p)
			expectLogged(sys, tls12, "Failed:UnmappedConnectionError", "%s: the refused TLS 1.2 connection is logged too", p)
			expectLogged(sys, r.Conn, "Success", "%s: the TLS 1.3 connection is logged", p)
		}
	})

	suite.It("A-POL-1", "the PQ policy negotiates the X25519MLKEM768 hybrid first; FIPS does not offer it", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-3-PQ-2025-09")))
		pq := ok(ctx, client(""), anything(sys))
		Expect(pq.TLS.CurveID).To(Equal(tls.X25519MLKEM768))
		if writesConnectionLog() {
			Expect(logged(sys, pq.Conn)[0].KeyExchange).To(Equal("X25519MLKEM768"), "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09: the logged key exchange")
		}
		classic := func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256} }
		Expect(ok(ctx, client("", classic), anything(sys)).TLS.CurveID).To(Equal(tls.X25519), "classical clients still connect")

		Expect(sys.Apply(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-3-2021-06")))).To(Succeed())
		Expect(ok(ctx, client(""), anything(sys)).TLS.CurveID).NotTo(Equal(tls.X25519MLKEM768), "only the PQ policy offers ML-KEM")
		Expect(sys.Apply(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04")))).To(Succeed())
		Expect(ok(ctx, client(""), anything(sys)).TLS.CurveID).To(Equal(tls.CurveP256), "FIPS uses NIST curves")
	})

	suite.It("A-POL-1", "TLS 1.2 policies allow only their cipher sets; Res refuses CBC suites", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")))
		cbc := func(c *tls.Config) {
			tls12Only(c)
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
		}
		gcm := func(c *tls.Config) {
			tls12Only(c)
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		}
		refused(ctx, client("", cbc), anything(sys))
		r := ok(ctx, client("", gcm), anything(sys))
		Expect(r.TLS.Version).To(Equal(uint16(tls.VersionTLS12)))
		if writesConnectionLog() {
			Expect(logged(sys, r.Conn)[0].Cipher).To(Equal("ECDHE-ECDSA-AES128-GCM-SHA256"), "ELBSecurityPolicy-TLS13-1-2-Res-2021-06: OpenSSL names in the log")
		}
		Expect(sys.Apply(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-2-2021-06")))).To(Succeed())
		Expect(ok(ctx, client("", cbc), anything(sys)).Status).To(Equal(200), "the standard 1.2 policy allows ECDHE-ECDSA-AES128-SHA256")
	})

	suite.It("A-POL-1", "the 1-1 and 1-0 policies admit TLS 1.1 and 1.0 clients; the 1-2 ones do not", func(ctx SpecContext) {
		upTo := func(v uint16) func(*tls.Config) {
			return func(c *tls.Config) {
				c.MinVersion, c.MaxVersion = tls.VersionTLS10, v
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
			}
		}
		sys := start(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-1-2021-06")))
		Expect(ok(ctx, client("", upTo(tls.VersionTLS11)), anything(sys)).TLS.Version).To(Equal(uint16(tls.VersionTLS11)))
		refused(ctx, client("", upTo(tls.VersionTLS10)), anything(sys))
		Expect(sys.Apply(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-0-2021-06")))).To(Succeed())
		Expect(ok(ctx, client("", upTo(tls.VersionTLS10)), anything(sys)).TLS.Version).To(Equal(uint16(tls.VersionTLS10)))
		Expect(sys.Apply(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06")))).To(Succeed())
		refused(ctx, client("", upTo(tls.VersionTLS11)), anything(sys))
		Expect(ok(ctx, client("", upTo(tls.VersionTLS12)), anything(sys)).TLS.Version).To(Equal(uint16(tls.VersionTLS12)), "Ext2 keeps the SHA-1 CBC suites")
	})

	suite.It("A-POL-1", "every ELB TLS 1.3 policy name loads; an unknown name is refused, naming it", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff))
		for _, p := range []string{"ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
			"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", "ELBSecurityPolicy-TLS13-1-1-2021-06",
			"ELBSecurityPolicy-TLS13-1-0-2021-06", "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"} {
			Expect(sys.Apply(ctx, config(alb.ModeOff, withPolicy(p)))).To(Succeed(), p)
			Expect(ok(ctx, client(""), anything(sys)).Status).To(Equal(200), p)
		}
		Expect(sys.Apply(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-3-2099-01")))).
			To(refusedNaming(`SslPolicy "ELBSecurityPolicy-TLS13-1-3-2099-01"`, "SSL policy 'ELBSecurityPolicy-TLS13-1-3-2099-01' not found"))
	})

	suite.It("A-POL-1", "FIPS: a client offering only CHACHA20 gets no service (checked with openssl s_client)", func(ctx SpecContext) {
		openssl, err := exec.LookPath("openssl")
		if err != nil {
			Fail("openssl is needed for this spec (apt-get install -y openssl)")
		}
		sys := start(ctx, config(alb.ModeOff, withPolicy("ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04")))
		addr := strings.TrimPrefix(sys.ListenerURLs[0], "https://")
		run := func(suites string) (string, error) {
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-tls1_3", "-ciphersuites", suites, "-brief", "-ign_eof")
			cmd.Stdin = strings.NewReader("GET /anything HTTP/1.1\r\nHost: alb\r\nConnection: close\r\n\r\n")
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		// openssl's client port is not known here: its connection is known by when it ran.
		chacha := conn{Began: time.Now()}
		out, _ := run("TLS_CHACHA20_POLY1305_SHA256")
		chacha.Ended = time.Now()
		Expect(out).NotTo(ContainSubstring("HTTP/1.1 200"), out)
		if writesConnectionLog() {
			Expect(logged(sys, chacha)[0].VerifyStatus).To(HavePrefix("Failed:"), "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04: a CHACHA20-only client")
		}
		out, err = run("TLS_AES_256_GCM_SHA384")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("HTTP/1.1 200"))
	})
})
