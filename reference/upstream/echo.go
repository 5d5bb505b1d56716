// Package upstream holds mtlsgate's mock upstreams: an echo in the shape of httpbin's /anything
// that also reports the TLS client certificate it saw, optionally demanding one the way nginx's
// `ssl_verify_client on` does, so specs can assert which identity a gateway presented upstream.
package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/certinfo"
)

// maxBody bounds what the echo reads of a request body.
const maxBody = 10 << 20

// nginx's answers when `ssl_verify_client on` finds no certificate or a bad one; Kong's own
// upstream-TLS tests assert the first (SPEC K-UP-3).
const (
	NoCertificateMessage  = "No required SSL certificate was sent"
	BadCertificateMessage = "The SSL certificate error"
)

// EchoOptions configures the echo handler.
type EchoOptions struct {
	// ClientCAs, when set, demands a client certificate issued by one of these CAs: none → 400
	// "No required SSL certificate was sent", one that does not verify → 400 "The SSL certificate
	// error". The TLS listener must request certificates (see TLSConfig).
	ClientCAs *x509.CertPool
	// Name is reported in every response as "upstream", so a spec can tell upstreams apart.
	Name string
	// CRL, when set, answers /<issuer>.crl and the responder's control paths instead of the echo.
	CRL *CRLResponder
	// OCSP, when set, answers /ocsp/<issuer> and its control paths instead of the echo.
	OCSP *OCSPResponder
}

// Echo is the response body: httpbin's /anything fields plus tls and upstream.
type Echo struct {
	Args     map[string]any    `json:"args"`
	Data     string            `json:"data"`
	Files    map[string]any    `json:"files"`
	Form     map[string]any    `json:"form"`
	Headers  map[string]string `json:"headers"`
	JSON     any               `json:"json"`
	Method   string            `json:"method"`
	Origin   string            `json:"origin"`
	URL      string            `json:"url"`
	TLS      *TLSInfo          `json:"tls,omitempty"`
	Upstream string            `json:"upstream,omitempty"`
}

// TLSInfo is what the echo saw of the TLS connection; present only when it serves HTTPS.
type TLSInfo struct {
	Version           string           `json:"version"`
	Cipher            string           `json:"cipher"`
	ServerName        string           `json:"server_name"`
	ClientCertificate *CertificateInfo `json:"client_certificate"`
	// ClientChain holds the certificates the client sent after its leaf.
	ClientChain []CertificateInfo `json:"client_chain,omitempty"`
}

