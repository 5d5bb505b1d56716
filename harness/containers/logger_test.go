package containers

import (
	"bytes"
	"strings"
	"testing"
)

// TestQuietLoggerDropsProgressKeepsProblems: the lines testcontainers-go prints for steps that
// went as planned are dropped, and every other line (failures, retries) is written.
func TestQuietLoggerDropsProgressKeepsProblems(t *testing.T) {
	var buf bytes.Buffer
	l := newQuietLogger(&buf)
	progress := []string{
		"🐳 Creating container for image %s", "✅ Container created: %s", "🐳 Starting container: %s",
		"✅ Container started: %s", "🔔 Container is ready: %s", "🐳 Terminating container: %s",
		"🚫 Container terminated: %s", "🐳 Building image %s", "✅ Built image %s",
		"⏳ Waiting for container id %s image: mtlsgate/mtlsgate:0011. Waiting for: HTTP GET request on port 8100",
		"%s - Connected to docker: \n  Server Version: 28.0\n  API Version: 1.48",
		"Shell not found in container", "Shell not executable in container, only external port validated",
	}
	for _, f := range progress {
		if strings.Contains(f, "%s") {
			l.Printf(f, "abc123")
		} else {
			l.Printf("%s", f)
		}
	}
	if buf.Len() != 0 {
		t.Fatalf("progress lines were written: %q", buf.String())
	}
	l.Printf("Failed to build image: %s, will retry", "no space left on device")
	l.Printf("container logs (%s):\n%s", "wait failed", "listen tcp :8443: bind: address in use")
	out := buf.String()
	for _, want := range []string{"Failed to build image: no space left on device, will retry", "container logs (wait failed):\nlisten tcp :8443: bind: address in use"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}
