package load

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// maxBody bounds how much of each response body is kept for classification.
const maxBody = 64 << 10

// maxViolationSamples bounds how many violations are kept in detail.
const maxViolationSamples = 20

// maxLabels bounds the distinct observed outcomes tracked; the rest are "other".
const maxLabels = 256

// match bits of a Sample.
const (
	matchClass = 1 << iota // met the class's expectation
	matchEvent             // met the expectation its event switches to
	noResponse             // no HTTP response at all
)

// eventState is what happened to one event during the run.
type eventState struct {
	ev               *Event
	fired, applied   time.Duration
	done             bool
	err              error
	lastOld, lastNew time.Duration
	oldAfter, newAt  uint64
}

// classState is one class during the run.
type classState struct {
	Class
	body, afterBody []byte
	label, after    uint16
	event           *eventState
	metrics         vegeta.Metrics
	requests        uint64
}

// labels interns observed outcome labels.
type labels struct {
	list  []string
	index map[string]uint16
}

func (l *labels) id(s string) uint16 {
	if i, ok := l.index[s]; ok {
		return i
	}
	if len(l.list) >= maxLabels {
		s = "other"
		if i, ok := l.index[s]; ok {
			return i
		}
	}
	i := uint16(len(l.list))
	l.list = append(l.list, s)
	l.index[s] = i
	return i
}

