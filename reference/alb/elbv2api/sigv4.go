package elbv2api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sigV4 is a parsed Authorization header: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=…, Signature=…
type sigV4 struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseSigV4(h string) (sigV4, bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return sigV4{}, false
	}
	var out sigV4
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return sigV4{}, false
			}
			out.accessKey, out.date, out.region, out.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			out.signedHeaders = strings.Split(v, ";")
		case "Signature":
			out.signature = v
		}
	}
	return out, out.accessKey != "" && out.signature != "" && len(out.signedHeaders) > 0
}

// credentialService is the service a request's SigV4 credential scope names ("" if unsigned).
func credentialService(auth string) string {
	sig, ok := parseSigV4(auth)
	if !ok {
		return ""
	}
	return sig.service
}

// maxClockSkew is how far a request's X-Amz-Date may be from now, as AWS allows.
const maxClockSkew = 15 * time.Minute

// verify checks the request's SigV4 signature when the endpoint has credentials; the body is
// read and put back. Streaming uploads are verified by their seed signature.
func (s *Server) verify(r *http.Request, service string) *apiError {
	creds := s.opts.Credentials
	if creds == nil {
		return nil
	}
	denied := func(code, msg string) *apiError {
		return &apiError{Status: http.StatusForbidden, Code: code, Message: msg}
	}
	sig, ok := parseSigV4(r.Header.Get("Authorization"))
	if !ok {
		if service == "" && r.Header.Get("X-Amz-Target") == "" && !isQuery(r) {
			return denied("AccessDenied", "Access Denied")
		}
		return denied("MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	if sig.accessKey != creds.AccessKeyID {
		if service == "s3" {
			return denied("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		}
		return denied("InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, sig.date) {
		return denied("IncompleteSignature", "X-Amz-Date must be a date like 20150830T123600Z that matches the credential scope")
	}
	if d := time.Since(t); d > maxClockSkew || d < -maxClockSkew {
		return denied("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	// A payload signed by its hash is checked against the body; UNSIGNED-PAYLOAD and streaming
	// uploads (STREAMING-…) are signed by the header alone.
	if _, err := hex.DecodeString(payload); payload == "" || (err == nil && len(payload) == sha256.Size*2) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 2*MaxObjectSize+1))
		if err != nil {
			return fault("IncompleteBody", "read the request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.Sum256(body)
		sum := hex.EncodeToString(h[:])
		switch {
		case payload == "":
			payload = sum
		case payload != sum:
			return fault("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	}
	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r, service),
		canonicalQuery(r),
		canonicalHeaders(r, sig.signedHeaders),
		strings.Join(sig.signedHeaders, ";"),
		payload,
	}, "\n")
	scope := strings.Join([]string{sig.date, sig.region, sig.service, "aws4_request"}, "/")
	ch := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	key := []byte("AWS4" + creds.SecretAccessKey)
	for _, part := range []string{sig.date, sig.region, sig.service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(sig.signature)) {
		return denied("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// canonicalURI is the path as signed: S3 signs it encoded once, other services twice.
func canonicalURI(r *http.Request, service string) string {
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	if service == "s3" {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(r *http.Request) string {
	q := r.URL.Query()
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, n := range names {
		var v string
		switch n {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(n)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		b.WriteString(n + ":" + v + "\n")
	}
	return b.String()
}

// uriEncode is SigV4's encoding: everything but unreserved characters as %XX.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}
