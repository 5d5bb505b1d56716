package alb

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogEntry is one connection-log line, the 15 fields in ALB's order (SPEC A-LOG-1). Absent
// values are "-".
type LogEntry struct {
	Time         time.Time
	ClientIP     string
	ClientPort   string
	ListenerPort string
	Protocol     string
	Cipher       string
	// HandshakeLatency is the TLS handshake's duration; ALB writes "-" on a failed line ("set to
	// - when … the handshake is not established successfully").
	HandshakeLatency time.Duration
	Subject          string
	Validity         string
	Serial           string
	// VerifyStatus is Success or Failed:<code>.
	VerifyStatus string
	TraceID      string
	KeyExchange  string
	// ELB is the load balancer's resource ID (app/<name>/<id>); IPAddress is the address of the
	// node that took the connection.
	ELB       string
	IPAddress string
}

// ResourceID is the elb field for a load balancer named name: app/<name>/<id>, the id being the
// first 16 hex digits of the name's SHA-256 (mtlsgate rule: AWS assigns it at creation).
func ResourceID(name string) string {
	if name == "" {
		name = "mtlsgate"
	}
	sum := sha256.Sum256([]byte(name))
	return "app/" + name + "/" + hex.EncodeToString(sum[:8])
}

// elbField is the connection log's elb field for the load balancer cfg configures: its name
// and the id it was created with, or ResourceID's when it has none.
func elbField(cfg Config) string {
	if cfg.LoadBalancerID == "" {
		return ResourceID(cfg.LoadBalancerName)
	}
	return "app/" + cfg.LoadBalancerName + "/" + cfg.LoadBalancerID
}

// logFields is how many fields ALB documents; a parser stops there, as AWS asks ("configure log
// parsing to stop after the last documented field"). Lines written before ALB added
// tls_keyexchange, elb and ip_address end at conn_trace_id, the 12th (minLogFields).
const (
	logFields    = 15
	minLogFields = 12
)

// String renders the entry as ALB writes it: space-separated, the subject in double quotes,
// the latency in seconds with millisecond precision.
func (e LogEntry) String() string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	subject := "-"
	if e.Subject != "" {
		subject = strconv.Quote(e.Subject)
	}
	latency := "-"
	if e.VerifyStatus == "Success" {
		latency = fmt.Sprintf("%.3f", e.HandshakeLatency.Seconds())
	}
	return strings.Join([]string{
		e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), dash(e.ClientIP), dash(e.ClientPort), dash(e.ListenerPort),
		dash(e.Protocol), dash(e.Cipher), latency, subject,
		dash(e.Validity), dash(e.Serial), dash(e.VerifyStatus), dash(e.TraceID), dash(e.KeyExchange),
		dash(e.ELB), dash(e.IPAddress),
	}, " ")
}

// ParseLogLine splits a connection-log line back into its fields, for suites and tools.
func ParseLogLine(line string) (LogEntry, error) {
	var fields []string
	rest := strings.TrimSpace(line)
	for rest != "" {
		if rest[0] == '"' {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return LogEntry{}, fmt.Errorf("parse connection log line %q: %w", line, err)
			}
			s, _ := strconv.Unquote(q)
			fields = append(fields, s)
			rest = strings.TrimLeft(rest[len(q):], " ")
			continue
		}
		f, r, _ := strings.Cut(rest, " ")
		fields, rest = append(fields, f), strings.TrimLeft(r, " ")
	}
	if len(fields) < minLogFields {
		return LogEntry{}, fmt.Errorf("parse connection log line %q: %d fields, want %d (or the first %d)", line, len(fields), logFields, minLogFields)
	}
	for len(fields) < logFields {
		fields = append(fields, "-")
	}
	undash := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	t, err := time.Parse(time.RFC3339Nano, fields[0])
	if err != nil {
		return LogEntry{}, fmt.Errorf("parse connection log line: timestamp: %w", err)
	}
	var secs float64
	if fields[6] != "-" {
		if secs, err = strconv.ParseFloat(fields[6], 64); err != nil {
			return LogEntry{}, fmt.Errorf("parse connection log line: tls_handshake_latency: %w", err)
		}
	}
	return LogEntry{
		Time: t, ClientIP: undash(fields[1]), ClientPort: undash(fields[2]), ListenerPort: undash(fields[3]),
		Protocol: undash(fields[4]), Cipher: undash(fields[5]), HandshakeLatency: time.Duration(secs * float64(time.Second)),
		Subject: undash(fields[7]), Validity: undash(fields[8]), Serial: undash(fields[9]), VerifyStatus: undash(fields[10]),
		TraceID: undash(fields[11]), KeyExchange: undash(fields[12]), ELB: undash(fields[13]), IPAddress: undash(fields[14]),
	}, nil
}

// logSink serialises lines onto one writer.
type logSink struct {
	mu sync.Mutex
	w  io.Writer
}

// enabled reports whether lines go anywhere, so a caller can skip rendering them.
func (s *logSink) enabled() bool { return s != nil && s.w != nil }

func (s *logSink) write(e LogEntry) {
	if !s.enabled() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = io.WriteString(s.w, e.String()+"\n")
}

// newTraceID is a connection trace ID in ALB's shape, TID_ and 32 hex digits.
func newTraceID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "TID_" + hex.EncodeToString(b)
}
