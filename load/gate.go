package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Thresholds are the CI gates of a run (L-4), read from a YAML file:
//
//	max_violations: 0
//	p99: 250ms
//	max_error_rate: 0.01
//	min_rate: 40
//	max_time_to_enforce: 2s
//	max_valid_lost: 0
//
// Unset gates are not checked, except max_violations and max_valid_lost, which default to 0:
// a violation always fails a run.
type Thresholds struct {
	MaxViolations    *uint64  `yaml:"max_violations"`
	P99              Duration `yaml:"p99"`
	MaxErrorRate     *float64 `yaml:"max_error_rate"`
	MinRate          float64  `yaml:"min_rate"`
	MaxTimeToEnforce Duration `yaml:"max_time_to_enforce"`
	MaxValidLost     *uint64  `yaml:"max_valid_lost"`
}

// Duration is a time.Duration written as "250ms" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (write e.g. 250ms or 2s)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// DefaultThresholds gates only what must always hold: no violation, no valid request lost.
func DefaultThresholds() Thresholds {
	zero := uint64(0)
	return Thresholds{MaxViolations: &zero, MaxValidLost: &zero}
}

// ReadThresholds reads a thresholds file; an unknown key or a bad value is an error naming it.
func ReadThresholds(path string) (Thresholds, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Thresholds{}, fmt.Errorf("read thresholds: %w", err)
	}
	t, err := ParseThresholds(bytes.NewReader(b))
	if err != nil {
		return Thresholds{}, fmt.Errorf("thresholds %s: %w", path, err)
	}
	return t, nil
}

// ParseThresholds reads thresholds YAML; defaults fill what it leaves unset.
func ParseThresholds(r io.Reader) (Thresholds, error) {
	t := DefaultThresholds()
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil && !errors.Is(err, io.EOF) {
		return Thresholds{}, fmt.Errorf("%w (keys: max_violations, p99, max_error_rate, min_rate, max_time_to_enforce, max_valid_lost)", err)
	}
	if t.MaxErrorRate != nil && (*t.MaxErrorRate < 0 || *t.MaxErrorRate > 1) {
		return Thresholds{}, fmt.Errorf("max_error_rate %v: a fraction between 0 and 1", *t.MaxErrorRate)
	}
	if t.MinRate < 0 {
		return Thresholds{}, fmt.Errorf("min_rate %v: requests per second, ≥ 0", t.MinRate)
	}
	return t, nil
}

// Gate is one threshold checked against a run: the JUnit test case CI reads.
type Gate struct {
	Name   string `json:"name"`
	Limit  string `json:"limit"`
	Actual string `json:"actual"`
	Pass   bool   `json:"pass"`
	// Detail explains a failure (the first violations, say).
	Detail string `json:"detail,omitempty"`
}

// Evaluate checks every set threshold against the result.
func (t Thresholds) Evaluate(r *Result) []Gate {
	var gates []Gate
	if t.MaxViolations != nil {
		g := Gate{Name: "max_violations", Limit: strconv.FormatUint(*t.MaxViolations, 10), Actual: strconv.FormatUint(r.Violations, 10),
			Pass: r.Violations <= *t.MaxViolations}
		if !g.Pass {
			var b bytes.Buffer
			for _, v := range r.ViolationSamples {
				fmt.Fprintf(&b, "%s at %s: expected %s, observed %s", v.Class, v.Offset.Round(time.Millisecond), v.Expected, v.Observed)
				if v.Error != "" {
					fmt.Fprintf(&b, " (%s)", v.Error)
				}
				b.WriteByte('\n')
			}
			g.Detail = b.String()
		}
		gates = append(gates, g)
	}
	if t.P99 > 0 {
		p99 := r.Total.Latencies.P99
		gates = append(gates, Gate{Name: "p99", Limit: time.Duration(t.P99).String(), Actual: p99.String(), Pass: p99 <= time.Duration(t.P99)})
	}
	if t.MaxErrorRate != nil {
		gates = append(gates, Gate{Name: "max_error_rate", Limit: strconv.FormatFloat(*t.MaxErrorRate, 'f', -1, 64),
			Actual: strconv.FormatFloat(r.ErrorRate, 'f', 4, 64), Pass: r.ErrorRate <= *t.MaxErrorRate})
	}
	if t.MinRate > 0 {
		gates = append(gates, Gate{Name: "min_rate", Limit: strconv.FormatFloat(t.MinRate, 'f', -1, 64) + "/s",
			Actual: strconv.FormatFloat(r.Rate, 'f', 1, 64) + "/s", Pass: r.Rate >= t.MinRate})
	}
	if len(r.Revocations) > 0 {
		for _, rv := range r.Revocations {
			g := Gate{Name: "revocation enforced: " + rv.Name, Limit: "enforced", Pass: rv.Enforced && rv.Error == ""}
			switch {
			case rv.Error != "":
				g.Actual, g.Detail = "not applied", rv.Error
			case rv.Enforced:
				g.Actual = "enforced"
			default:
				g.Actual = fmt.Sprintf("not enforced (%d old answers, %d new after applying)", rv.OldAfter, rv.NewAfter)
			}
			gates = append(gates, g)
			if t.MaxTimeToEnforce > 0 {
				gates = append(gates, Gate{Name: "max_time_to_enforce: " + rv.Name, Limit: time.Duration(t.MaxTimeToEnforce).String(),
					Actual: rv.TimeToEnforce.Round(time.Millisecond).String(), Pass: rv.TimeToEnforce <= time.Duration(t.MaxTimeToEnforce)})
			}
		}
	}
	if t.MaxValidLost != nil {
		gates = append(gates, Gate{Name: "max_valid_lost", Limit: strconv.FormatUint(*t.MaxValidLost, 10),
			Actual: strconv.FormatUint(r.ValidLost, 10), Pass: r.ValidLost <= *t.MaxValidLost})
	}
	return gates
}

// Passed reports whether every gate passed.
func Passed(gates []Gate) bool {
	for _, g := range gates {
		if !g.Pass {
			return false
		}
	}
	return true
}