// Run carries out the plan and classifies every answer. It returns when the attack has ended by
// its duration, its request count or ctx; a plan it cannot run is refused before any traffic.
// When ctx ends the run early, the result so far comes back with the error.
func Run(ctx context.Context, plan Plan) (*Result, error) {
	p := plan
	p.Classes = append([]Class(nil), plan.Classes...)
	u, err := p.validate()
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	pacer, err := p.Pacer.vegeta()
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	serverName := p.ServerName
	if serverName == "" {
		serverName = u.Hostname()
	}

	lb := &labels{index: map[string]uint16{}}
	var classes []*classState
	for _, c := range p.Classes {
		if c.Weight == 0 {
			continue
		}
		cs := &classState{Class: c, body: []byte(c.Expect.BodyContains)}
		cs.label = lb.id(c.Expect.String())
		classes = append(classes, cs)
	}
	events := make([]*eventState, len(p.Events))
	for i := range p.Events {
		e := &p.Events[i]
		events[i] = &eventState{ev: e}
		for _, cs := range classes {
			if cs.Name == e.Class {
				if cs.event != nil {
					return nil, fmt.Errorf("load plan: event %q: class %q already has an event (one per class)", e.Name, e.Class)
				}
				cs.event = events[i]
				cs.afterBody = []byte(e.Expect.BodyContains)
				cs.after = lb.id(e.Expect.String())
			}
		}
		if events[i].ev != nil && !hasClass(classes, e.Class) {
			return nil, fmt.Errorf("load plan: event %q: class %q has weight 0", e.Name, e.Class)
		}
	}
	weights := make([]int, len(classes))
	for i, cs := range classes {
		weights[i] = cs.Weight
	}
	sched, err := schedule(weights)
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}

	if err := waitUntil(ctx, p.StartAt); err != nil {
		return nil, fmt.Errorf("load run against %s: waiting for the start at %s: %w", p.Target, p.StartAt.Format(time.RFC3339Nano), err)
	}
	start := time.Now()
	width := bucketWidth(p.Duration)
	hsLine := newTimeline(start, width, p.Duration+p.Timeout)
	rt := &router{}
	targets := make([]vegeta.Target, len(classes))
	for i, cs := range classes {
		rt.classes = append(rt.classes, newClassTransport(&p, cs.Class, serverName, hsLine))
		targets[i] = vegeta.Target{Method: http.MethodGet, URL: p.Target + "#" + strconv.Itoa(i)}
	}
	defer rt.close()
	var next atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		n := next.Add(1) - 1
		*t = targets[sched[n%uint64(len(sched))]]
		return nil
	}
	client := &http.Client{Transport: rt, Timeout: p.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	atk := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(p.Workers), vegeta.MaxWorkers(p.MaxWorkers), vegeta.MaxBody(maxBody))

	var (
		reqs, viols atomic.Uint64
		done        = make(chan struct{})
		bg          sync.WaitGroup
	)
	evCtx, cancelEvents := context.WithCancel(ctx)
	defer cancelEvents()
	for _, es := range events {
		bg.Add(1)
		go func() {
			defer bg.Done()
			t := time.NewTimer(es.ev.At - time.Since(start))
			defer t.Stop()
			select {
			case <-t.C:
			case <-evCtx.Done():
				return
			}
			es.fired = time.Since(start)
			es.err = es.ev.Apply(evCtx)
			es.applied = time.Since(start)
			es.done = true
		}()
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				atk.Stop()
				return
			case <-done:
				return
			case <-tick.C:
				if p.Progress != nil {
					var hs uint64
					for _, c := range rt.classes {
						hs += c.hs.full.Load() + c.hs.resumed.Load()
					}
					p.Progress(Progress{Elapsed: time.Since(start), Requests: reqs.Load(), Violations: viols.Load(), Handshakes: hs})
				}
			}
		}
	}()

	out := &Result{
		Target: p.Target, Profile: p.Profile, Mode: p.Mode, Pacer: p.Pacer, PacerText: p.Pacer.String(),
		Duration: p.Duration, MaxRequests: p.MaxRequests, Started: start,
	}
	samples := make([]Sample, 0, min(p.MaxRequests, 1<<20))
	var unclassified uint64
	results := atk.Attack(targeter, capped{pacer, p.MaxRequests}, p.Duration, "")
	for res := range results {
		reqs.Add(1)
		out.Total.Add(res)
		i, ok := classOfURL(res.URL)
		if !ok || i >= len(classes) {
			unclassified++
			viols.Add(1)
			out.addViolationSample(ViolationSample{Class: "?", Offset: res.Timestamp.Sub(start), Observed: "error", Error: res.Error})
			continue
		}
		cs := classes[i]
		cs.requests++
		cs.metrics.Add(res)
		s := Sample{Offset: res.Timestamp.Sub(start), Latency: res.Latency, Class: uint16(i), Code: res.Code}
		if res.Code == 0 {
			s.match |= noResponse
		}
		hsFail := res.Code == 0 && strings.Contains(res.Error, handshakeMarker)
		if matches(cs.Expect, cs.body, res, hsFail) {
			s.match |= matchClass
			s.Observed = cs.label
		}
		if cs.event != nil && matches(cs.event.ev.Expect, cs.afterBody, res, hsFail) {
			s.match |= matchEvent
			if s.match&matchClass == 0 {
				s.Observed = cs.after
			}
		}
		if s.match&(matchClass|matchEvent) == 0 {
			obs := observedLabel(res, hsFail)
			s.Observed = lb.id(obs)
			viols.Add(1)
			out.addViolationSample(ViolationSample{Class: cs.Name, Offset: s.Offset, Expected: cs.Expect.String(), Observed: obs,
				Error: res.Error, Body: snippet(res.Body)})
		}
		samples = append(samples, s)
	}
	close(done)
	cancelEvents()
	bg.Wait()
	out.Elapsed = time.Since(start)
	out.Samples = samples
	out.Labels = lb.list
	out.Requests = uint64(len(samples)) + unclassified
	out.Violations = unclassified
	out.TransportErrors = unclassified
	out.finish(classes, events, rt, hsLine, width)
	if err := ctx.Err(); err != nil {
		// Interrupted: what ran so far is still worth a report.
		return out, fmt.Errorf("load run against %s interrupted after %d requests: %w", p.Target, out.Requests, err)
	}
	return out, nil
}

