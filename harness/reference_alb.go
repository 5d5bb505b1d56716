package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// StartALB starts the echo upstream, the API Gateway stand-in and the ALB emulator on loopback
// ports, the emulator writing its connection log to memory.
func (t *ReferenceTarget) StartALB(ctx context.Context, setup ALBSetup) (*ALBSystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start reference alb: ALBSetup.PKI is required")
	}
	var closers cleanups
	stop := closers.run
	fail := func(err error) (*ALBSystem, error) {
		_ = stop(context.Background())
		return nil, fmt.Errorf("start reference alb: %w", err)
	}
	sys, err := startALBUpstreams(ctx, setup, &closers)
	if err != nil {
		return fail(err)
	}
	sys.Version = "mtlsgate " + version.Version
	lb, err := alb.Start(ctx, sys.Resolve(setup.Config), alb.Options{ConnectionLog: sys.log})
	if err != nil {
		return fail(err)
	}
	closers.add(lb.Close)
	sys.ListenerURLs = lb.URLs()
	sys.ClientIP = "127.0.0.1"
	for _, u := range sys.ListenerURLs {
		sys.ListenerPorts = append(sys.ListenerPorts, u[strings.LastIndexByte(u, ':')+1:])
	}
	sys.apply = lb.Reload
	sys.health = lb.TargetHealth
	sys.stop = stop
	return sys, nil
}
