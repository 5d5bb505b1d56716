package shard

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mtlsgate/mtlsgate/load"
)

// Format names the shard result format and its version.
const Format = "mtlsgate-load-shard/1"

// Latencies are recorded in nanoseconds from 1 µs to an hour with three significant digits: a
// merged percentile is within 0.1% of the exact one.
const (
	histLowest  = int64(time.Microsecond)
	histHighest = int64(time.Hour)
	histDigits  = 3
)

// maxSamples bounds the per-request samples a shard result carries for the merged report's
// plots; counts, percentiles and time series never come from them.
const maxSamples = 20_000

// File is one shard's result: what the merge needs to rebuild the whole attack's, exactly.
type File struct {
	Format string `json:"format"`
	Split
	// StartAt is the shared start; StartLag how late this shard started after it.
	StartAt  time.Time     `json:"start_at,omitzero"`
	StartLag time.Duration `json:"start_lag"`
	// Result is the shard's own result (its samples are in Samples).
	Result *load.Result `json:"result"`
	// Latency holds every classified request's latency, ClassLatency each class's: HdrHistogram
	// V2 compressed encodings, base64.
	Latency      string            `json:"latency"`
	ClassLatency map[string]string `json:"class_latency"`
	// Samples are up to maxSamples of the shard's requests, evenly spaced, for plots.
	Samples []load.Sample `json:"samples"`
}

// New builds a shard's result file from its split and its run's result.
func New(sp *Split, r *load.Result) (*File, error) {
	f := &File{Format: Format, Split: *sp, StartAt: sp.Plan.StartAt, Result: r, ClassLatency: map[string]string{}}
	if !f.StartAt.IsZero() {
		f.StartLag = max(r.Started.Sub(f.StartAt), 0)
	}
	all := newHist()
	per := make([]*hdrhistogram.Histogram, len(r.Classes))
	for i := range per {
		per[i] = newHist()
	}
	for _, s := range r.Samples {
		v := clampLatency(s.Latency)
		if err := all.RecordValue(v); err != nil {
			return nil, fmt.Errorf("record latency %s: %w", s.Latency, err)
		}
		if int(s.Class) < len(per) {
			_ = per[s.Class].RecordValue(v) // same range as all's, which took it
		}
	}
	var err error
	if f.Latency, err = encode(all); err != nil {
		return nil, err
	}
	for i, c := range r.Classes {
		if f.ClassLatency[c.Name], err = encode(per[i]); err != nil {
			return nil, err
		}
	}
	step := max(1, (len(r.Samples)+maxSamples-1)/maxSamples)
	for i := 0; i < len(r.Samples); i += step {
		f.Samples = append(f.Samples, r.Samples[i])
	}
	return f, nil
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histLowest, histHighest, histDigits) }

func clampLatency(d time.Duration) int64 { return min(max(int64(d), histLowest), histHighest) }

func encode(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode latency histogram: %w", err)
	}
	return string(b), nil
}

func decode(s string) (*hdrhistogram.Histogram, error) {
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, err
	}
	if h.LowestTrackableValue() != histLowest || h.HighestTrackableValue() != histHighest || h.SignificantFigures() != histDigits {
		return nil, fmt.Errorf("histogram range %d..%d ns at %d digits, want %d..%d at %d", h.LowestTrackableValue(), h.HighestTrackableValue(),
			h.SignificantFigures(), histLowest, histHighest, histDigits)
	}
	return h, nil
}

// Name is the file name a shard's result is written under: shard-<i>-of-<n>.json.
func (f *File) Name() string {
	return fmt.Sprintf("shard-%d-of-%d.json", f.Shard.Index, f.Shard.Count)
}

// WriteDir writes the result into dir as Name(), whole or not at all (a temporary name, then a
// rename), and returns its path.
func (f *File) WriteDir(dir string) (string, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("encode shard result: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write shard result: %w", err)
	}
	path := filepath.Join(dir, f.Name())
	if err := os.WriteFile(path+".tmp", append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write shard result: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return "", fmt.Errorf("write shard result: %w", err)
	}
	return path, nil
}

// The frame around a shard result printed to stdout, where `kubectl logs` collects it: gzip'd
// JSON in base64 lines between two markers, the first carrying the JSON's SHA-256, so a log
// that lost a line is refused rather than merged.
const (
	frameBegin = "-----BEGIN MTLSGATE LOAD SHARD "
	frameEnd   = "-----END MTLSGATE LOAD SHARD-----"
	frameLine  = 76
)

