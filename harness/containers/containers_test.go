package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go/wait"
)

func TestImageTag(t *testing.T) {
	df, bin := []byte("FROM scratch\n"), []byte("\x7fELF binary")
	tag := ImageTag(df, bin)
	if len(tag) != 16 {
		t.Fatalf("ImageTag = %q, want 16 hex digits", tag)
	}
	if again := ImageTag(df, bin); again != tag {
		t.Errorf("ImageTag is not stable: %q then %q", tag, again)
	}
	for name, other := range map[string]string{
		"binary changed":     ImageTag(df, []byte("\x7fELF binarz")),
		"dockerfile changed": ImageTag([]byte("FROM scratch\nLABEL x=y\n"), bin),
		// The length prefix keeps the boundary: moving a byte from one part to the other is a change.
		"boundary moved": ImageTag([]byte("FROM scratch\n\x7f"), []byte("ELF binary")),
	} {
		if other == tag {
			t.Errorf("%s: tag unchanged (%s)", name, tag)
		}
	}
}

func TestTarFiles(t *testing.T) {
	archive, err := tarFiles([]File{
		{Path: "/pki/ca.crt", Content: []byte("CA")},
		{Path: "/pki/client.key", Content: []byte("KEY"), Mode: 0o600},
		{Path: "/tmp/x/y/kong.conf", Content: nil},
		{Path: "/mtlsgate", Content: []byte("bin"), Mode: 0o755},
	})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		typ  byte
		mode int64
		body string
	}
	got := map[string]entry{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = entry{h.Typeflag, h.Mode, string(b)}
		order = append(order, h.Name)
	}
	want := map[string]entry{
		"pki/ca.crt":        {tar.TypeReg, 0o644, "CA"},
		"pki/client.key":    {tar.TypeReg, 0o600, "KEY"},
		"tmp/x/y/kong.conf": {tar.TypeReg, 0o644, ""},
		"mtlsgate":          {tar.TypeReg, 0o755, "bin"},
	}
	// No directory entries (they would reset an existing directory's mode), each file once.
	if len(got) != len(want) || len(order) != len(want) {
		t.Errorf("archive holds %v, want the %d entries %v (each once)", order, len(want), want)
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %+v (present %v), want %+v", name, g, ok, w)
		}
	}
}

func TestTarFilesRejectsNoPath(t *testing.T) {
	for _, p := range []string{"", "/", "."} {
		if _, err := tarFiles([]File{{Path: p, Content: []byte("x")}}); err == nil {
			t.Errorf("tarFiles accepted the path %q", p)
		}
	}
}

func TestLoopbackPorts(t *testing.T) {
	hc := &container.HostConfig{}
	loopbackPorts([]string{"8000/tcp", "8443/tcp"})(hc)
	if len(hc.PortBindings) != 2 {
		t.Fatalf("PortBindings = %v, want two ports", hc.PortBindings)
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	for p, bs := range hc.PortBindings {
		if len(bs) != 1 || bs[0].HostIP != loopback || bs[0].HostPort != "0" {
			t.Errorf("%s is published as %+v, want one ephemeral port on 127.0.0.1 only", p, bs)
		}
	}
	if _, ok := hc.PortBindings[mobynetwork.MustParsePort("8443/tcp")]; !ok {
		t.Errorf("8443/tcp not published: %v", hc.PortBindings)
	}
}

func TestConnectWithoutEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-engine.sock")
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	start := time.Now()
	e, err := Connect(context.Background())
	if err == nil {
		_ = e.Close()
		t.Fatal("Connect found an engine behind a socket that does not exist")
	}
	for _, want := range []string{"no Docker engine found", "DOCKER_HOST=unix://", "no-engine.sock", "MTLSGATE_TARGET=reference"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Connect took %s to give up, want seconds", d)
	}
}

// TestStartOnDocker starts the mtlsgate image with its certificate copied in under a directory the
// image lacks, and checks the copy (the HTTPS echo answers with it) and the loopback-only ports.
func TestStartOnDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs a Docker engine and an image build")
	}
	ctx := t.Context()
	e, err := Connect(ctx)
	if err != nil {
		t.Skipf("no Docker engine, nothing to start: %v", err)
	}
	defer e.Close()
	img, err := e.MtlsgateImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := e.NewNetwork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := nw.Remove(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	certPEM, keyPEM := selfSigned(t)
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the probe checks reachability, not trust
	c, err := nw.Start(ctx, Request{
		Image: img, Alias: "probe", Ports: []string{"8443/tcp"},
		Files: []File{{Path: "/deep/dir/tls.crt", Content: certPEM}, {Path: "/deep/dir/tls.key", Content: keyPEM, Mode: 0o600}},
		Cmd: []string{"serve", "upstream", "--http", "", "--https", "0.0.0.0:8443",
			"--cert", "/deep/dir/tls.crt", "--key", "/deep/dir/tls.key", "--name", "copied-files-probe"},
		Wait: wait.ForHTTP("/anything").WithPort("8443/tcp").WithTLS(true, insecure),
	})
	if c != nil {
		defer func() {
			if err := c.Terminate(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.URL(ctx, "8443/tcp", "https")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "https://127.0.0.1:") {
		t.Errorf("URL = %s, want 127.0.0.1", u)
	}
	// A config of its own: the wait strategy's transport added "h2" to the one it was given.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second} //nolint:gosec // as above
	res, err := hc.Get(u + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("copied-files-probe")) {
		t.Errorf("GET /anything = %d %s, want 200 from the probe", res.StatusCode, body)
	}
	if got := res.TLS.PeerCertificates[0].Subject.CommonName; got != "copied-file" {
		t.Errorf("the probe served CN %q, want the copied certificate's copied-file", got)
	}
	inspect, err := e.client.ContainerInspect(ctx, c.c.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for p, bs := range inspect.Container.NetworkSettings.Ports {
		for _, b := range bs {
			if b.HostIP.String() != "127.0.0.1" {
				t.Errorf("%s is published on %s:%s, want 127.0.0.1 only", p, b.HostIP, b.HostPort)
			}
		}
	}
}

// selfSigned is a throwaway ECDSA certificate (CN copied-file) and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "copied-file"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"probe"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})
}

// TestDockerfileLabelsTheReference: the image carries the label Kong targets look for.
func TestDockerfileLabelsTheReference(t *testing.T) {
	if !strings.Contains(dockerfile, "LABEL "+ReferenceLabel+"=true\n") || !strings.HasPrefix(dockerfile, "FROM scratch\n") {
		t.Errorf("Dockerfile:\n%s", dockerfile)
	}
}
