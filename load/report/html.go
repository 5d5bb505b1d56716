package report

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/load"
)

// HTML renders index.html: one page, no network fetches (vegeta's latency plot sits in an
// iframe's srcdoc with uPlot inlined; the other charts are inline SVG).
func HTML(r *load.Result, gates []load.Gate) ([]byte, error) {
	lat, err := latencyPlot(r)
	if err != nil {
		return nil, err
	}
	data := page{
		R: r, Gates: gates, Passed: load.Passed(gates), LatencyPlot: string(lat),
		Matrix: matrix(r), Histogram: histogram(r), Throughput: throughput(r),
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", HTMLFile, err)
	}
	return b.Bytes(), nil
}

type page struct {
	R           *load.Result
	Gates       []load.Gate
	Passed      bool
	LatencyPlot string
	Matrix      outcomeMatrix
	Histogram   template.HTML
	Throughput  template.HTML
}

// outcomeMatrix is expected (per class) × observed counts.
type outcomeMatrix struct {
	Columns []string
	Rows    []matrixRow
}

type matrixRow struct {
	Class, Expect string
	Cells         []matrixCell
}

type matrixCell struct {
	Count uint64
	OK    bool
}

func matrix(r *load.Result) outcomeMatrix {
	seen := map[string]bool{}
	var cols []string
	for _, c := range r.Classes {
		for l := range c.Observed {
			if !seen[l] {
				seen[l] = true
				cols = append(cols, l)
			}
		}
	}
	sort.Strings(cols)
	m := outcomeMatrix{Columns: cols}
	for _, c := range r.Classes {
		exp := c.Expect
		if c.ExpectAfter != "" {
			exp += " → " + c.ExpectAfter
		}
		row := matrixRow{Class: c.Name, Expect: exp}
		for _, l := range cols {
			row.Cells = append(row.Cells, matrixCell{Count: c.Observed[l], OK: l == c.Expect || l == c.ExpectAfter})
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

// histogramBounds are the upper bounds of the latency histogram's buckets.
var histogramBounds = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2 * time.Second, 5 * time.Second,
}

// histogram draws latency buckets as bars, violations stacked in red on the expected answers.
func histogram(r *load.Result) template.HTML {
	n := len(histogramBounds) + 1
	good, bad := make([]uint64, n), make([]uint64, n)
	for _, s := range r.Samples {
		i := sort.Search(len(histogramBounds), func(i int) bool { return s.Latency < histogramBounds[i] })
		if s.Verdict == load.Violation {
			bad[i]++
		} else {
			good[i]++
		}
	}
	var top uint64 = 1
	for i := range good {
		top = max(top, good[i]+bad[i])
	}
	const w, h, left, bottom, barW = 900.0, 260.0, 60.0, 40.0, 60.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="latency histogram">`, w, h)
	axes(&b, w, h, left, bottom, float64(top), "requests")
	for i := range n {
		x := left + 8 + float64(i)*(barW+4)
		gh := (h - bottom - 10) * float64(good[i]) / float64(top)
		bh := (h - bottom - 10) * float64(bad[i]) / float64(top)
		y := h - bottom - gh
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%g" height="%.1f" fill="#297373"><title>%d expected</title></rect>`, x, y, barW, gh, good[i])
		if bad[i] > 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%g" height="%.1f" fill="#CA4E3E"><title>%d violations</title></rect>`, x, y-bh, barW, bh, bad[i])
		}
		if c := good[i] + bad[i]; c > 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="small" text-anchor="middle">%d</text>`, x+barW/2, y-bh-3, c)
		}
		label := "≥5s"
		if i < len(histogramBounds) {
			label = "<" + shortDur(histogramBounds[i])
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="small" text-anchor="middle">%s</text>`, x+barW/2, h-bottom+16, label)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="small" text-anchor="middle">latency</text></svg>`, left+(w-left)/2, h-6)
	return template.HTML(b.String()) //nolint:gosec // built here from numbers and fixed strings
}

// throughput draws requests/s, handshakes/s and violations/s over the run.
func throughput(r *load.Result) template.HTML {
	tl := r.Timeline
	per := tl.Width.Seconds()
	series := []struct {
		name, color string
		v           []uint64
	}{
		{"requests/s", "#297373", tl.Requests},
		{"handshakes/s", "#593C8F", tl.Handshakes},
		{"violations/s", "#CA4E3E", tl.Violations},
	}
	n := len(tl.Requests)
	top := 1.0
	for _, s := range series {
		for _, v := range s.v {
			top = math.Max(top, float64(v)/per)
		}
	}
	const w, h, left, bottom = 900.0, 260.0, 60.0, 40.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="throughput and handshakes per second">`, w, h)
	axes(&b, w, h, left, bottom, top, "per second")
	x := func(i int) float64 {
		if n <= 1 {
			return left
		}
		return left + (w-left-10)*float64(i)/float64(n-1)
	}
	for k, s := range series {
		var pts strings.Builder
		for i := 0; i < n && i < len(s.v); i++ {
			y := h - bottom - (h-bottom-10)*float64(s.v[i])/per/top
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(i), y)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`, s.color, strings.TrimSpace(pts.String()), s.name)
		fmt.Fprintf(&b, `<rect x="%g" y="%d" width="12" height="12" fill="%s"/><text x="%g" y="%d" class="small">%s</text>`,
			w-150, 8+k*18, s.color, w-134, 18+k*18, s.name)
	}
	end := time.Duration(n) * tl.Width
	for _, rv := range r.Revocations { // the revocation moment, as on the latency plot
		if end <= 0 || rv.Applied > end {
			continue
		}
		rx := left + (w-left-10)*rv.Applied.Seconds()/end.Seconds()
		fmt.Fprintf(&b, `<line x1="%.1f" y1="10" x2="%.1f" y2="%g" stroke="%s" stroke-width="2" stroke-dasharray="6 4"><title>%s applied at %s</title></line>`,
			rx, rx, h-bottom, eventColor, template.HTMLEscapeString(rv.Name), rv.Applied.Round(time.Millisecond))
		fmt.Fprintf(&b, `<text x="%.1f" y="22" class="small" fill="%s">%s</text>`, rx+4, eventColor, template.HTMLEscapeString(rv.Name))
	}
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="small" text-anchor="middle">%s</text>`, left+(w-left-10)*f, h-bottom+16,
			shortDur(time.Duration(f*float64(end)).Round(tl.Width)))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="small" text-anchor="middle">time since start (buckets of %s)</text></svg>`, left+(w-left)/2, h-6, tl.Width)
	return template.HTML(b.String()) //nolint:gosec // built here from numbers and fixed strings
}

// axes draws the two axes and the y scale.
func axes(b *strings.Builder, w, h, left, bottom, top float64, unit string) {
	fmt.Fprintf(b, `<line x1="%g" y1="10" x2="%g" y2="%g" stroke="#888"/><line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#888"/>`,
		left, left, h-bottom, left, h-bottom, w-10, h-bottom)
	for _, f := range []float64{0, 0.5, 1} {
		y := h - bottom - (h-bottom-10)*f
		fmt.Fprintf(b, `<text x="%g" y="%.1f" class="small" text-anchor="end">%s</text>`, left-4, y+4, strconv.FormatFloat(top*f, 'f', 0, 64))
	}
	fmt.Fprintf(b, `<text x="12" y="%g" class="small" transform="rotate(-90 12 %g)" text-anchor="middle">%s</text>`, (h-bottom)/2, (h-bottom)/2, unit)
}

