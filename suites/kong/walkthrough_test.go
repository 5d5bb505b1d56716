package kong_test

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

var _ = Describe("the Client → Kong walkthrough", func() {
	suite.It("K-MTLS-5", "walkthrough: multipart CA upload, global mtls-auth by form, 401 without a certificate, 200 with consumer headers", func(ctx SpecContext) {
		r := adminMultipart(ctx, http.MethodPost, "/ca_certificates", nil, map[string][]byte{"cert": pki.Get(fixtures.RootCA).CertPEM()})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		caID := r.JSON()["id"].(string)

		r = adminForm(ctx, http.MethodPost, "/plugins", url.Values{"name": {"mtls-auth"}, "config.ca_certificates": {caID}})
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

	suite.It("K-MTLS-5", "walkthrough: the README's curl commands, run verbatim but for the ports", func(ctx SpecContext) {
		_, err := exec.LookPath("curl")
		Expect(err).NotTo(HaveOccurred(), "curl is needed to replay the README (apt-get install -y curl)")
		script := readmeWalkthrough()
		dir := GinkgoT().TempDir()
		Expect(pki.WriteDir(filepath.Join(dir, "pki"))).To(Succeed())
		// The README talks to the default ports; the suite's gateway and echo have their own.
		ports := strings.NewReplacer(
			"http://localhost:8001", sys.AdminURL,
			"https://localhost:8443", sys.ProxyTLSURL,
			"http://localhost:8000", sys.ProxyURL,
			"http://localhost:8080", sys.EchoURL,
		)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", ports.Replace(script))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", out)
		text := string(out)
		Expect(text).To(ContainSubstring(`"message":"No required TLS certificate was sent"`))
		Expect(regexp.MustCompile(`"X-Consumer-Username": "demo@apim.eu"`).MatchString(text)).To(BeTrue(), text)
		Expect(text).To(ContainSubstring(`"X-Consumer-Custom-Id": "demo"`))
	})
})

// readmeWalkthrough returns the shell block of README.md between the walkthrough markers.
func readmeWalkthrough() string {
	b, err := os.ReadFile("../../README.md")
	Expect(err).NotTo(HaveOccurred())
	m := regexp.MustCompile("(?s)<!-- walkthrough:begin -->\\s*```(?:sh|bash)\\n(.*?)```\\s*<!-- walkthrough:end -->").FindSubmatch(b)
	Expect(m).NotTo(BeNil(), "README.md has no walkthrough block between <!-- walkthrough:begin --> and <!-- walkthrough:end -->")
	return string(m[1])
}
