package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/mtlsgate/mtlsgate/harness/containers"
	"github.com/mtlsgate/mtlsgate/internal/controlapi"
	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
)

// ALB-profile container layout: listener i of a configuration listens on albListenerPort+i in
// the load balancer's container; the load balancer and the API Gateway stand-in serve their
// control API (serve alb/apigw --status-listen) on containerStatusPort.
const (
	albListenerPort  = 8443
	apigwPort        = "443/tcp"
	albConfigPath    = "/etc/mtlsgate/alb.yaml"
	albAlias         = "alb"
	apigwAlias       = "apigw"
	albControlWait   = 60 * time.Second
	albControlPerReq = 30 * time.Second
)

// StartALB implements ALBTarget: the echo upstream (shared with the Kong profile's systems), the
// API Gateway stand-in and the ALB emulator run as containers on the run's network. The
// configuration the suite gives is rewritten for the container (listeners on fixed container
// ports published on 127.0.0.1, well-known target Ids resolved to network aliases), and every
// file it names is copied into the load balancer's container at the same absolute path, before
// the start and before each Apply; Apply, target health, the connection log and the stand-in's
// domains go through the containers' control APIs, so a refused configuration returns the
// emulator's own error and leaves the running one in force. The load balancer's container
// outlives its system: the next system with as many listeners restarts it from its own
// configuration (a new load balancer, nothing carried over) instead of starting another.
func (t *ReferenceContainerTarget) StartALB(ctx context.Context, setup ALBSetup) (*ALBSystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start reference-container alb: ALBSetup.PKI is required")
	}
	if len(setup.Config.Listeners) == 0 {
		return nil, errors.New("start reference-container alb: ALBSetup.Config.Listeners: at least one listener is needed")
	}
	eng, err := t.engine.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("start %s alb: %w", t.Name(), err)
	}
	img, err := eng.MtlsgateImage(ctx)
	if err != nil {
		return nil, fmt.Errorf("start %s alb: %w", t.Name(), err)
	}
	gwName, err := t.ups.acquire(ctx, eng, img, setup.PKI)
	if err != nil {
		return nil, fmt.Errorf("start %s alb: %w", t.Name(), err)
	}
	stops := []func(context.Context) error{t.ups.release}
	stop := func(ctx context.Context) error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](ctx))
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*ALBSystem, error) {
		_ = stop(context.Background())
		return nil, fmt.Errorf("start %s alb: %w", t.Name(), err)
	}
	// acquire numbers the systems on the shared network; the ALB's containers take the number.
	n := strings.TrimPrefix(gwName, gatewayAlias+"-")
	lbAlias := albAlias + "-" + n
	nw, echo := t.ups.nw, t.ups.echo
	echoTLSURL, err := echo.URL(ctx, "8443/tcp", "https")
	if err != nil {
		return fail(err)
	}

	// The stand-in is shared by the systems of the run (one at a time): each sets its domains.
	gw, gwAlias, freeGW, err := t.ups.acquireAPIGW(ctx, img, n)
	if err != nil {
		return fail(err)
	}
	stops = append(stops, freeGW)
	gwURL, err := gw.URL(ctx, apigwPort, "https")
	if err != nil {
		return fail(err)
	}
	gwControl, err := gw.URL(ctx, containerStatusPort, "http")
	if err != nil {
		return fail(err)
	}
	gwCtl := &apigw.ControlClient{Client: controlapi.Client{Base: gwControl, HTTP: &http.Client{Timeout: albControlPerReq}}}
	// Always set: a shared stand-in still holds the previous system's domains.
	if err := gwCtl.SetDomains(ctx, setup.Domains); err != nil {
		return fail(err)
	}

	sys := &ALBSystem{
		Version: "mtlsgate " + version.Version,
		EchoURL: t.ups.echoURL, EchoTLSURL: echoTLSURL, APIGWURL: gwURL,
		log: &LineBuffer{},
		resolver: map[string]string{
			ALBTargetEcho: echoAlias + ":8080", ALBTargetEchoTLS: echoAlias + ":8443", ALBTargetAPIGW: gwAlias + ":" + strings.TrimSuffix(apigwPort, "/tcp"),
		},
	}
	lbFiles := &albFiles{made: map[string]bool{}}
	first := containerALBConfig(sys.Resolve(setup.Config))
	yml, err := first.Marshal()
	if err != nil {
		return fail(fmt.Errorf("render the ALB configuration: %w", err))
	}
	files, err := lbFiles.of(first)
	if err != nil {
		return fail(err)
	}
	// The load balancer container of an earlier system, when free, is restarted from this
	// configuration (a new load balancer, as a new container would run); otherwise one starts.
	var lb *containers.Container
	var lbControl string
	var ctl *alb.ControlClient
	if kept := t.ups.takeALB(len(first.Listeners)); kept != nil {
		lb = kept.c
		if lbControl, err = lb.URL(ctx, containerStatusPort, "http"); err != nil {
			return fail(errors.Join(err, t.ups.dropALB(context.Background(), kept)))
		}
		ctl = &alb.ControlClient{Client: controlapi.Client{Base: lbControl, HTTP: &http.Client{Timeout: albControlPerReq}}}
		if err := lb.CopyFiles(ctx, files); err != nil {
			return fail(errors.Join(err, t.ups.dropALB(context.Background(), kept)))
		}
		if err := ctl.Restart(ctx, first); err != nil {
			return fail(errors.Join(err, t.ups.dropALB(context.Background(), kept)))
		}
		stops = append(stops, t.ups.freeALB(kept))
	} else {
		ports := []string{containerStatusPort}
		for i := range first.Listeners {
			ports = append(ports, strconv.Itoa(albListenerPort+i)+"/tcp")
		}
		lb, err = nw.Start(ctx, containers.Request{
			Image: img, Alias: lbAlias, Ports: ports,
			Files: append(files, containers.File{Path: albConfigPath, Content: yml}),
			// The container holds only the files the harness copies in, at their host paths: the
			// control API may name any of them.
			Cmd:  []string{"serve", "alb", "--config", albConfigPath, "--watch-interval", "0", "--status-listen", "0.0.0.0:8100", "--control-root", "/"},
			Wait: wait.ForHTTP(controlapi.PathReady).WithPort(containerStatusPort).WithStartupTimeout(albControlWait),
		})
		if err != nil {
			if lb != nil {
				stops = append(stops, lb.Terminate)
			}
			return fail(err)
		}
		stops = append(stops, t.ups.keepALB(lb, len(first.Listeners)))
		if lbControl, err = lb.URL(ctx, containerStatusPort, "http"); err != nil {
			return fail(err)
		}
		ctl = &alb.ControlClient{Client: controlapi.Client{Base: lbControl, HTTP: &http.Client{Timeout: albControlPerReq}}}
	}
	for i := range first.Listeners {
		u, err := lb.URL(ctx, strconv.Itoa(albListenerPort+i)+"/tcp", "https")
		if err != nil {
			return fail(err)
		}
		sys.ListenerURLs = append(sys.ListenerURLs, u)
		sys.ListenerPorts = append(sys.ListenerPorts, strconv.Itoa(albListenerPort+i))
	}
	if sys.ClientIP, err = nw.Gateway(ctx); err != nil {
		return fail(err)
	}
	// The followed log lasts as long as the system: no timeout.
	connLog := &albConnLog{ctl: ctl, follower: &alb.ControlClient{Client: controlapi.Client{Base: lbControl}}, out: sys.log, path: setup.Config.ConnectionLogs.Path}
	followCtx, stopFollow := context.WithCancel(context.Background())
	followed := make(chan struct{})
	go connLog.follow(followCtx, followed)
	stops = append(stops, func(context.Context) error {
		stopFollow()
		<-followed
		return nil
	})
	sys.apply = func(ctx context.Context, cfg alb.Config) error {
		cfg = containerALBConfig(cfg)
		files, err := lbFiles.of(cfg)
		if err != nil {
			return fmt.Errorf("apply ALB configuration: %w", err)
		}
		if err := lb.CopyFiles(ctx, files); err != nil {
			return fmt.Errorf("apply ALB configuration: %w", err)
		}
		if err := ctl.Apply(ctx, cfg); err != nil {
			return err
		}
		connLog.setPath(cfg.ConnectionLogs.Path)
		return nil
	}
	sys.health = func(group string) ([]alb.TargetHealth, error) {
		ctx, cancel := context.WithTimeout(context.Background(), albControlPerReq)
		defer cancel()
		return ctl.TargetHealth(ctx, group)
	}
	sys.domains = func(ds []apigw.Domain) error {
		ctx, cancel := context.WithTimeout(context.Background(), albControlPerReq)
		defer cancel()
		return gwCtl.SetDomains(ctx, ds)
	}
	sys.stop = stop
	return sys, nil
}

