// Package elbv2api is the ALB emulator's AWS endpoint: the ELBv2 Query API (2015-12-01) for load
// balancers, target groups, listeners with mutual TLS, listener attributes, trust stores and
// their revocations and security policies, with the S3 object calls and ACM certificate calls
// those depend on, all on one HTTP endpoint as the AWS CLI and SDKs reach it with
// --endpoint-url. Every listener created through it is served by reference/alb; the ALB's rules
// and messages come from there.
package elbv2api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// Options configure the endpoint.
type Options struct {
	// Region and AccountID appear in ARNs; defaults us-east-1 and 000000000000.
	Region, AccountID string
	// StateDir, when set, keeps what the API created across restarts; empty keeps it in a
	// temporary directory removed by Close.
	StateDir string
	// ListenerAddress is where created listeners bind (default 127.0.0.1), on their own port.
	ListenerAddress string
	// Credentials, when set, make the endpoint verify each request's SigV4 signature against
	// this key pair; otherwise any credentials are accepted, as local emulators do.
	Credentials *Credentials
	// ALB are the options every listener's emulator runs with (log, connection log, clock).
	ALB alb.Options
	// HealthCheckSecond is emulator-only: how long one second of a target group's health-check
	// interval and timeout lasts (zero: a second). A test harness shortens it, so ALB's 5-second
	// minimum interval takes milliseconds; the API still takes and shows ALB's whole seconds.
	HealthCheckSecond time.Duration
	// ConnectionLogInterval is how often the connection logs of load balancers with
	// connection_logs.s3.enabled are written to their bucket; zero means ALB's 5 minutes. A
	// test harness shortens it (emulator-only).
	ConnectionLogInterval time.Duration
	// ConnectionLogPublished, when set, is called after each connection-log object is written to
	// its bucket, so a test waits on the publish instead of polling S3 (emulator-only).
	ConnectionLogPublished func(bucket, key string)
	// Log receives the endpoint's own diagnostics; nil discards them.
	Log *slog.Logger
}

// Credentials are an access key pair the endpoint verifies signatures with.
type Credentials struct {
	AccessKeyID, SecretAccessKey string
}

// Limits on what one request may carry.
const (
	// MaxQueryBody bounds an ELBv2 or ACM request body.
	MaxQueryBody = 1 << 20
	// MaxObjectSize bounds one S3 object (a CA bundle is at most 400 KB; CRLs of 500,000
	// entries fit).
	MaxObjectSize = 64 << 20
)

// Server is a running endpoint. Calls that change something are serialised; each works on a
// copy of the model, applies it to the running listeners, writes it durably and only then
// answers, so an acknowledged change survives a crash and a refused one changes nothing.
type Server struct {
	opts  Options
	store *store

	mu        sync.Mutex // serialises changes and the running listeners
	m         *model     // the live model; replaced whole, never mutated in place
	instances map[string]*instance
	closed    bool
	tmpDir    string
	sinks     map[string]*connLogSink // by load balancer ARN
	// stopPublisher ends the connection-log publisher; published is closed once it has.
	stopPublisher context.CancelFunc
	published     chan struct{}
}

// instance is one listener's running emulator and the configuration it was started with.
type instance struct {
	lb  *alb.ALB
	cfg alb.Config
}

// New loads the state (when Options.StateDir holds one) and starts its listeners.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.ListenerAddress == "" {
		opts.ListenerAddress = "127.0.0.1"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.ConnectionLogInterval <= 0 {
		opts.ConnectionLogInterval = DefaultConnectionLogInterval
	}
	s := &Server{opts: opts, instances: map[string]*instance{}, sinks: map[string]*connLogSink{}}
	if opts.StateDir != "" {
		if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("ELBv2 API: state directory: %w", err)
		}
		s.store = &store{dir: opts.StateDir, persist: true}
	} else {
		dir, err := os.MkdirTemp("", "mtlsgate-elbv2-")
		if err != nil {
			return nil, fmt.Errorf("ELBv2 API: temporary directory: %w", err)
		}
		s.tmpDir = dir
		s.store = &store{dir: dir}
	}
	m, err := s.store.load()
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("ELBv2 API: %w", err)
	}
	if err := s.sync(ctx, m); err != nil {
		s.stopAll()
		s.cleanup()
		return nil, fmt.Errorf("ELBv2 API: start the listeners of %s: %w", opts.StateDir, err)
	}
	s.m = m
	pctx, cancel := context.WithCancel(context.Background())
	s.stopPublisher, s.published = cancel, make(chan struct{})
	go func() {
		defer close(s.published)
		s.publishConnLogs(pctx, opts.ConnectionLogInterval)
	}()
	return s, nil
}

