package bench

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// TestDialLoopEveryConnectionIsAFullMTLSHandshake proves the loop does what the bench compares
// the simulator with: Max connections, each its own full handshake presenting the client
// certificate (none resumed), each answered.
func TestDialLoopEveryConnectionIsAFullMTLSHandshake(t *testing.T) {
	seed := int64(1)
	pki, err := fixtures.Generate(context.Background(), fixtures.Options{Seed: &seed})
	if err != nil {
		t.Fatal(err)
	}
	var handshakes, withCert, resumed atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			handshakes.Add(1)
			if len(cs.PeerCertificates) > 0 {
				withCert.Add(1)
			}
			if cs.DidResume {
				resumed.Add(1)
			}
			return nil
		},
	}
	srv.StartTLS()
	defer srv.Close()

	cert := pki.Get(fixtures.Client).TLSCertificate()
	res, err := DialLoop(context.Background(), DialLoopOptions{
		URL: srv.URL + "/anything", Certificate: cert, Rate: 10000, Duration: time.Minute, Max: 40, Concurrency: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed != 40 || res.Failed != 0 {
		t.Fatalf("completed %d, failed %d (first error %q); want 40 and 0", res.Completed, res.Failed, res.FirstError)
	}
	if handshakes.Load() != 40 || withCert.Load() != 40 || resumed.Load() != 0 {
		t.Fatalf("server saw %d handshakes, %d with a client certificate, %d resumed; want 40, 40, 0",
			handshakes.Load(), withCert.Load(), resumed.Load())
	}
}
