package containers

import (
	"fmt"
	"io"
	"strings"
	"sync"

	tclog "github.com/testcontainers/testcontainers-go/log"
)

// quietLogger drops testcontainers-go's progress lines and passes every other line (failed
// builds or log reads, retries, a container's logs after a failed wait) on to w, so real
// problems stay visible.
type quietLogger struct {
	mu sync.Mutex
	w  io.Writer
}

// newQuietLogger returns a testcontainers-go logger writing what is not progress to w.
func newQuietLogger(w io.Writer) tclog.Logger { return &quietLogger{w: w} }

// Printf implements tclog.Logger.
func (l *quietLogger) Printf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if isProgress(msg) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = fmt.Fprintln(l.w, "testcontainers: "+strings.TrimRight(msg, "\n"))
}

// isProgress reports whether a testcontainers-go log line only says a step went as planned:
// building, creating, starting, waiting for, stopping a container, or the engine it connected to. A container
// run prints some 1,450 of them into the specs' captured output, burying what matters.
func isProgress(msg string) bool {
	for _, p := range []string{"🐳 ", "✅ ", "🔔 ", "🚫 ", "⏳ ", ">> creating TAR file"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	// A port wait on a FROM-scratch image (every mtlsgate one) has no shell for the in-container
	// check; the published port was checked, which is all these waits need.
	if msg == "Shell not found in container" || msg == "Shell not executable in container, only external port validated" {
		return true
	}
	// Printed once per process when the first client connects: the engine's version and paths.
	first, _, _ := strings.Cut(msg, "\n")
	return strings.Contains(first, " - Connected to docker:")
}
