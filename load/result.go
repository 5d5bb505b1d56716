package load

import (
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Verdict is the simulator's judgement of one answer.
type Verdict uint8

// The verdicts.
const (
	// Expected: the answer is the outcome the class's profile promises.
	Expected Verdict = iota
	// Tolerated: the old outcome while an event (a revocation) was still propagating within its
	// grace period.
	Tolerated
	// Violation: anything else.
	Violation
)

// Sample is one request, compact, for plots: when it started, how long it took, its class, what
// was observed and the verdict.
type Sample struct {
	Offset   time.Duration `json:"offset"`
	Latency  time.Duration `json:"latency"`
	Class    uint16        `json:"class"`
	Observed uint16        `json:"observed"`
	Code     uint16        `json:"code"`
	Verdict  Verdict       `json:"verdict"`
	// match holds which expectations the answer met: bit 0 the class's, bit 1 its event's.
	match uint8
}

// ClassResult is one class's share of a run.
type ClassResult struct {
	Name     string `json:"name"`
	Identity string `json:"identity,omitempty"`
	Weight   int    `json:"weight"`
	Expect   string `json:"expect"`
	// ExpectAfter is the expectation after an event changed it ("" if none did).
	ExpectAfter string `json:"expect_after,omitempty"`
	Requests    uint64 `json:"requests"`
	Expected    uint64 `json:"expected"`
	Tolerated   uint64 `json:"tolerated"`
	Violations  uint64 `json:"violations"`
	// Observed counts answers by observed outcome label.
	Observed map[string]uint64 `json:"observed"`
	// Handshakes and Resumed count TLS handshakes on this class's connections.
	Handshakes uint64         `json:"handshakes"`
	Resumed    uint64         `json:"resumed"`
	Metrics    vegeta.Metrics `json:"metrics"`
}

// ViolationSample describes one violation in enough detail to debug it.
type ViolationSample struct {
	Class    string        `json:"class"`
	Offset   time.Duration `json:"offset"`
	Expected string        `json:"expected"`
	Observed string        `json:"observed"`
	Error    string        `json:"error,omitempty"`
	Body     string        `json:"body,omitempty"`
}

// RevocationResult is what an event did (L-3): when it was applied, when the last old-outcome
// answer was seen, and whether enforcement happened at all.
type RevocationResult struct {
	Name  string        `json:"name"`
	Class string        `json:"class"`
	At    time.Duration `json:"at"`
	// Applied is when Apply returned (offset from the start); Error is set if it failed.
	Applied time.Duration `json:"applied"`
	Error   string        `json:"error,omitempty"`
	Grace   time.Duration `json:"grace"`
	// TimeToEnforce is from Applied to the start of the last request of the class that still got
	// the old outcome (0 when none did).
	TimeToEnforce time.Duration `json:"time_to_enforce"`
	// OldAfter counts answers with the old outcome to requests started after Applied.
	OldAfter uint64 `json:"old_after"`
	// NewAfter counts answers with the new outcome; Enforced says the new outcome was seen and the
	// old one stopped before the run ended.
	NewAfter uint64 `json:"new_after"`
	Enforced bool   `json:"enforced"`
}

// Timeline holds per-bucket counts over the run, for throughput and handshake plots.
type Timeline struct {
	Width      time.Duration `json:"width"`
	Requests   []uint64      `json:"requests"`
	Handshakes []uint64      `json:"handshakes"`
	Violations []uint64      `json:"violations"`
}

// Result is everything a run measured, as the reports and gates read it.
type Result struct {
	Target      string        `json:"target"`
	Profile     string        `json:"profile"`
	Mode        Mode          `json:"mode"`
	Pacer       Pacer         `json:"pacer"`
	PacerText   string        `json:"pacer_text"`
	Duration    time.Duration `json:"duration"`
	MaxRequests uint64        `json:"max_requests"`
	Started     time.Time     `json:"started"`
	Elapsed     time.Duration `json:"elapsed"`

	Requests   uint64 `json:"requests"`
	Expected   uint64 `json:"expected"`
	Tolerated  uint64 `json:"tolerated"`
	Violations uint64 `json:"violations"`
	// TransportErrors counts answers with no HTTP response that were not an expected handshake
	// failure; ErrorRate is their share of Requests.
	TransportErrors uint64  `json:"transport_errors"`
	ErrorRate       float64 `json:"error_rate"`
	// Rate is the achieved request rate (requests/s over the attack).
	Rate float64 `json:"rate"`
	// Handshakes, Resumed and HandshakeRate (handshakes/s) count TLS handshakes.
	Handshakes    uint64  `json:"handshakes"`
	Resumed       uint64  `json:"resumed"`
	HandshakeRate float64 `json:"handshake_rate"`
	// ValidLost counts requests of classes expected to succeed (and not changed by an event)
	// that did not.
	ValidLost uint64 `json:"valid_lost"`

	Total            vegeta.Metrics     `json:"total"`
	Classes          []ClassResult      `json:"classes"`
	Revocations      []RevocationResult `json:"revocations,omitempty"`
	ViolationSamples []ViolationSample  `json:"violation_samples,omitempty"`
	Timeline         Timeline           `json:"timeline"`

	// Labels are the observed outcome labels that Sample.Observed indexes.
	Labels  []string `json:"labels"`
	Samples []Sample `json:"-"`
}
