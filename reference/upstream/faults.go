package upstream

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// faults is a revocation responder's behaviour switch and its per-name request counts, one
// implementation so the CRL and OCSP responders validate modes, count and report hits alike.
type faults[M ~string] struct {
	what  string // names the responder in errors: "CRL", "OCSP"
	modes []M    // the modes SetMode accepts; the first is the default

	mu    sync.Mutex
	mode  M
	delay time.Duration
	hits  map[string]int
}

func newFaults[M ~string](what string, modes ...M) faults[M] {
	return faults[M]{what: what, modes: modes, mode: modes[0], hits: map[string]int{}}
}

// setMode switches the behaviour; delay applies to the slow mode. An unknown mode is an error
// naming the ones there are, and changes nothing.
func (f *faults[M]) setMode(mode M, delay time.Duration) error {
	known := false
	names := make([]string, len(f.modes))
	for i, m := range f.modes {
		known = known || m == mode
		names[i] = string(m)
	}
	if !known {
		last := len(names) - 1
		return fmt.Errorf("unknown %s mode %q (use %s or %s)", f.what, mode, strings.Join(names[:last], ", "), names[last])
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.delay = mode, delay
	return nil
}

// hitsOf is how many requests name received.
func (f *faults[M]) hitsOf(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[name]
}

// take counts one request for name (when count) and returns the behaviour to answer it with.
func (f *faults[M]) take(name string, count bool) (M, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if count {
		f.hits[name]++
	}
	return f.mode, f.delay
}

// control answers the control requests every responder shares, PUT …/mode?mode=…&delay=… and
// GET …/hits/<name>, given the path below the responder's control prefix; false means rest is
// none of them.
func (f *faults[M]) control(w http.ResponseWriter, r *http.Request, rest string) bool {
	switch {
	case r.Method == http.MethodPut && rest == "mode":
		delay, err := time.ParseDuration(orZero(r.URL.Query().Get("delay")))
		if err != nil {
			http.Error(w, "delay: "+err.Error(), http.StatusBadRequest)
			return true
		}
		if err := f.setMode(M(r.URL.Query().Get("mode")), delay); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return true
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "hits/"):
		_, _ = io.WriteString(w, strconv.Itoa(f.hitsOf(strings.TrimPrefix(rest, "hits/"))))
	default:
		return false
	}
	return true
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}
