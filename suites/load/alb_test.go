package load_test

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/scenario"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

var _ = Describe("the ALB population", Label(conformance.LoadLabel), func() {
	suite.It("L-1", "ALB verify mode on a TLS 1.3-only policy under load: the valid client gets 200, every bad identity and a TLS 1.2 client fail the handshake: 0 violations",
		conformance.RequiresBehaviour("A-MODE-3", "A-POL-1"), func(ctx SpecContext) {
			at, ok := target.(harness.ALBTarget)
			Expect(ok).To(BeTrue(), "target %s claims the Load profile but cannot start an ALB system to attack", target.Name())
			dir := GinkgoT().TempDir()
			Expect(pki.WriteDir(dir)).To(Succeed())
			// The CRL revokes the client-revoked the Kong scenario issued last, the one the population presents.
			crl, err := pki.NewCRL(fixtures.CRLRequest{Name: "crl-load-alb", Issuer: fixtures.RootCA, Revoked: []string{fixtures.ClientRevoked}})
			Expect(err).NotTo(HaveOccurred())
			crlFile := filepath.Join(dir, "crl-load-alb.pem")
			Expect(os.WriteFile(crlFile, crl.PEM, 0o600)).To(Succeed())
			off := false
			cfg := alb.Config{
				Listeners: []alb.Listener{{
					Protocol: "HTTPS", SslPolicy: "ELBSecurityPolicy-TLS13-1-3-2021-06",
					Certificates:         []alb.Certificate{{CertificateFile: filepath.Join(dir, "server.crt"), PrivateKeyFile: filepath.Join(dir, "server.key")}},
					MutualAuthentication: alb.MutualAuthentication{Mode: alb.ModeVerify, TrustStoreArn: "clients"},
					DefaultActions:       []alb.Action{{Type: "forward", TargetGroupArn: "echo"}},
				}},
				TrustStores: []alb.TrustStore{{Name: "clients", CaCertificatesBundleFile: filepath.Join(dir, "ca.crt"),
					RevocationContents: []alb.RevocationContents{{File: crlFile, RevocationType: "CRL"}}}},
				TargetGroups: []alb.TargetGroup{{TargetGroupName: "echo", Protocol: "HTTP", HealthCheckEnabled: &off,
					Targets: []alb.Target{{Id: harness.ALBTargetEcho}}}},
			}
			lb, err := at.StartALB(ctx, harness.ALBSetup{PKI: pki, Config: cfg})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(lb.Stop)

			classes, err := scenario.Population(scenario.ProfileALB, nil, scenario.FromPKI(pki))
			Expect(err).NotTo(HaveOccurred())
			// A new handshake per request: each refusal is a handshake the load balancer failed.
			r := run(ctx, load.Plan{Target: lb.ListenerURLs[0] + "/anything", Profile: scenario.ProfileALB, Classes: classes,
				Mode: load.Handshake, Pacer: constant(100), Duration: 10 * time.Second, MaxRequests: 100,
				Timeout: 20 * time.Second, Workers: 4, MaxWorkers: 32})
			Expect(r.Violations).To(BeZero(), describeViolations(r))
			Expect(r.Requests).To(Equal(uint64(100)))
			for _, c := range r.Classes {
				want := "handshake-failure"
				if c.Name == scenario.Valid {
					want = "200"
				}
				Expect(c.Requests).To(BeNumerically(">", 0), c.Name)
				Expect(c.Observed).To(Equal(map[string]uint64{want: c.Requests}), c.Name)
			}
			// The load balancer's own account agrees: the revoked client was refused for its CRL entry.
			// Its line may still be being written when the client has seen the refusal: wait for it.
			Eventually(func() string { return strings.Join(lb.ConnectionLog(), "\n") }).WithTimeout(5 * time.Second).WithPolling(10 * time.Millisecond).
				Should(ContainSubstring("Failed:ClientCertCrlHit"))
		}, SpecTimeout(90*time.Second))
})