// containerALBConfig moves the listeners to their fixed container ports on every address of the
// container (where the published ports arrive).
func containerALBConfig(cfg alb.Config) alb.Config {
	ls := make([]alb.Listener, len(cfg.Listeners))
	copy(ls, cfg.Listeners)
	for i := range ls {
		ls[i].Address, ls[i].Port = "0.0.0.0", albListenerPort+i
	}
	cfg.Listeners = ls
	return cfg
}

// albFiles collects the files a configuration names for the load balancer's container.
type albFiles struct {
	mu   sync.Mutex
	made map[string]bool // connection log files created in the container
}

// of reads every file cfg names (certificates, CA bundles, CRLs) so they can be copied in at the
// same absolute path. A file that cannot be read is left out: the emulator then reports it
// missing, naming the field, as the in-process one does. A connection log file is created
// empty the first time a configuration names it (so its directory exists in the container).
func (a *albFiles) of(cfg alb.Config) ([]containers.File, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []containers.File
	seen := map[string]bool{}
	for _, p := range cfg.Files() {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("file %q: the container target needs absolute file names in the ALB configuration", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		out = append(out, containers.File{Path: p, Content: b})
	}
	if p := cfg.ConnectionLogs.Path; p != "" && !a.made[p] {
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("ConnectionLogs.Path %q: the container target needs an absolute file name", p)
		}
		a.made[p] = true
		out = append(out, containers.File{Path: p})
	}
	return out, nil
}

// albConnLog follows the connection log through the load balancer's control API (GET
// /connection-log?follow=true) into the system's LineBuffer. When the configuration names
// ConnectionLogs.Path, the file the emulator writes in its container is copied out to the same
// path on this host before new lines are handed on, so a suite that has seen a line finds it in
// the file where it asked for it, as with a bind mount.
type albConnLog struct {
	ctl      *alb.ControlClient // bounded calls
	follower *alb.ControlClient // the stream, without a timeout
	out      *LineBuffer

	mu   sync.Mutex
	path string
}

func (l *albConnLog) setPath(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.path = p
}

// follow streams lines until ctx ends or the stream does; done is closed then.
func (l *albConnLog) follow(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	stream, err := l.follower.FollowConnectionLog(ctx)
	if err != nil {
		return
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		p := l.path
		l.mu.Unlock()
		if p != "" {
			if b, err := l.ctl.ConnectionLogFile(ctx); err == nil {
				_ = os.WriteFile(p, b, 0o644)
			}
		}
		_, _ = io.WriteString(l.out, line+"\n")
	}
}
