package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/controlapi"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
)

// lines streams what a running command writes, one line at a time.
func lines(t *testing.T) (io.WriteCloser, <-chan string) {
	t.Helper()
	r, w := io.Pipe()
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return w, ch
}

// waitLine returns the first line containing want, failing after a bounded wait.
func waitLine(t *testing.T, ch <-chan string, want string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("output ended before a line containing %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line containing %q within 10s", want)
		}
	}
}

func apigwGet(t *testing.T, caFile, url, host string) (int, string) {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// stopAPIGW cancels a running `serve apigw` and checks it stops cleanly and soon.
func stopAPIGW(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve apigw returned %v on shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve apigw did not stop within 10s of cancel")
	}
}

func TestServeAPIGW(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"pki", "--out", dir}, &out, &out); err != nil {
		t.Fatalf("pki: %v\n%s", err, out.String())
	}
	conf := filepath.Join(dir, "apigw.yaml")
	writeConf := func(s string) {
		if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConf("cert: server.crt\nkey: server.key\ndomains:\n  - name: file.example.test\n    mappings:\n      - {basePath: v1, stage: prod}\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, outLines := lines(t)
	stderr, errLines := lines(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "apigw", "--config", conf, "--listen", "127.0.0.1:0", "--domain", "api.example.test", "--domain", "api.example.test=v2", "--stage", "beta"}, stdout, stderr)
		stdout.Close()
		stderr.Close()
	}()
	url := strings.Fields(strings.TrimPrefix(waitLine(t, outLines, "apigw listening on "), "apigw listening on "))[0]
	ca := filepath.Join(dir, "ca.crt")

	if code, body := apigwGet(t, ca, url+"/pets", "127.0.0.1"); code != 403 || body != `{"message":"Forbidden"}` {
		t.Errorf("IP host: %d %s", code, body)
	}
	if code, body := apigwGet(t, ca, url+"/pets/1", "api.example.test"); code != 200 || body != `{"id":1,"type":"dog","price":249.99}` {
		t.Errorf("--domain root mapping: %d %s", code, body)
	}
	if code, _ := apigwGet(t, ca, url+"/v2/pets", "api.example.test"); code != 200 {
		t.Errorf("--domain =v2 mapping: %d", code)
	}
	if code, _ := apigwGet(t, ca, url+"/v1/pets", "file.example.test"); code != 200 {
		t.Errorf("mapping from --config: %d", code)
	}

	// SIGHUP re-reads the file: a bad one keeps the last good domains, a good one replaces them.
	writeConf("cert: server.crt\nkey: server.key\ndomains:\n  - name: file.example.test\n    mappings:\n      - {basePath: v1, stage: prod, api: orders}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLine(t, errLines, `unknown API \"orders\"`)
	if code, _ := apigwGet(t, ca, url+"/v1/pets", "file.example.test"); code != 200 {
		t.Errorf("after a bad reload: %d, want the old mapping", code)
	}
	writeConf("cert: server.crt\nkey: server.key\ndomains:\n  - name: new.example.test\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLine(t, outLines, "new.example.test: no API mappings")
	if code, body := apigwGet(t, ca, url+"/v1/pets", "file.example.test"); code != 403 || body != `{"message":"Forbidden"}` {
		t.Errorf("after a good reload the old domain answers %d %s", code, body)
	}
	if code, _ := apigwGet(t, ca, url+"/pets", "api.example.test"); code != 200 {
		t.Errorf("--domain mappings lost on reload: %d", code)
	}

	stopAPIGW(t, cancel, done)
}

func TestServeAPIGWRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"pki", "--out", dir}, &out, &out); err != nil {
		t.Fatalf("pki: %v\n%s", err, out.String())
	}
	crt, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	conf := filepath.Join(dir, "apigw.yaml")
	if err := os.WriteFile(conf, []byte("listen: 127.0.0.1:0\ncert: server.crt\nkey: server.key\ndomain: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:0"}, "no certificate: set --cert and --key"},
		{[]string{"--listen", "127.0.0.1:0", "--cert", crt, "--key", filepath.Join(dir, "client.key")}, "load certificate"},
		{[]string{"--listen", "127.0.0.1:0", "--cert", crt, "--key", key, "--domain", "https://api.example.test"}, "domains[0].name"},
		{[]string{"--listen", "127.0.0.1:0", "--cert", crt, "--key", key, "--domain", "api.example.test=/v1"}, "domains[0].mappings[0].basePath"},
		{[]string{"--listen", "127.0.0.1:0", "--cert", crt, "--key", key, "--stage", "", "--domain", "api.example.test"}, "mappings[0].stage: empty"},
		{[]string{"--config", conf}, "field domain not found"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"serve", "apigw"}, c.args...), &out, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to name %q", c.args, err, c.want)
		}
	}
}

