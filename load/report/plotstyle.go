package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/mtlsgate/mtlsgate/load"
)

// classColors are the latency plot's class colours: distinct, and readable on vegeta's dark
// chart background (#161b22, contrast ≥ 4:1) as on its light one. Reds are left to violations.
var classColors = []string{"#4C9BE8", "#F28E2B", "#59A14F", "#B07AA1", "#D4A017", "#17BECF", "#E377C2", "#A6761D", "#8C8CFF", "#9A9A9A"}

// violationColors colour the violation series, a red per class.
var violationColors = []string{"#FF6B5B", "#E8453C", "#FF8F7A", "#F0524F"}

// eventColor marks the revocation moment.
const eventColor = "#FF4D4D"

// plotScript is added to vegeta's page: legend values that read the nearest point of a series
// (classes interleave, so at most rows a series has none and vegeta's legend showed "-"), and
// a dashed line at each event (a revocation) with its name.
const plotScript = `<script>
function mtlsgateValue(u, v, si, i) {
  if (v != null) return v;
  const d = u.data[si];
  if (i == null) i = d.length - 1;
  for (let j = i; j >= 0; j--) if (d[j] != null) return d[j];
  for (let j = i + 1; j < d.length; j++) if (d[j] != null) return d[j];
  return null;
}
const mtlsgateEvents = %s;
function mtlsgateMarkEvents(u) {
  const ctx = u.ctx, px = window.devicePixelRatio || 1;
  ctx.save();
  for (const e of mtlsgateEvents) {
    const x = u.valToPos(e.x, 'x', true);
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
    ctx.strokeStyle = ctx.fillStyle = '%s';
    ctx.lineWidth = 2 * px;
    ctx.setLineDash([6 * px, 4 * px]);
    ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
    ctx.setLineDash([]);
    ctx.font = (12 * px) + 'px sans-serif';
    ctx.fillText(e.label, x + 4 * px, u.bbox.top + 14 * px);
  }
  ctx.restore();
}
</script>
`

// plotEvent is a vertical marker on the latency plot, at x seconds on its axis.
type plotEvent struct {
	X     float64 `json:"x"`
	Label string  `json:"label"`
}

// plotOpts is the options object vegeta's page is built from.
var plotOpts = regexp.MustCompile(`const opts = (\{(?s:.*?)\});`)

// stylePlot rewrites vegeta's latency page for the classes of r: a distinct readable colour per
// class (the same class, the same colour, run after run), legend values that show numbers, and
// a marker at each revocation. It fails if vegeta's page no longer has what it rewrites, so a
// vegeta upgrade that changes it is caught by the tests rather than shipping a worse chart.
func stylePlot(page []byte, r *load.Result, firstOffsetSeconds float64) ([]byte, error) {
	m := plotOpts.FindSubmatchIndex(page)
	if m == nil {
		return nil, fmt.Errorf("latency plot: vegeta's page has no %q", "const opts = {…};")
	}
	var opts map[string]any
	if err := json.Unmarshal(page[m[2]:m[3]], &opts); err != nil {
		return nil, fmt.Errorf("latency plot: vegeta's options: %w", err)
	}
	labels, _ := opts["labels"].([]any)
	colors := make([]string, 0, len(labels))
	for _, l := range labels[min(1, len(labels)):] { // labels[0] is the x axis
		colors = append(colors, seriesColor(r, fmt.Sprint(l)))
	}
	opts["colors"] = colors
	js, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("latency plot: options: %w", err)
	}
	out := append(append(append([]byte{}, page[:m[2]]...), js...), page[m[3]:]...)

	for _, rw := range []struct{ old, new string }{
		{"value: (u, v) => formatDuration(v)", "value: (u, v, si, i) => formatDuration(mtlsgateValue(u, v, si, i))"},
		{"hooks: {", "hooks: {\n            draw: [mtlsgateMarkEvents],"},
	} {
		if !bytes.Contains(out, []byte(rw.old)) {
			return nil, fmt.Errorf("latency plot: vegeta's page has no %q", rw.old)
		}
		out = bytes.Replace(out, []byte(rw.old), []byte(rw.new), 1)
	}

	events := []plotEvent{}
	for _, rv := range r.Revocations {
		events = append(events, plotEvent{X: rv.Applied.Seconds() - firstOffsetSeconds, Label: fmt.Sprintf("%s applied at %s", rv.Name, rv.Applied.Round(1e6))})
	}
	ev, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("latency plot: events: %w", err)
	}
	// The script goes before vegeta's own last script, which draws the plot.
	i := bytes.LastIndex(out, []byte("<script>"))
	if i < 0 {
		return nil, fmt.Errorf("latency plot: vegeta's page has no script")
	}
	script := fmt.Sprintf(plotScript, ev, eventColor)
	return append(append(append([]byte{}, out[:i]...), script...), out[i:]...), nil
}

// seriesColor is the colour of the plot series label ("class: valid", or "class: revoked ERROR
// (violation)"): its class's colour, or a red for its violations.
func seriesColor(r *load.Result, label string) string {
	name := strings.TrimPrefix(label, "class: ")
	violation := strings.HasSuffix(name, violationSuffix)
	name = strings.TrimSuffix(name, violationSuffix)
	for i, c := range r.Classes {
		if c.Name == name {
			if violation {
				return violationColors[i%len(violationColors)]
			}
			return classColors[i%len(classColors)]
		}
	}
	return classColors[len(classColors)-1]
}