// CertificateInfo identifies one certificate.
type CertificateInfo struct {
	Subject           string    `json:"subject"`
	Issuer            string    `json:"issuer"`
	Serial            string    `json:"serial"`
	SHA256Fingerprint string    `json:"sha256_fingerprint"`
	CommonName        string    `json:"common_name"`
	SANs              []string  `json:"sans,omitempty"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
}

// Describe reports one certificate the way the echo does.
func Describe(c *x509.Certificate) CertificateInfo {
	return CertificateInfo{
		Subject: certinfo.DN(c), Issuer: certinfo.IssuerDN(c), Serial: certinfo.SerialHex(c),
		SHA256Fingerprint: certinfo.Fingerprint(c.Raw), CommonName: c.Subject.CommonName,
		SANs: certinfo.SANs(c), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
	}
}

// TLSConfig is the listener configuration the echo needs: it always asks for a client
// certificate (so it can report one) and leaves verification to the handler, as nginx does.
func TLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		ClientCAs:    clientCAs,
		MinVersion:   tls.VersionTLS12,
	}
}

// NewEcho returns the echo handler. Besides echoing any path it answers /status/{code} with that
// status (a list like 200,403 picks the first) and /delay/{seconds} after that delay (at most 10 s).
// Two faulty answers let specs stall a gateway mid-exchange: /stall/{seconds} sends its headers
// (Content-Length: 1000) and the first StallSent bytes, then stalls; /ignore-body/{seconds}
// never reads the request body. Both stall at most 10 s and give up when the client goes.
// Three more misbehave at once: /garbage answers bytes that are not HTTP, /reset sends its
// headers and StallSent bytes then resets the connection, /big-header/{kb} answers with a
// header of that many KB (at most 1024). /bytes/{n} answers n bytes (at most MaxBytes) with a
// Content-Length, a body larger than socket buffers for specs whose client stops reading.
func NewEcho(opts EchoOptions) http.Handler {
	mux := http.NewServeMux()
	e := &echo{opts: opts}
	mux.HandleFunc("/status/{codes}", e.status)
	mux.HandleFunc("/delay/{seconds}", e.delay)
	mux.HandleFunc("/stall/{seconds}", e.stall)
	mux.HandleFunc("/ignore-body/{seconds}", e.ignoreBody)
	mux.HandleFunc("/garbage", e.garbage)
	mux.HandleFunc("/reset", e.reset)
	mux.HandleFunc("/big-header/{kb}", e.bigHeader)
	mux.HandleFunc("/bytes/{n}", e.bytes)
	mux.HandleFunc("/", e.echo)
	if opts.CRL == nil && opts.OCSP == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.OCSP != nil && opts.OCSP.Handles(r.URL.Path) {
			opts.OCSP.ServeHTTP(w, r)
			return
		}
		if opts.CRL != nil && (strings.HasSuffix(r.URL.Path, ".crl") || strings.HasPrefix(r.URL.Path, ControlPrefix)) {
			opts.CRL.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

type echo struct{ opts EchoOptions }

func (e *echo) status(w http.ResponseWriter, r *http.Request) {
	if !e.admit(w, r) {
		return
	}
	code, err := strconv.Atoi(strings.Split(r.PathValue("codes"), ",")[0])
	if err != nil || code < 100 || code > 599 {
		http.Error(w, "invalid status code", http.StatusBadRequest)
		return
	}
	w.WriteHeader(code)
}

func (e *echo) delay(w http.ResponseWriter, r *http.Request) {
	secs, err := strconv.ParseFloat(r.PathValue("seconds"), 64)
	if err != nil || secs < 0 {
		http.Error(w, "invalid delay", http.StatusBadRequest)
		return
	}
	d := min(time.Duration(secs*float64(time.Second)), 10*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	e.echo(w, r)
}

// StallLength and StallSent are the Content-Length /stall announces and the bytes it sends.
const (
	StallLength = 1000
	StallSent   = 10
)

// stallFor waits the path's {seconds} (at most 10 s) or until the client goes away.
func stallFor(w http.ResponseWriter, r *http.Request) bool {
	secs, err := strconv.ParseFloat(r.PathValue("seconds"), 64)
	if err != nil || secs < 0 {
		http.Error(w, "invalid stall", http.StatusBadRequest)
		return false
	}
	t := time.NewTimer(min(time.Duration(secs*float64(time.Second)), 10*time.Second))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (e *echo) stall(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(StallLength))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(strings.Repeat("x", StallSent)))
	_ = http.NewResponseController(w).Flush()
	stallFor(w, r)
	// Returning short of Content-Length makes the server close the connection.
}

func (e *echo) ignoreBody(w http.ResponseWriter, r *http.Request) {
	if stallFor(w, r) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (e *echo) garbage(w http.ResponseWriter, _ *http.Request) {
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "garbage: cannot take over the connection", http.StatusInternalServerError)
		return
	}
	defer c.Close()
	_, _ = buf.WriteString("SSH-2.0-not-http\r\n\x00\x01\x02 garbage\r\n\r\n")
	_ = buf.Flush()
}

func (e *echo) reset(w http.ResponseWriter, _ *http.Request) {
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "reset: cannot take over the connection", http.StatusInternalServerError)
		return
	}
	_, _ = fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", StallLength, strings.Repeat("x", StallSent))
	_ = buf.Flush()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with a reset, not a FIN
	}
	_ = c.Close()
}

func (e *echo) bigHeader(w http.ResponseWriter, r *http.Request) {
	kb, err := strconv.Atoi(r.PathValue("kb"))
	if err != nil || kb < 0 || kb > 1024 {
		http.Error(w, "invalid size: give KB from 0 to 1024", http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Big", strings.Repeat("b", kb<<10))
	w.WriteHeader(http.StatusOK)
}

// MaxBytes is the largest body /bytes/{n} answers.
const MaxBytes = 256 << 20

func (e *echo) bytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n > MaxBytes {
		http.Error(w, fmt.Sprintf("invalid size: give bytes from 0 to %d", MaxBytes), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	chunk := make([]byte, min(n, 32<<10))
	for n > 0 {
		k, err := w.Write(chunk[:min(n, len(chunk))])
		if err != nil {
			return // the client went away
		}
		n -= k
	}
}

// admit enforces the demanded client certificate; it writes nginx's 400 and returns false when
// the request must not be served.
func (e *echo) admit(w http.ResponseWriter, r *http.Request) bool {
	if e.opts.ClientCAs == nil || r.TLS == nil {
		return true
	}
	if len(r.TLS.PeerCertificates) == 0 {
		writeNginx400(w, NoCertificateMessage)
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: e.opts.ClientCAs, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		writeNginx400(w, BadCertificateMessage)
		return false
	}
	return true
}

// writeNginx400 answers as nginx does, body and all, so a gateway passes the same bytes through.
func writeNginx400(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, "<html>\r\n<head><title>400 "+msg+"</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>"+
		msg+"</center>\r\n<hr><center>mtlsgate upstream</center>\r\n</body>\r\n</html>\r\n")
}

func (e *echo) echo(w http.ResponseWriter, r *http.Request) {
	if !e.admit(w, r) {
		return
	}
	out := Echo{
		Args: values(r.URL.Query()), Files: map[string]any{}, Form: map[string]any{},
		Headers: map[string]string{}, Method: r.Method, Upstream: e.opts.Name,
	}
	for k, v := range r.Header {
		out.Headers[k] = strings.Join(v, ",")
	}
	out.Headers["Host"] = r.Host
	out.Origin = r.Header.Get("X-Forwarded-For")
	if out.Origin == "" {
		out.Origin, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	out.URL = (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}).String()
	if err := readBody(r, &out); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.TLS != nil {
		out.TLS = tlsInfo(r.TLS)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

func tlsInfo(cs *tls.ConnectionState) *TLSInfo {
	info := &TLSInfo{
		Version:    strings.Replace(tls.VersionName(cs.Version), "TLS ", "TLSv", 1),
		Cipher:     tls.CipherSuiteName(cs.CipherSuite),
		ServerName: cs.ServerName,
	}
	if len(cs.PeerCertificates) > 0 {
		leaf := Describe(cs.PeerCertificates[0])
		info.ClientCertificate = &leaf
		for _, c := range cs.PeerCertificates[1:] {
			info.ClientChain = append(info.ClientChain, Describe(c))
		}
	}
	return info
}

func readBody(r *http.Request, out *Echo) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
	switch mt {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBody); err != nil {
			return err
		}
		out.Form = values(r.MultipartForm.Value)
		for name, fhs := range r.MultipartForm.File {
			var contents []string
			for _, fh := range fhs {
				f, err := fh.Open()
				if err != nil {
					return err
				}
				b, err := io.ReadAll(f)
				f.Close()
				if err != nil {
					return err
				}
				contents = append(contents, string(b))
			}
			out.Files[name] = single(contents)
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return err
		}
		out.Form = values(r.PostForm)
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		out.Data = string(b)
		if mt == "application/json" || strings.HasSuffix(mt, "+json") {
			var v any
			if json.Unmarshal(b, &v) == nil {
				out.JSON = v
			}
		}
	}
	return nil
}

// values renders form or query values as httpbin does: one value as a string, several as a list.
func values(v map[string][]string) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		out[k] = single(vs)
	}
	return out
}

func single(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	return vs
}