// TestServeAPIGWControlAPI: PUT /domains replaces the domains at once (the --domain mappings
// kept), a bad list is refused naming the field and changes nothing, GET /domains shows them.
func TestServeAPIGWControlAPI(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"pki", "--out", dir}, &out, &out); err != nil {
		t.Fatalf("pki: %v\n%s", err, out.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, outLines := lines(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "apigw", "--listen", "127.0.0.1:0", "--cert", filepath.Join(dir, "server.crt"), "--key", filepath.Join(dir, "server.key"),
			"--domain", "flag.example.test", "--status-listen", "127.0.0.1:0"}, stdout, io.Discard)
		stdout.Close()
	}()
	ctl := strings.TrimSpace(strings.TrimPrefix(waitLine(t, outLines, "apigw control "), "apigw control "))
	url := strings.Fields(strings.TrimPrefix(waitLine(t, outLines, "apigw listening on "), "apigw listening on "))[0]
	go func() {
		for range outLines { //nolint:revive // drain
		}
	}()
	ca := filepath.Join(dir, "ca.crt")
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, ctl+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPut {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("GET", "/status/ready", ""); code != 200 {
		t.Fatalf("ready: %d %s", code, body)
	}
	if code, _ := apigwGet(t, ca, url+"/pets", "api.example.test"); code != 403 {
		t.Errorf("before PUT: %d, want 403", code)
	}
	plain, err := http.NewRequestWithContext(ctx, http.MethodPut, ctl+"/domains", strings.NewReader(`[{"Name":"api.example.test"}]`))
	if err != nil {
		t.Fatal(err)
	}
	plain.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(plain); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("PUT /domains as text/plain (a CORS simple request): %v %v, want 415", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, body := call("PUT", "/domains", `[{"Name":"api.example.test","Mappings":[{"BasePath":"","Stage":"prod","API":"petstore"}]}]`); code != 204 {
		t.Fatalf("PUT /domains: %d %s", code, body)
	}
	if code, _ := apigwGet(t, ca, url+"/pets", "api.example.test"); code != 200 {
		t.Errorf("after PUT: %d, want 200", code)
	}
	if code, _ := apigwGet(t, ca, url+"/pets", "flag.example.test"); code != 200 {
		t.Errorf("the --domain mapping was lost: %d", code)
	}
	for body, want := range map[string]string{
		`[{"Name":"api.example.test","Mappings":[{"BasePath":"/v1","Stage":"prod"}]}]`: "basePath",
		`[{"Nam":"api.example.test"}]`: `unknown field "Nam"`,
		`{"Name":"api.example.test"}`:  "JSON list",
	} {
		code, got := call("PUT", "/domains", body)
		if code != 400 || !strings.Contains(got, want) {
			t.Errorf("PUT %s: %d %q, want 400 naming %q", body, code, got, want)
		}
	}
	if code, _ := apigwGet(t, ca, url+"/pets", "api.example.test"); code != 200 {
		t.Errorf("a refused PUT changed the domains: %d", code)
	}
	if _, body := call("GET", "/domains", ""); !strings.Contains(body, `"Name":"api.example.test"`) || !strings.Contains(body, `"Name":"flag.example.test"`) {
		t.Errorf("GET /domains: %s", body)
	}
	// The typed client the harness uses: a refusal in the server's words, then none at all
	// (the --domain mapping stays).
	typed := &apigw.ControlClient{Client: controlapi.Client{Base: ctl}}
	if err := typed.SetDomains(ctx, []apigw.Domain{{Name: "api.example.test", Mappings: []apigw.Mapping{{BasePath: "/v1", Stage: "prod"}}}}); err == nil || !strings.Contains(err.Error(), "basePath") {
		t.Errorf("SetDomains with a bad base path: %v", err)
	}
	if err := typed.SetDomains(ctx, nil); err != nil {
		t.Fatalf("SetDomains(nil): %v", err)
	}
	if code, _ := apigwGet(t, ca, url+"/pets", "api.example.test"); code != 403 {
		t.Errorf("after SetDomains(nil): %d, want 403", code)
	}
	stopAPIGW(t, cancel, done)
}
