package alb

import (
	"fmt"
	"net/http"
)

// ServerHeader is the Server header ALB signs the answers it makes itself with.
const ServerHeader = "awselb/2.0"

// StatusText is the reason phrase ALB writes for a status it answers itself, where it differs
// from Go's ("Service Temporarily Unavailable", "Gateway Time-out", "Request Time-out").
func StatusText(code int) string {
	switch code {
	case http.StatusServiceUnavailable:
		return "Service Temporarily Unavailable"
	case http.StatusGatewayTimeout:
		return "Gateway Time-out"
	case http.StatusRequestTimeout:
		return "Request Time-out"
	}
	return http.StatusText(code)
}

// ErrorPage is the HTML body ALB answers with when it cannot forward (502, 503, 504, …): text is
// the status text ("Bad Gateway"). Renderers for other load balancers serve the same bytes.
func ErrorPage(code int, text string) []byte {
	return fmt.Appendf(nil, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n", code, text, code, text)
}

// writeELBError answers as ALB does when it cannot forward: ErrorPage, signed ServerHeader.
func writeELBError(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Server", ServerHeader)
	w.WriteHeader(code)
	_, _ = w.Write(ErrorPage(code, text))
}
