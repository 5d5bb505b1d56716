package serve_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/mtlsgate/mtlsgate/internal/serve"
)

// h2Server starts a TLS listener serving HTTP/1.1 and HTTP/2 with h.
func h2Server(t *testing.T, h http.Handler) *serve.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	s, err := serve.Listen(context.Background(), "127.0.0.1:0", h, serve.Options{
		TLS:       &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, NextProtos: []string{"h2", "http/1.1"}},
		Protocols: &protos,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// h2Conn is a raw HTTP/2 client connection, for sending what no well-behaved client sends.
type h2Conn struct {
	t    *testing.T
	c    *tls.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
	// settings are the server's first SETTINGS.
	settings map[http2.SettingID]uint32
}

func dialH2(t *testing.T, s *serve.Server) *h2Conn {
	t.Helper()
	c, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec // a test server
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	h := &h2Conn{t: t, c: c, fr: http2.NewFramer(c, c), settings: map[http2.SettingID]uint32{}}
	h.enc = hpack.NewEncoder(&h.hbuf)
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("read the server's SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			_ = sf.ForeachSetting(func(s http2.Setting) error { h.settings[s.ID] = s.Val; return nil })
			if err := h.fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			return h
		}
	}
}

// request sends a GET on stream id with extra headers, split into frames of at most 16 KiB.
func (h *h2Conn) request(id uint32, extra map[string]string) {
	h.hbuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/"}} {
		_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for k, v := range extra {
		_ = h.enc.WriteField(hpack.HeaderField{Name: k, Value: v})
	}
	block := h.hbuf.Bytes()
	const max = 16 << 10
	first := block[:min(max, len(block))]
	rest := block[len(first):]
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: true, EndHeaders: len(rest) == 0}); err != nil {
		h.t.Fatal(err)
	}
	for len(rest) > 0 {
		chunk := rest[:min(max, len(rest))]
		rest = rest[len(chunk):]
		if err := h.fr.WriteContinuation(id, len(rest) == 0, chunk); err != nil {
			// The server may close the connection before it has read the whole block.
			return
		}
	}
}

// TestHTTP2Limits: the server advertises its limits, refuses a header block past
// MaxHeaderBytes (431 or a connection error, never the handler), and refuses a stream past
// MaxConcurrentStreams while the others stay open.
func TestHTTP2Limits(t *testing.T) {
	release := make(chan struct{})
	s := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Wait") != "" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write([]byte("served"))
	}))
	t.Cleanup(func() { close(release) })

	t.Run("settings", func(t *testing.T) {
		h := dialH2(t, s)
		if got := h.settings[http2.SettingMaxConcurrentStreams]; got != serve.MaxConcurrentStreams {
			t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want %d", got, serve.MaxConcurrentStreams)
		}
		if got := h.settings[http2.SettingMaxHeaderListSize]; got == 0 || got > serve.MaxHeaderBytes+8<<10 {
			t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE = %d, want about %d", got, serve.MaxHeaderBytes)
		}
	})

	t.Run("oversized header block", func(t *testing.T) {
		h := dialH2(t, s)
		extra := map[string]string{}
		for i := range 20 {
			extra[fmt.Sprintf("x-big-%d", i)] = strings.Repeat("a", 4<<10)
		}
		h.request(1, extra)
		for {
			f, err := h.fr.ReadFrame()
			if err != nil {
				if errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset") {
					return // the server closed the connection
				}
				t.Fatalf("read: %v (the server neither answered nor closed the connection)", err)
			}
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				return
			case *http2.RSTStreamFrame:
				return
			case *http2.HeadersFrame:
				fields, err := hpack.NewDecoder(4096, nil).DecodeFull(f.HeaderBlockFragment())
				if err != nil {
					t.Fatal(err)
				}
				if fields[0].Value != "431" {
					t.Fatalf("status %s, want 431 (or the connection refused)", fields[0].Value)
				}
				return
			}
		}
	})

	t.Run("too many streams", func(t *testing.T) {
		h := dialH2(t, s)
		for i := range serve.MaxConcurrentStreams + 1 {
			h.request(uint32(2*i+1), map[string]string{"x-wait": "1"})
		}
		// The server answers the one stream too many with RST_STREAM, while the others wait.
		for {
			f, err := h.fr.ReadFrame()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				if f.StreamID != 2*serve.MaxConcurrentStreams+1 {
					t.Fatalf("stream %d reset, want only the last, %d", f.StreamID, 2*serve.MaxConcurrentStreams+1)
				}
				if f.ErrCode != http2.ErrCodeRefusedStream && f.ErrCode != http2.ErrCodeProtocol {
					t.Fatalf("reset with %v, want REFUSED_STREAM or PROTOCOL_ERROR", f.ErrCode)
				}
				return
			case *http2.GoAwayFrame:
				t.Fatalf("GOAWAY %v: the whole connection was dropped, not the one stream", f.ErrCode)
			case *http2.HeadersFrame:
				t.Fatalf("stream %d answered while its handler waits", f.StreamID)
			}
		}
	})
}