// waitUntil returns at t (at once when t is zero or past), or when ctx ends.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if t.IsZero() || d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func hasClass(cs []*classState, name string) bool {
	for _, c := range cs {
		if c.Name == name {
			return true
		}
	}
	return false
}

// finish classifies the samples now that every event's timing is known, and derives the totals.
func (out *Result) finish(classes []*classState, events []*eventState, rt *router, hsLine *timeline, width time.Duration) {
	out.Total.Close()
	per := make([]ClassResult, len(classes))
	for i, cs := range classes {
		per[i] = ClassResult{Name: cs.Name, Identity: cs.Identity, Weight: cs.Weight, Expect: cs.Expect.String(),
			Requests: cs.requests, Observed: map[string]uint64{},
			Handshakes: rt.classes[i].hs.full.Load() + rt.classes[i].hs.resumed.Load(), Resumed: rt.classes[i].hs.resumed.Load()}
		if cs.event != nil {
			per[i].ExpectAfter = cs.event.ev.Expect.String()
		}
	}
	n := int(out.Elapsed/width) + 1
	out.Timeline = Timeline{Width: width, Requests: make([]uint64, n), Violations: make([]uint64, n)}
	bucket := func(d time.Duration) int { return min(max(int(d/width), 0), n-1) }
	for k := range out.Samples {
		s := &out.Samples[k]
		cs := classes[s.Class]
		s.Verdict = verdict(s, cs.event)
		cr := &per[s.Class]
		cr.Observed[out.Labels[s.Observed]]++
		out.Timeline.Requests[bucket(s.Offset)]++
		switch s.Verdict {
		case Expected:
			cr.Expected++
		case Tolerated:
			cr.Tolerated++
		case Violation:
			cr.Violations++
			out.Timeline.Violations[bucket(s.Offset)]++
			if s.match&noResponse != 0 {
				out.TransportErrors++
			}
			if cs.event == nil && cs.Expect.Success() {
				out.ValidLost++
			}
			switch { // violations that met some expectation, only the wrong one for their time
			case cs.event != nil && s.match&matchClass != 0:
				out.addViolationSample(ViolationSample{Class: cs.Name, Offset: s.Offset, Expected: cs.event.ev.Expect.String(),
					Observed: out.Labels[s.Observed] + " (still, after the grace period)"})
			case cs.event != nil && s.match&matchEvent != 0:
				out.addViolationSample(ViolationSample{Class: cs.Name, Offset: s.Offset, Expected: cs.Expect.String(),
					Observed: out.Labels[s.Observed] + " (before the event)"})
			}
		}
	}
	for i, cs := range classes {
		cs.metrics.Close()
		per[i].Metrics = cs.metrics
		out.Expected += per[i].Expected
		out.Tolerated += per[i].Tolerated
		out.Violations += per[i].Violations
		out.Handshakes += per[i].Handshakes
		out.Resumed += per[i].Resumed
	}
	out.Classes = per
	hs := hsLine.values()
	out.Timeline.Handshakes = hs[:min(len(hs), n)]
	if out.Requests > 0 {
		out.ErrorRate = float64(out.TransportErrors) / float64(out.Requests)
	}
	out.Rate = out.Total.Rate
	span := out.Total.Duration + out.Total.Wait
	if span <= 0 {
		span = out.Elapsed
	}
	out.HandshakeRate = float64(out.Handshakes) / span.Seconds()
	for _, es := range events {
		r := RevocationResult{Name: es.ev.Name, Class: es.ev.Class, At: es.ev.At, Grace: es.ev.Grace}
		switch {
		case !es.done:
			r.Error = "not applied: the run ended first"
		case es.err != nil:
			r.Error = es.err.Error()
		}
		if es.done {
			r.Applied = es.applied
			r.OldAfter, r.NewAfter = es.oldAfter, es.newAt
			if es.oldAfter > 0 {
				r.TimeToEnforce = es.lastOld - es.applied
			}
			r.Enforced = es.err == nil && es.newAt > 0 && (es.oldAfter == 0 || es.lastOld < es.lastNew)
		}
		out.Revocations = append(out.Revocations, r)
	}
}

