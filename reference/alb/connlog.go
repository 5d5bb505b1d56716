package alb

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogEntry is one connection-log line, fields in ALB's order (SPEC A-LOG-1). Absent values are "-".
type LogEntry struct {
	Time         time.Time
	ClientIP     string
	ClientPort   string
	ListenerPort string
	Protocol     string
	Cipher       string
	// HandshakeLatency is the TLS handshake's duration.
	HandshakeLatency time.Duration
	Subject          string
	Validity         string
	Serial           string
	// VerifyStatus is Success or Failed:<code>.
	VerifyStatus string
	TraceID      string
	KeyExchange  string
}

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
	return strings.Join([]string{
		e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), dash(e.ClientIP), dash(e.ClientPort), dash(e.ListenerPort),
		dash(e.Protocol), dash(e.Cipher), fmt.Sprintf("%.3f", e.HandshakeLatency.Seconds()), subject,
		dash(e.Validity), dash(e.Serial), dash(e.VerifyStatus), dash(e.TraceID), dash(e.KeyExchange),
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
	if len(fields) != 13 {
		return LogEntry{}, fmt.Errorf("parse connection log line %q: %d fields, want 13", line, len(fields))
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
	secs, err := strconv.ParseFloat(fields[6], 64)
	if err != nil {
		return LogEntry{}, fmt.Errorf("parse connection log line: tls_handshake_latency: %w", err)
	}
	return LogEntry{
		Time: t, ClientIP: undash(fields[1]), ClientPort: undash(fields[2]), ListenerPort: undash(fields[3]),
		Protocol: undash(fields[4]), Cipher: undash(fields[5]), HandshakeLatency: time.Duration(secs * float64(time.Second)),
		Subject: undash(fields[7]), Validity: undash(fields[8]), Serial: undash(fields[9]), VerifyStatus: undash(fields[10]),
		TraceID: undash(fields[11]), KeyExchange: undash(fields[12]),
	}, nil
}

// logSink serialises lines onto one writer.
type logSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *logSink) write(e LogEntry) {
	if s == nil || s.w == nil {
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
