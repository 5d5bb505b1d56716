package apigw

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// The gateway's own error responses (SPEC A-APIGW-1): bodies, and the x-amzn-ErrorType header
// API Gateway sends with them.
const (
	// BodyForbidden is the answer to a Host that is not a custom domain name with an API mapping.
	BodyForbidden = `{"message":"Forbidden"}`
	// BodyMissingAuthenticationToken is the answer to a path or method the mapped API lacks.
	BodyMissingAuthenticationToken = `{"message":"Missing Authentication Token"}`

	errForbidden            = "ForbiddenException"
	errMissingAuthToken     = "MissingAuthenticationTokenException"
	contentTypeJSON         = "application/json"
	headerRequestID         = "x-amzn-RequestId"
	headerAPIGatewayID      = "x-amz-apigw-id"
	headerErrorType         = "x-amzn-ErrorType"
	headerTraceID           = "X-Amzn-Trace-Id"
	headerStageForDebugging = "X-Mtlsgate-Apigw-Stage"
)

// handler routes every request through the current table: domain, then base path, then the API.
type handler struct {
	routes *atomic.Pointer[table]
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setGatewayHeaders(w.Header())
	m, rest, ok := h.routes.Load().lookup(r.Host, r.URL.Path)
	if !ok {
		gatewayError(w, errForbidden, BodyForbidden)
		return
	}
	w.Header().Set(headerStageForDebugging, m.Stage)
	if !servePetStore(w, r, rest) {
		gatewayError(w, errMissingAuthToken, BodyMissingAuthenticationToken)
	}
}

// setGatewayHeaders adds the identifiers API Gateway puts on every response.
func setGatewayHeaders(h http.Header) {
	h.Set(headerRequestID, requestID())
	h.Set(headerAPIGatewayID, extendedID())
}

func gatewayError(w http.ResponseWriter, errType, body string) {
	w.Header().Del(headerStageForDebugging)
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set(headerErrorType, errType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(body))
}

// requestID is a random UUID (version 4), the shape of x-amzn-RequestId.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// extendedID is 16 characters of base64 ending in '=', the shape of x-amz-apigw-id.
func extendedID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// traceID is an X-Ray trace header value as API Gateway passes it back: Root=1-<time>-<random>.
func traceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(b[:]))
}
