package kong_test

import (
	"context"
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate"
	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
)

var _ = Describe("the Client → Kong walkthrough", func() {
	suite.It("K-MTLS-5", "walkthrough: multipart CA upload, global mtls-auth by form, 401 without a certificate, 200 with consumer headers", func(ctx SpecContext) {
		r := adminMultipart(ctx, http.MethodPost, "/ca_certificates", nil, map[string][]byte{"cert": pki.Get(fixtures.RootCA).CertPEM()})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		caID := r.JSON()["id"].(string)

		r = adminForm(ctx, http.MethodPost, "/plugins", url.Values{"name": {kong.MTLSAuthName}, "config.ca_certificates": {caID}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()["config"]).To(HaveKeyWithValue("ca_certificates", ConsistOf(caID)))

		r = adminForm(ctx, http.MethodPost, "/services", url.Values{"name": {"echo"}, "url": {sys.EchoURL + "/anything"}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		r = adminForm(ctx, http.MethodPost, "/services/echo/routes", url.Values{"paths[]": {"/mtls"}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		r = adminForm(ctx, http.MethodPost, "/consumers", url.Values{"username": {"demo@apim.eu"}, "custom_id": {"demo"}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		consumerID := r.JSON()["id"].(string)

		r = viaTLS(ctx, "", "/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized))
		Expect(r.Body).To(MatchJSON(noCertificate))

		r = viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(r.Echo.Headers).To(And(
			HaveKeyWithValue("X-Consumer-Id", consumerID),
			HaveKeyWithValue("X-Consumer-Username", "demo@apim.eu"),
			HaveKeyWithValue("X-Consumer-Custom-Id", "demo"),
		))
	})

	suite.It("K-MTLS-5", "walkthrough: the README's curl commands, run verbatim but for the ports", conformance.Requires(catalog.READMEReplay), func(ctx SpecContext) {
		text := replayREADME(ctx, "walkthrough", map[string]string{
			"http://localhost:8001": sys.AdminURL, "https://localhost:8443": sys.ProxyTLSURL,
			"http://localhost:8000": sys.ProxyURL, "http://localhost:8080": sys.EchoURL,
		})
		Expect(text).To(ContainSubstring(`"message":"No required TLS certificate was sent"`))
		Expect(text).To(ContainSubstring(`"X-Consumer-Username": "demo@apim.eu"`))
		Expect(text).To(ContainSubstring(`"X-Consumer-Custom-Id": "demo"`))
	})

	suite.It("K-UP-2", "README: global client_ssl_cert, then the service's client_certificate, then null → global again", conformance.Requires(catalog.KongConf, catalog.READMEReplay), func(ctx SpecContext) {
		s := startKong(ctx, "client_ssl = on", "client_ssl_cert = "+file("gateway-client.crt"), "client_ssl_cert_key = "+file("gateway-client.key"))
		text := replayREADME(ctx, "upstream-mtls", map[string]string{
			"http://localhost:8001": s.AdminURL, "http://localhost:8000": s.ProxyURL, "https://localhost:9443": s.MTLSEchoURL,
		})
		Expect(regexp.MustCompile(`"common_name": "(gateway-[a-z]+)"`).FindAllStringSubmatch(text, -1)).To(Equal([][]string{
			{`"common_name": "gateway-global"`, "gateway-global"},
			{`"common_name": "gateway-service"`, "gateway-service"},
			{`"common_name": "gateway-global"`, "gateway-global"},
		}), text)
	})
})

// readmeBlock returns the shell block of README.md between <!-- replay:name --> and <!-- /replay -->.
func readmeBlock(name string) string {
	m := regexp.MustCompile("(?s)<!-- replay:" + regexp.QuoteMeta(name) + " -->\\s*```(?:sh|bash)\\n(.*?)```\\s*<!-- /replay -->").FindSubmatch(mtlsgate.README())
	Expect(m).NotTo(BeNil(), "README.md has no block between <!-- replay:%s --> and <!-- /replay -->", name)
	return string(m[1])
}

// replayREADME runs a README block with bash in a directory holding the PKI as pki/, with the
// README's default addresses replaced by the system's.
func replayREADME(ctx context.Context, name string, addresses map[string]string) string {
	_, err := exec.LookPath("curl")
	Expect(err).NotTo(HaveOccurred(), "curl is needed to replay the README (apt-get install -y curl)")
	dir := GinkgoT().TempDir()
	Expect(pki.WriteDir(filepath.Join(dir, "pki"))).To(Succeed())
	var pairs []string
	for from, to := range addresses {
		pairs = append(pairs, from, to)
	}
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", strings.NewReplacer(pairs...).Replace(readmeBlock(name)))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s", out)
	return string(out)
}
