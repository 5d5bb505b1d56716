package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// TestContainerALBConfig: listeners move to fixed container ports on every address, whatever
// the suite asked, and the caller's configuration is not changed.
func TestContainerALBConfig(t *testing.T) {
	in := alb.Config{Listeners: []alb.Listener{{Port: 0}, {Address: "127.0.0.1", Port: 9443}}}
	out := containerALBConfig(in)
	for i, l := range out.Listeners {
		if l.Address != "0.0.0.0" || l.Port != albListenerPort+i {
			t.Errorf("listener %d: %s:%d, want 0.0.0.0:%d", i, l.Address, l.Port, albListenerPort+i)
		}
	}
	if in.Listeners[1].Port != 9443 || in.Listeners[0].Address != "" {
		t.Errorf("the caller's configuration changed: %+v", in.Listeners)
	}
}

// TestALBFiles: every readable file the configuration names goes in at its own path, once; a
// missing one is left for the emulator to report; the connection log is created only the first
// time; relative names are refused with the fix.
func TestALBFiles(t *testing.T) {
	dir := t.TempDir()
	crt, key, crl := filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key"), filepath.Join(dir, "a.crl")
	for _, p := range []string{crt, key, crl} {
		if err := os.WriteFile(p, []byte("content of "+p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "logs", "conn.log")
	cfg := alb.Config{
		Listeners:      []alb.Listener{{Certificates: []alb.Certificate{{CertificateFile: crt, PrivateKeyFile: key}}}},
		TrustStores:    []alb.TrustStore{{CaCertificatesBundleFile: filepath.Join(dir, "missing.pem"), RevocationContents: []alb.RevocationContents{{File: crl}, {File: crl}}}},
		ConnectionLogs: alb.ConnectionLogs{Path: logPath},
	}
	a := &albFiles{made: map[string]bool{}}
	files, err := a.of(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		if _, dup := got[f.Path]; dup {
			t.Errorf("%s copied twice", f.Path)
		}
		got[f.Path] = string(f.Content)
	}
	want := map[string]string{crt: "content of " + crt, key: "content of " + key, crl: "content of " + crl, logPath: ""}
	if len(got) != len(want) {
		t.Errorf("files %v, want %v", got, want)
	}
	for p, c := range want {
		if g, ok := got[p]; !ok || g != c {
			t.Errorf("%s: %q (present %v), want %q", p, g, ok, c)
		}
	}
	again, err := a.of(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range again {
		if f.Path == logPath {
			t.Errorf("the connection log was created again (it would be truncated in the container)")
		}
	}
	if len(again) != 3 {
		t.Errorf("second time: %d files, want the 3 named files again", len(again))
	}
	cfg.Listeners[0].Certificates[0].CertificateFile = "server.crt"
	if _, err := a.of(cfg); err == nil {
		t.Error("a relative file name was accepted")
	}
}