// verdict judges one sample. A class with an event keeps its old expectation until the event
// fires, accepts either outcome until Grace after Apply returned, and only the new one after.
func verdict(s *Sample, es *eventState) Verdict {
	old := s.match&matchClass != 0
	neu := s.match&matchEvent != 0
	if es == nil || !es.done || s.Offset < es.fired {
		// A request still in flight when the event fired may meet either outcome: the gateway
		// decided after the change.
		if old || (neu && es != nil && es.done && s.Offset+s.Latency >= es.fired) {
			return Expected
		}
		return Violation
	}
	if s.Offset >= es.applied {
		if old {
			es.oldAfter++
			es.lastOld = max(es.lastOld, s.Offset)
		}
		if neu {
			es.newAt++
			es.lastNew = max(es.lastNew, s.Offset)
		}
	}
	switch {
	case neu:
		return Expected
	case old && s.Offset <= es.applied+es.ev.Grace:
		return Tolerated
	}
	return Violation
}

func (out *Result) addViolationSample(v ViolationSample) {
	if len(out.ViolationSamples) < maxViolationSamples {
		out.ViolationSamples = append(out.ViolationSamples, v)
	}
}

// matches reports whether a result is the outcome o (body is o.BodyContains as bytes).
func matches(o Outcome, body []byte, r *vegeta.Result, hsFail bool) bool {
	if o.HandshakeFailure {
		return hsFail
	}
	return r.Code != 0 && int(r.Code) == o.Status && (len(body) == 0 || bytes.Contains(r.Body, body))
}

// observedLabel names what an unexpected answer was: `401 "message"`, a handshake failure, or a
// transport error by kind (so ports and addresses do not make every error unique).
func observedLabel(r *vegeta.Result, hsFail bool) string {
	switch {
	case hsFail:
		return HandshakeFailureLabel
	case r.Code == 0:
		e := r.Error
		for _, k := range []string{"connection refused", "connection reset", "timeout", "deadline exceeded", "EOF", "broken pipe"} {
			if strings.Contains(e, k) {
				return "error: " + k
			}
		}
		if i := strings.LastIndex(e, ": "); i >= 0 {
			e = e[i+2:]
		}
		return "error: " + truncate(e, 60)
	}
	code := strconv.Itoa(int(r.Code))
	if msg, ok := jsonMessage(r.Body); ok {
		return code + " " + strconv.Quote(truncate(msg, 80))
	}
	return code
}

// jsonMessage extracts Kong's {"message":"…"} without decoding the whole body.
func jsonMessage(b []byte) (string, bool) {
	const key = `"message":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

func snippet(b []byte) string { return truncate(string(b), 200) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// capped stops a pacer after max hits, bounding the attack in count.
type capped struct {
	vegeta.Pacer
	max uint64
}

func (c capped) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= c.max {
		return 0, true
	}
	return c.Pacer.Pace(elapsed, hits)
}

// schedule interleaves classes by weight (smooth weighted round-robin), so every stretch of
// requests holds the population's mix rather than bursts of one class.
func schedule(weights []int) ([]int, error) {
	g, total := 0, 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	for i := range weights {
		total += weights[i] / g
	}
	if total > 100_000 {
		return nil, fmt.Errorf("class weights add up to %d (after reducing by their common divisor): keep them under 100000", total)
	}
	cur := make([]int, len(weights))
	out := make([]int, 0, total)
	for range total {
		best := -1
		for i, w := range weights {
			cur[i] += w / g
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, best)
	}
	return out, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// bucketWidth picks the timeline resolution: 100 ms for short runs, at most 600 buckets.
func bucketWidth(d time.Duration) time.Duration {
	w := 100 * time.Millisecond
	if d/w > 600 {
		w = (d / 600).Round(time.Millisecond)
	}
	return w
}