// Close stops every listener the API started. ctx bounds the wait for in-flight requests.
func (s *Server) Close(ctx context.Context) error {
	if s.stopPublisher != nil {
		s.stopPublisher()
		<-s.published
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for arn, in := range s.instances {
		errs = append(errs, in.lb.Close(ctx))
		delete(s.instances, arn)
	}
	s.cleanup()
	return errors.Join(errs...)
}

func (s *Server) stopAll() {
	for arn, in := range s.instances {
		_ = in.lb.Close(context.Background())
		delete(s.instances, arn)
	}
}

func (s *Server) cleanup() {
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

// snapshot is the live model, for reads; it is never mutated.
func (s *Server) snapshot() *model {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m
}

// change runs fn on a copy of the model; on success the copy is applied to the listeners and
// saved, then becomes the live model. On any error nothing changes.
func (s *Server) change(ctx context.Context, fn func(m *model) *apiError) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "the endpoint is shutting down"}
	}
	next := s.m.clone()
	if err := fn(next); err != nil {
		return err
	}
	if err := s.sync(ctx, next); err != nil {
		if rerr := s.sync(context.Background(), s.m); rerr != nil {
			s.opts.Log.Error("elbv2api: restoring the listeners after a refused change failed", "err", rerr)
		}
		var ae *apiError
		if errors.As(err, &ae) {
			return ae
		}
		return fault("InvalidConfigurationRequest", "%v", err)
	}
	if err := s.store.save(next); err != nil {
		if rerr := s.sync(context.Background(), s.m); rerr != nil {
			s.opts.Log.Error("elbv2api: restoring the listeners after a failed save failed", "err", rerr)
		}
		return &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	s.m = next
	return nil
}

// sync makes the running listeners match m: new ones start, changed ones reload (new
// connections see the change, established ones keep theirs), a port change rebinds, removed
// ones stop. It stops at the first error.
func (s *Server) sync(ctx context.Context, m *model) error {
	for arn, l := range m.Listeners {
		cfg, err := s.albConfig(m, l)
		if err != nil {
			return err
		}
		in := s.instances[arn]
		switch {
		case in != nil && reflect.DeepEqual(in.cfg, cfg):
		case in != nil && in.cfg.Listeners[0].Port == cfg.Listeners[0].Port:
			if err := in.lb.Reload(ctx, cfg); err != nil {
				return fault("InvalidConfigurationRequest", "listener %s: %v", arn, err)
			}
			in.cfg = cfg
		default:
			if in != nil {
				s.stop(arn)
			}
			opts := s.opts.ALB
			if opts.ConnectionLog != nil {
				opts.ConnectionLog = io.MultiWriter(opts.ConnectionLog, s.sink(l.LoadBalancerArn))
			} else {
				opts.ConnectionLog = s.sink(l.LoadBalancerArn)
			}
			lb, err := alb.Start(ctx, cfg, opts)
			if err != nil {
				return fault("InvalidConfigurationRequest", "listener %s: %v (the emulator binds %s:%d; choose a free port, above 1023 unless it runs as root)",
					arn, err, s.opts.ListenerAddress, l.Port)
			}
			s.instances[arn] = &instance{lb: lb, cfg: cfg}
		}
	}
	for arn := range s.instances {
		if m.Listeners[arn] == nil {
			s.stop(arn)
		}
	}
	s.setConnLogDests(m)
	return nil
}

// stop closes a listener; in-flight requests get a few seconds to finish.
func (s *Server) stop(arn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.instances[arn].lb.Close(ctx); err != nil {
		s.opts.Log.Warn("elbv2api: closing a listener", "listener", arn, "err", err)
	}
	delete(s.instances, arn)
}

