package kong

import (
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/version"
)

// Kong's gateway-generated error messages (SPEC K-PROXY-1, K-UP-5, K-UP-6): the package's short
// names for the exported ones (messages.go), and the ones no renderer needs.
const (
	msgNoRoute          = MsgNoRoute
	msgNoService        = MsgNoService
	msgBadUpstream      = MsgBadUpstream
	msgUnavailable      = MsgUnavailable
	msgTimeout          = MsgTimeout
	msgNameResolution   = "name resolution failed"
	msgNoPeer           = MsgNoPeer
	msgUseHTTPS         = MsgUseHTTPS
	msgCannotConsume    = MsgCannotConsume
	msgMethodNotAllowed = "Method not allowed"
	msgBadRequest       = "Bad request"
	contentTypeJSON     = "application/json; charset=utf-8"
	contentTypePlain    = "text/plain; charset=utf-8"
	contentTypeHTML     = "text/html; charset=utf-8"
	contentTypeXML      = "application/xml; charset=utf-8"
	errorTemplateHTML   = "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>\n"
	errorTemplateXML    = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>%s</message>\n  <requestid>%s</requestid>\n</error>\n"
	errorTemplatePlain  = "%s\nrequest_id: %s\n"
	errorTemplateJSONFn = "{\n  \"message\":%s,\n  \"request_id\":%s\n}"
)

// responseType picks the error body format as Kong does: the best Accept entry (*/* and unknown
// types give JSON); without Accept, upstream errors look at Content-Type and then fall back to
// error_default_type (text/plain), while plugin and router errors fall back to JSON.
func responseType(r *http.Request, upstreamError bool) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		if !upstreamError {
			return contentTypeJSON
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if t := typeFor(ct); t != "" {
			return t
		}
		return contentTypePlain
	}
	best, bestQ := contentTypeJSON, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > bestQ {
			bestQ = q
			best = typeFor(mt)
			if best == "" {
				best = contentTypeJSON
			}
		}
	}
	return best
}

func typeFor(mt string) string {
	switch {
	case mt == "application/json":
		return contentTypeJSON
	case mt == "text/html":
		return contentTypeHTML
	case mt == "application/xml":
		return contentTypeXML
	case mt == "text/plain", mt == "text/*":
		return contentTypePlain
	}
	return ""
}

// kongError writes a gateway-generated error the way kong.response.error and Kong's error
// handlers do: the message and the request id in the negotiated format.
func (g *Gateway) kongError(w http.ResponseWriter, r *http.Request, st *reqState, status int, msg string, upstreamError bool) {
	ct := responseType(r, upstreamError)
	var body string
	switch ct {
	case contentTypeHTML:
		body = fmt.Sprintf(errorTemplateHTML, html.EscapeString(msg), st.id)
	case contentTypeXML:
		body = fmt.Sprintf(errorTemplateXML, html.EscapeString(msg), st.id)
	case contentTypePlain:
		body = fmt.Sprintf(errorTemplatePlain, msg, st.id)
	default:
		m, _ := json.Marshal(msg)
		id, _ := json.Marshal(st.id)
		body = fmt.Sprintf(errorTemplateJSONFn, m, id)
	}
	g.exit(w, st, status, ct, body)
}

// kongExit writes a plugin's kong.response.exit(status, {message = …}): JSON without request id.
func (g *Gateway) kongExit(w http.ResponseWriter, st *reqState, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	g.exit(w, st, status, contentTypeJSON, string(b))
}

// exit writes a response the gateway produced itself, with Kong's response headers.
func (g *Gateway) exit(w http.ResponseWriter, st *reqState, status int, contentType, body string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	g.responseHeaders(h, st, false)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// responseHeaders adds the headers Kong's header_filter adds, per the headers property.
func (g *Gateway) responseHeaders(h http.Header, st *reqState, proxied bool) {
	c := g.conf
	if proxied {
		if c.Enabled("X-Kong-Upstream-Latency") {
			h.Set("X-Kong-Upstream-Latency", strconv.FormatInt(st.upstreamLatency.Milliseconds(), 10))
		}
		if c.Enabled("X-Kong-Proxy-Latency") {
			h.Set("X-Kong-Proxy-Latency", strconv.FormatInt(st.proxyLatency.Milliseconds(), 10))
		}
		if c.Enabled("Via") {
			via := "1.1 " + version.Server
			if prev := h.Get("Via"); prev != "" {
				via = prev + ", " + via
			}
			h.Set("Via", via)
		}
		if c.Enabled("Server") && h.Get("Server") == "" {
			h.Set("Server", version.Server)
		}
		if c.Enabled("X-Kong-Upstream-Status") {
			h.Set("X-Kong-Upstream-Status", strconv.Itoa(st.upstreamStatus))
		}
	} else {
		if c.Enabled("X-Kong-Response-Latency") {
			h.Set("X-Kong-Response-Latency", strconv.FormatInt(time.Since(st.start).Milliseconds(), 10))
		}
		if c.Enabled("Server") {
			h.Set("Server", version.Server)
		} else {
			h.Del("Server")
		}
	}
	if c.Enabled("X-Kong-Request-Id") {
		h.Set("X-Kong-Request-Id", st.id)
	}
}