func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}

var pageTemplate = template.Must(template.New("load").Funcs(template.FuncMap{
	"ms":  ms,
	"dur": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"f1":  func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"pct": func(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + "%" },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mtlsgate load report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 24px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.ok{background:#e3f4e3}.bad{background:#f8d4cf;font-weight:bold}
.pass{color:#1d7a1d}.fail{color:#b3261e}.badge{font-size:1.4em;font-weight:bold}
.chart{width:100%;max-width:900px;height:auto;border:1px solid #eee}.small{font-size:11px;fill:#444}
iframe{width:100%;height:780px;border:1px solid #eee}
</style></head><body>
<h1>mtlsgate load report</h1>
<p class="badge {{if .Passed}}pass{{else}}fail{{end}}">{{if .Passed}}PASS{{else}}FAIL{{end}}: {{.R.Violations}} violations in {{.R.Requests}} requests</p>
<table>
<tr><th class="l">target</th><td class="l">{{.R.Target}} ({{.R.Profile}} profile)</td></tr>
<tr><th class="l">connections</th><td class="l">{{.R.Mode}}</td></tr>
<tr><th class="l">pacer</th><td class="l">{{.R.PacerText}}; bounded by {{dur .R.Duration}} and {{.R.MaxRequests}} requests</td></tr>
<tr><th class="l">started</th><td class="l">{{.R.Started.UTC.Format "2006-01-02 15:04:05 UTC"}}, ran {{dur .R.Elapsed}}</td></tr>
<tr><th class="l">achieved</th><td class="l">{{f1 .R.Rate}} requests/s, {{f1 .R.HandshakeRate}} handshakes/s ({{.R.Handshakes}} handshakes, {{.R.Resumed}} resumed)</td></tr>
<tr><th class="l">latency</th><td class="l">p50 {{ms .R.Total.Latencies.P50}} ms, p90 {{ms .R.Total.Latencies.P90}} ms, p99 {{ms .R.Total.Latencies.P99}} ms, max {{ms .R.Total.Latencies.Max}} ms</td></tr>
<tr><th class="l">errors</th><td class="l">{{.R.TransportErrors}} transport errors ({{pct .R.ErrorRate}}), {{.R.ValidLost}} valid requests lost</td></tr>
</table>

<h2>Gates</h2>
<table><tr><th class="l">gate</th><th>limit</th><th>actual</th><th class="l">result</th></tr>
{{range .Gates}}<tr class="{{if .Pass}}ok{{else}}bad{{end}}"><td class="l">{{.Name}}</td><td>{{.Limit}}</td><td>{{.Actual}}</td><td class="l">{{if .Pass}}pass{{else}}FAIL{{end}}</td></tr>
{{end}}</table>

<h2>Classes</h2>
<table><tr><th class="l">class</th><th class="l">identity</th><th>weight</th><th class="l">expected</th><th>requests</th><th>as expected</th><th>tolerated</th><th>violations</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>handshakes</th><th>resumed</th></tr>
{{range .R.Classes}}<tr{{if .Violations}} class="bad"{{end}}><td class="l">{{.Name}}</td><td class="l">{{or .Identity "(none)"}}</td><td>{{.Weight}}</td><td class="l">{{.Expect}}{{if .ExpectAfter}} → {{.ExpectAfter}}{{end}}</td><td>{{.Requests}}</td><td>{{.Expected}}</td><td>{{.Tolerated}}</td><td>{{.Violations}}</td><td>{{ms .Metrics.Latencies.P50}}</td><td>{{ms .Metrics.Latencies.P90}}</td><td>{{ms .Metrics.Latencies.P99}}</td><td>{{.Handshakes}}</td><td>{{.Resumed}}</td></tr>
{{end}}</table>

<h2>Outcome matrix: expected × observed</h2>
<table><tr><th class="l">class</th><th class="l">expected</th>{{range .Matrix.Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Matrix.Rows}}<tr><td class="l">{{.Class}}</td><td class="l">{{.Expect}}</td>{{range .Cells}}<td{{if .Count}} class="{{if .OK}}ok{{else}}bad{{end}}"{{end}}>{{if .Count}}{{.Count}}{{end}}</td>{{end}}</tr>
{{end}}</table>

{{if .R.Revocations}}<h2>Revocation under load</h2>
<table><tr><th class="l">event</th><th class="l">class</th><th>planned at</th><th>applied at</th><th>grace</th><th>time to enforce</th><th>old answers after</th><th>new answers after</th><th class="l">enforced</th></tr>
{{range .R.Revocations}}<tr class="{{if .Enforced}}ok{{else}}bad{{end}}"><td class="l">{{.Name}}</td><td class="l">{{.Class}}</td><td>{{dur .At}}</td><td>{{dur .Applied}}</td><td>{{dur .Grace}}</td><td>{{dur .TimeToEnforce}}</td><td>{{.OldAfter}}</td><td>{{.NewAfter}}</td><td class="l">{{if .Enforced}}yes{{else}}no {{.Error}}{{end}}</td></tr>
{{end}}</table>{{end}}

{{if .R.ViolationSamples}}<h2>First violations</h2>
<table><tr><th class="l">class</th><th>at</th><th class="l">expected</th><th class="l">observed</th><th class="l">error / body</th></tr>
{{range .R.ViolationSamples}}<tr><td class="l">{{.Class}}</td><td>{{dur .Offset}}</td><td class="l">{{.Expected}}</td><td class="l">{{.Observed}}</td><td class="l">{{.Error}} {{.Body}}</td></tr>
{{end}}</table>{{end}}

<h2>Latency over time per class</h2>
<iframe title="latency over time" srcdoc="{{.LatencyPlot}}"></iframe>

<h2>Latency histogram</h2>
{{.Histogram}}

<h2>Throughput and handshakes per second</h2>
{{.Throughput}}
</body></html>
`))