// albConfig is the emulator configuration that serves one listener: the listener, its target
// group and its trust store, with blobs as files.
func (s *Server) albConfig(m *model, l *listener) (alb.Config, error) {
	tg := m.TargetGroups[l.TargetGroupArn]
	if tg == nil {
		return alb.Config{}, fault("TargetGroupNotFound", "Target group '%s' not found", l.TargetGroupArn)
	}
	out := alb.Config{}
	if lb := m.LoadBalancers[l.LoadBalancerArn]; lb != nil {
		out.LoadBalancerAttributes = emulatorAttributes(lb.Attributes)
		out.LoadBalancerName, out.LoadBalancerID = lb.Name, lb.Arn[strings.LastIndex(lb.Arn, "/")+1:]
	}
	al := alb.Listener{Address: s.opts.ListenerAddress, Port: l.Port, Protocol: l.Protocol, SslPolicy: l.SslPolicy,
		Attributes: l.Attributes, DefaultActions: []alb.Action{{Type: "forward", TargetGroupArn: tg.Arn}},
		MutualAuthentication: alb.MutualAuthentication{Mode: l.Mutual.Mode, TrustStoreArn: l.Mutual.TrustStoreArn,
			IgnoreClientCertificateExpiry: l.Mutual.IgnoreClientCertificateExpiry, AdvertiseTrustStoreCaNames: l.Mutual.AdvertiseTrustStoreCaNames}}
	for _, arn := range l.Certificates {
		c := m.Certificates[arn]
		if c == nil {
			return alb.Config{}, fault("CertificateNotFound", "Certificate '%s' not found", arn)
		}
		al.Certificates = append(al.Certificates, alb.Certificate{CertificateFile: s.store.blobPath(c.Cert), PrivateKeyFile: s.store.blobPath(c.Key)})
	}
	out.Listeners = []alb.Listener{al}
	if arn := l.Mutual.TrustStoreArn; arn != "" && strings.EqualFold(l.Mutual.Mode, alb.ModeVerify) {
		ts := m.TrustStores[arn]
		if ts == nil {
			return alb.Config{}, fault("TrustStoreNotFound", "Trust store '%s' not found", arn)
		}
		ats := alb.TrustStore{Name: ts.Name, TrustStoreArn: ts.Arn, CaCertificatesBundleFile: s.store.blobPath(ts.Bundle)}
		for _, r := range ts.Revocations {
			ats.RevocationContents = append(ats.RevocationContents, alb.RevocationContents{File: s.store.blobPath(r.Blob), RevocationType: r.Type})
		}
		out.TrustStores = []alb.TrustStore{ats}
	}
	enabled := tg.HealthCheckEnabled
	out.TargetGroups = []alb.TargetGroup{{TargetGroupName: tg.Name, TargetGroupArn: tg.Arn, Protocol: tg.Protocol, Targets: tg.Targets,
		HealthCheckEnabled: &enabled, HealthCheckProtocol: tg.HealthCheckProtocol, HealthCheckPath: tg.HealthCheckPath,
		HealthCheckIntervalSeconds: s.healthCheckSeconds(tg.HealthCheckIntervalSeconds), HealthCheckTimeoutSeconds: s.healthCheckSeconds(tg.HealthCheckTimeoutSeconds),
		HealthyThresholdCount: tg.HealthyThresholdCount, UnhealthyThresholdCount: tg.UnhealthyThresholdCount,
		Matcher: alb.Matcher{HttpCode: tg.Matcher}}}
	return out, nil
}

// emulatorAttributes are the load balancer attributes reference/alb applies: all but the
// connection-log ones, which the endpoint applies itself.
func emulatorAttributes(attrs []alb.Attribute) []alb.Attribute {
	var out []alb.Attribute
	for _, a := range attrs {
		if !isConnLogAttr(a.Key) {
			out = append(out, a)
		}
	}
	return out
}

// healthCheckSeconds is the emulator's length, in seconds, of n health-check seconds.
func (s *Server) healthCheckSeconds(n int) float64 {
	if s.opts.HealthCheckSecond <= 0 {
		return float64(n)
	}
	return float64(n) * s.opts.HealthCheckSecond.Seconds()
}

// targetHealth is DescribeTargetHealth's view of a group: from a listener that forwards to it,
// or "unused" when none does.
func (s *Server) targetHealth(m *model, tg *targetGroup) []alb.TargetHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	for arn, l := range m.Listeners {
		if l.TargetGroupArn != tg.Arn || s.instances[arn] == nil {
			continue
		}
		if hs, err := s.instances[arn].lb.TargetHealth(tg.Arn); err == nil {
			return hs
		}
	}
	out := make([]alb.TargetHealth, len(tg.Targets))
	for i, t := range tg.Targets {
		out[i] = alb.TargetHealth{Id: t.Id, Port: t.Port, State: alb.StateNotInUse, Reason: alb.ReasonNotInUse, Description: alb.DescriptionNotInUse}
	}
	return out
}

// ServeHTTP routes a request to ACM (X-Amz-Target), the ELBv2 Query API or S3, by the service
// its signature names, or by its shape when it is unsigned.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := requestID()
	service := credentialService(r.Header.Get("Authorization"))
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(r.URL.Path, blobPathPrefix):
		s.serveBlob(w, r)
	case target != "" || service == "acm":
		if err := s.verify(r, service); err != nil {
			writeJSONError(w, rid, err)
			return
		}
		s.serveACM(w, r, rid, target)
	case service == "elasticloadbalancing" || (service == "" && isQuery(r)):
		if err := s.verify(r, service); err != nil {
			writeQueryError(w, rid, err)
			return
		}
		s.serveQuery(w, r, rid)
	default:
		if err := s.verify(r, service); err != nil {
			writeS3Error(w, r, rid, err)
			return
		}
		s.serveS3(w, r, rid)
	}
}

// isQuery reports whether an unsigned request looks like a Query API call.
func isQuery(r *http.Request) bool {
	if r.URL.Query().Get("Action") != "" {
		return true
	}
	return r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// readBody reads at most limit bytes; more is an error.
func readBody(r *http.Request, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return nil, true, nil
	}
	return b, false, nil
}