// Frame writes the result to w as one framed block, in a single write.
func (f *File) Frame(w io.Writer) error {
	js, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode shard result: %w", err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(js); err != nil {
		return fmt.Errorf("compress shard result: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress shard result: %w", err)
	}
	sum := sha256.Sum256(js)
	enc := base64.StdEncoding.EncodeToString(gz.Bytes())
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s sha256=%s-----\n", frameBegin, f.Shard, hex.EncodeToString(sum[:]))
	for len(enc) > frameLine {
		b.WriteString(enc[:frameLine])
		b.WriteByte('\n')
		enc = enc[frameLine:]
	}
	b.WriteString(enc)
	b.WriteString("\n" + frameEnd + "\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("print shard result: %w", err)
	}
	return nil
}

// Read reads a shard result: a file WriteDir wrote, or a log holding one framed block (the
// output of `kubectl logs` for a shard's pod). A truncated, corrupted or inconsistent file is
// an error naming it.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read shard result: %w", err)
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("shard result %s: %w", path, err)
	}
	return f, nil
}

// Decode reads a shard result from its bytes (JSON, or a log with one framed block).
func Decode(b []byte) (*File, error) {
	js := b
	if bytes.Contains(b, []byte(frameBegin)) {
		var err error
		if js, err = unframe(b); err != nil {
			return nil, err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("truncated: the JSON ends early (%v); take the file again from the shard", err)
		}
		return nil, fmt.Errorf("not a shard result (%v)", err)
	}
	if dec.More() {
		return nil, errors.New("not a shard result: data after the JSON document")
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

// unframe finds the one framed block in a log and checks it whole.
func unframe(b []byte) ([]byte, error) {
	var (
		blocks  int
		inBlock bool
		sum     string
		enc     strings.Builder
		ended   bool
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, frameBegin):
			blocks++
			if blocks > 1 {
				return nil, errors.New("holds more than one shard result (one per file: save each pod's log on its own)")
			}
			_, s, ok := strings.Cut(line, "sha256=")
			if !ok {
				return nil, errors.New("the BEGIN line has no sha256")
			}
			sum, inBlock = strings.TrimSuffix(s, "-----"), true
		case line == frameEnd && inBlock:
			inBlock, ended = false, true
		case inBlock:
			enc.WriteString(line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the log: %w", err)
	}
	if !ended {
		return nil, errors.New("truncated: the shard result's END line is missing (the log was cut; fetch it whole with kubectl logs --tail=-1)")
	}
	gz, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		return nil, fmt.Errorf("corrupted: the framed result is not base64 (%v)", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("corrupted: the framed result is not gzip (%v)", err)
	}
	js, err := io.ReadAll(io.LimitReader(zr, 512<<20))
	if err != nil {
		return nil, fmt.Errorf("truncated or corrupted: the framed result does not decompress (%v)", err)
	}
	got := sha256.Sum256(js)
	if hex.EncodeToString(got[:]) != sum {
		return nil, errors.New("corrupted: the framed result's SHA-256 does not match its BEGIN line (a line was lost or changed)")
	}
	return js, nil
}

// check verifies what one file says about itself.
func (f *File) check() error {
	if f.Format != Format {
		return fmt.Errorf("format %q: want %q (a result of another mtlsgate version, or not a shard result)", f.Format, Format)
	}
	if err := f.Shard.Valid(); err != nil {
		return err
	}
	if f.Hash == "" || f.Result == nil {
		return errors.New("incomplete: no plan hash or no result")
	}
	h, err := decode(f.Latency)
	if err != nil {
		return fmt.Errorf("latency histogram: %w", err)
	}
	var n uint64
	for _, c := range f.Result.Classes {
		n += c.Requests
		ch, err := decode(f.ClassLatency[c.Name])
		if err != nil {
			return fmt.Errorf("class %q latency histogram: %w", c.Name, err)
		}
		if uint64(ch.TotalCount()) != c.Requests {
			return fmt.Errorf("class %q: its histogram holds %d latencies for %d requests", c.Name, ch.TotalCount(), c.Requests)
		}
	}
	if uint64(h.TotalCount()) != n {
		return fmt.Errorf("the latency histogram holds %d latencies for %d requests", h.TotalCount(), n)
	}
	units := map[string]int{}
	for _, p := range f.Population {
		units[p.Class] = p.Units
	}
	for _, p := range f.Slice {
		if p.Units <= 0 || p.Units > units[p.Class] {
			return fmt.Errorf("slice: class %q has %d units of the population's %d", p.Class, p.Units, units[p.Class])
		}
	}
	return nil
}
