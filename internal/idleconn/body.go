package idleconn

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Failure records why reading a client's request body failed, so a proxy's error handler can
// answer for the client (a stalled or malformed body) instead of blaming the upstream.
type Failure struct {
	mu      sync.Mutex
	err     error
	timeout bool
}

func (f *Failure) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		var ne net.Error
		f.err, f.timeout = err, errors.As(err, &ne) && ne.Timeout()
	}
}

// Get reports whether the first failure was the read timeout, and the failure (nil if none).
func (f *Failure) Get() (timeout bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.timeout, f.err
}

// body bounds each read of a server request's body by timeout (nginx's client_body_timeout,
// ALB's idle timeout: the wait between two successive reads, not for the whole body) and
// records a failure in failed.
type body struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	failed  *Failure
}

// NewBody wraps r's body so each read waits at most timeout, recording a failure in failed; w is
// the handler's ResponseWriter (its connection's read deadline is what is set).
func NewBody(w http.ResponseWriter, r *http.Request, timeout time.Duration, failed *Failure) io.ReadCloser {
	if r.Body == nil || r.Body == http.NoBody || timeout <= 0 {
		return r.Body
	}
	return &body{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: timeout, failed: failed}
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		// The server's background read (which notices a client going away) starts at EOF; it
		// must not inherit the body's deadline.
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		b.failed.set(err)
	}
	return n, err
}
