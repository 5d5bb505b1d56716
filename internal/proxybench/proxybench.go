// Package proxybench owns the client side of the reference gateways' proxy benchmarks, so
// reference/kong and reference/alb measure with the same client.
package proxybench

import (
	"crypto/tls"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// Run sends GET target from b's parallel goroutines, each answer read whole and required
// to be a 200: over kept-alive connections, or over a new connection (a full handshake, never
// resumed) per request.
func Run(b *testing.B, target string, cert tls.Certificate, keepAlive bool) {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}, //nolint:gosec // benchmark client
			MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519},
			NextProtos: []string{"http/1.1"}, SessionTicketsDisabled: true,
		},
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
		DisableKeepAlives:   !keepAlive,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func() error {
		resp, err := client.Get(target)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &statusError{resp.StatusCode}
		}
		return nil
	}
	if err := get(); err != nil {
		b.Fatalf("GET %s: %v", target, err)
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// CPU time per request (client, gateway and echo together) depends far less than ns/op on
	// what else the machine runs, so before/after comparisons on a shared machine use it.
	if cpu1, ok := processCPU(); ok && cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "status " + strconv.Itoa(e.code) }
