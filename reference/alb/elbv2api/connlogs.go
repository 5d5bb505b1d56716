package elbv2api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5" //nolint:gosec // S3's ETag
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// The load balancer attributes of ALB's connection logs to S3 ("Connection logs for your
// Application Load Balancer"): the endpoint writes them to its own S3.
const (
	AttrConnLogsEnabled = "connection_logs.s3.enabled"
	AttrConnLogsBucket  = "connection_logs.s3.bucket"
	AttrConnLogsPrefix  = "connection_logs.s3.prefix"
)

// DefaultConnectionLogInterval is how often ALB publishes its connection logs: every 5 minutes.
const DefaultConnectionLogInterval = 5 * time.Minute

// isConnLogAttr reports whether key is one of the connection-log attributes, which the endpoint
// applies itself rather than reference/alb.
func isConnLogAttr(key string) bool {
	return key == AttrConnLogsEnabled || key == AttrConnLogsBucket || key == AttrConnLogsPrefix
}

// connLogDest is where a load balancer's connection log goes: a bucket and a prefix.
type connLogDest struct{ bucket, prefix string }

// connLogAttrs reads and checks the connection-log attributes of attrs against the model's
// buckets: enabled is true or false, and when true the bucket must exist.
func connLogAttrs(m *model, attrs []alb.Attribute) (*connLogDest, *apiError) {
	var enabled bool
	var d connLogDest
	for _, a := range attrs {
		switch a.Key {
		case AttrConnLogsEnabled:
			b, err := strconv.ParseBool(a.Value)
			if err != nil || (a.Value != "true" && a.Value != "false") {
				return nil, validation("Load balancer attribute '%s' value '%s' must be true or false", a.Key, a.Value)
			}
			enabled = b
		case AttrConnLogsBucket:
			d.bucket = a.Value
		case AttrConnLogsPrefix:
			if strings.Contains(a.Value, "AWSLogs") || strings.HasPrefix(a.Value, "/") || strings.HasSuffix(a.Value, "/") {
				return nil, validation("Load balancer attribute '%s' value '%s': the prefix cannot contain AWSLogs nor begin or end with '/'", a.Key, a.Value)
			}
			d.prefix = a.Value
		}
	}
	if !enabled {
		return nil, nil
	}
	if d.bucket == "" {
		return nil, validation("Load balancer attribute '%s' must name a bucket when %s is true", AttrConnLogsBucket, AttrConnLogsEnabled)
	}
	if m.Buckets[d.bucket] == nil {
		// ELB's answer for a bucket it cannot write to.
		return nil, fault("InvalidConfigurationRequest", "Access Denied for bucket: %s. Please check S3bucket permission", d.bucket)
	}
	return &d, nil
}

// connLogSink collects one load balancer's connection-log lines while its connection logs are
// enabled; the publisher writes them to S3.
type connLogSink struct {
	lb   string                      // the load balancer's ARN
	dest atomic.Pointer[connLogDest] // nil: disabled, lines are dropped
	mu   sync.Mutex
	buf  bytes.Buffer
}

// Write implements io.Writer: whole lines, as the emulator writes them.
func (k *connLogSink) Write(p []byte) (int, error) {
	if k.dest.Load() == nil {
		return len(p), nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.buf.Write(p)
}

// take returns the lines collected so far and empties the buffer.
func (k *connLogSink) take() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.buf.Len() == 0 {
		return nil
	}
	out := bytes.Clone(k.buf.Bytes())
	k.buf.Reset()
	return out
}

// sink returns the connection-log sink of load balancer arn, made on first use. Called with s.mu
// held.
func (s *Server) sink(arn string) *connLogSink {
	if k := s.sinks[arn]; k != nil {
		return k
	}
	k := &connLogSink{lb: arn}
	s.sinks[arn] = k
	return k
}

// setConnLogDests points each load balancer's sink at its bucket, or turns it off. Called with
// s.mu held, by sync.
func (s *Server) setConnLogDests(m *model) {
	for arn, lb := range m.LoadBalancers {
		d, _ := connLogAttrs(m, lb.Attributes)
		s.sink(arn).dest.Store(d)
	}
	for arn, k := range s.sinks {
		if m.LoadBalancers[arn] == nil {
			k.dest.Store(nil)
		}
	}
}

// publishConnLogs writes every sink's lines to its bucket, every interval, until ctx ends.
func (s *Server) publishConnLogs(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.publishOnce(ctx)
		}
	}
}

// publishOnce writes one gzipped log object per load balancer with lines, named as ALB names
// them: [prefix/]AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/conn_log.<account>_
// elasticloadbalancing_<region>_app.<name>.<id>_<end time>_<ip>_<random>.log.gz.
func (s *Server) publishOnce(ctx context.Context) {
	s.mu.Lock()
	sinks := make([]*connLogSink, 0, len(s.sinks))
	for _, k := range s.sinks {
		sinks = append(sinks, k)
	}
	s.mu.Unlock()
	for _, k := range sinks {
		d := k.dest.Load()
		lines := k.take()
		if d == nil || len(lines) == 0 {
			continue
		}
		if err := s.putConnLog(ctx, k.lb, *d, lines); err != nil {
			s.opts.Log.Warn("elbv2api: publishing a connection log", "load_balancer", k.lb, "err", err)
		}
	}
}

func (s *Server) putConnLog(ctx context.Context, lbArn string, d connLogDest, lines []byte) error {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(lines); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	body := gz.Bytes()
	blob, err := s.store.putBlob(body)
	if err != nil {
		return err
	}
	sum := md5.Sum(body) //nolint:gosec // S3's ETag
	now := time.Now().UTC()
	// The ARN's resource is loadbalancer/app/<name>/<id>.
	parts := strings.Split(lbArn[strings.LastIndexByte(lbArn, ':')+1:], "/")
	lbID := "app." + strings.Join(parts[len(parts)-2:], ".")
	key := fmt.Sprintf("AWSLogs/%s/elasticloadbalancing/%s/%s/conn_log.%s_elasticloadbalancing_%s_%s_%s_%s_%s.log.gz",
		s.opts.AccountID, s.opts.Region, now.Format("2006/01/02"), s.opts.AccountID, s.opts.Region, lbID,
		now.Format("20060102T1504Z"), s.opts.ListenerAddress, randomHex(8))
	if d.prefix != "" {
		key = d.prefix + "/" + key
	}
	if aerr := s.change(ctx, func(m *model) *apiError {
		b := m.Buckets[d.bucket]
		if b == nil {
			return noSuchBucket()
		}
		b.Objects[key] = &object{Blob: blob, Size: int64(len(body)), ETag: `"` + hex.EncodeToString(sum[:]) + `"`, ContentType: "application/x-gzip", Modified: now}
		return nil
	}); aerr != nil {
		return aerr
	}
	if s.opts.ConnectionLogPublished != nil {
		s.opts.ConnectionLogPublished(d.bucket, key)
	}
	return nil
}
