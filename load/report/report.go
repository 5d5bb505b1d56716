// Package report writes a load run's reports (L-4): index.html (one self-contained page with
// latency over time per class, a latency histogram, the outcome matrix, throughput and
// handshakes/s), load.json for machines and junit.xml with one test case per gate for CI.
package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"github.com/mtlsgate/mtlsgate/load"
)

// Files are the names WriteDir writes, so callers and docs agree on them.
const (
	HTMLFile  = "index.html"
	JSONFile  = "load.json"
	JUnitFile = "junit.xml"
)

// Document is load.json: the run and its gates.
type Document struct {
	Result *load.Result `json:"result"`
	Gates  []load.Gate  `json:"gates"`
	Passed bool         `json:"passed"`
}

// WriteDir writes index.html, load.json and junit.xml into dir (created if missing). Each file
// is written whole to a temporary name and renamed, so a reader never sees half a report.
func WriteDir(dir string, r *load.Result, gates []load.Gate) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write load reports: %w", err)
	}
	doc := Document{Result: r, Gates: gates, Passed: load.Passed(gates)}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", JSONFile, err)
	}
	junit, err := JUnit(r, gates)
	if err != nil {
		return fmt.Errorf("write %s: %w", JUnitFile, err)
	}
	page, err := HTML(r, gates)
	if err != nil {
		return fmt.Errorf("write %s: %w", HTMLFile, err)
	}
	for name, b := range map[string][]byte{JSONFile: append(js, '\n'), JUnitFile: junit, HTMLFile: page} {
		if err := writeFile(filepath.Join(dir, name), b); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Props    []junitProp `xml:"properties>property"`
	Cases    []junitCase `xml:"testcase"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders the gates as one test suite, a test case per gate; a failed gate is a failure.
func JUnit(r *load.Result, gates []load.Gate) ([]byte, error) {
	s := junitSuite{Name: "mtlsgate load gates", Tests: len(gates), Time: strconv.FormatFloat(r.Elapsed.Seconds(), 'f', 3, 64),
		Props: []junitProp{{"target", r.Target}, {"profile", r.Profile}, {"mode", string(r.Mode)}, {"pacer", r.PacerText},
			{"requests", strconv.FormatUint(r.Requests, 10)}, {"violations", strconv.FormatUint(r.Violations, 10)}}}
	for _, g := range gates {
		c := junitCase{Name: "L-4: " + g.Name + " (limit " + g.Limit + ")", Classname: "load",
			SystemOut: "actual " + g.Actual}
		if !g.Pass {
			s.Failures++
			c.Failure = &junitFailure{Type: "gate", Message: fmt.Sprintf("%s: %s, limit %s", g.Name, g.Actual, g.Limit), Text: g.Detail}
		}
		s.Cases = append(s.Cases, c)
	}
	out, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{s}}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// latencyPlot is vegeta's own latency-over-time page (uPlot inlined), one series per class and
// verdict, built from the run's samples in start order.
func latencyPlot(r *load.Result) ([]byte, error) {
	idx := make([]int, len(r.Samples))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return r.Samples[idx[a]].Offset < r.Samples[idx[b]].Offset })
	names := make([]string, len(r.Classes))
	for i, c := range r.Classes {
		names[i] = c.Name
	}
	p := plot.New(plot.Title("latency over time per class (ms)"), plot.Downsample(4000), plot.Label(func(res *vegeta.Result) string {
		// The error text carries the label; vegeta colours labels with ERROR in red.
		return res.Error
	}))
	var res vegeta.Result
	for seq, i := range idx {
		s := r.Samples[i]
		label := names[s.Class]
		if s.Verdict == load.Violation {
			label += violationSuffix
		}
		res = vegeta.Result{Attack: "class", Seq: uint64(seq), Timestamp: r.Started.Add(s.Offset), Latency: s.Latency, Error: label}
		if err := p.Add(&res); err != nil {
			return nil, fmt.Errorf("latency plot: %w", err)
		}
	}
	p.Close()
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("latency plot: %w", err)
	}
	// Classes interleave, so each row of the plot's data holds one class's point and nulls for the
	// rest: join each series across the nulls, or uPlot draws almost nothing. (If vegeta's template
	// changes, the page still renders, only with gaps.)
	page := bytes.Replace(b.Bytes(), []byte("points: { show: false },"), []byte("points: { show: false }, spanGaps: true,"), 1)
	first := 0.0
	if len(idx) > 0 {
		first = r.Samples[idx[0]].Offset.Seconds() // vegeta's x axis counts from the first sample
	}
	return stylePlot(page, r, first)
}

// violationSuffix marks a class's violations in the plot's series labels; vegeta colours labels
// with ERROR in them as failures.
const violationSuffix = " ERROR (violation)"

// ms formats a duration in milliseconds for tables.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}
