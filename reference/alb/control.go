package alb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/mtlsgate/mtlsgate/internal/controlapi"
)

// The paths of `serve alb --status-listen`'s control API, for its server (cmd/mtlsgate) and
// ControlClient alike.
const (
	ControlPathTargetHealth      = "/target-health"
	ControlPathConnectionLog     = "/connection-log"
	ControlPathConnectionLogFile = "/connection-log/file"
	ControlPathConfig            = "/config"
	ControlPathRestart           = "/restart"
)

// ControlClient is a typed client of `serve alb`'s control API, for harnesses that run the
// emulator as a process or a container.
type ControlClient struct {
	controlapi.Client
}

// Apply posts a whole configuration; the emulator refuses a bad one with its error and keeps
// the running one.
func (c *ControlClient) Apply(ctx context.Context, cfg Config) error {
	yml, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("apply ALB configuration: render it: %w", err)
	}
	_, err = c.Do(ctx, "POST", ControlPathConfig, "application/yaml", yml)
	return err
}

// Restart posts a whole configuration and has the emulator stop its load balancer and start a
// new one from it, as a new process would (nothing carried over, the connection log emptied), so
// a harness can reuse one container for many systems; a configuration that does not load is
// refused with the emulator's error and changes nothing.
func (c *ControlClient) Restart(ctx context.Context, cfg Config) error {
	yml, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("restart ALB: render the configuration: %w", err)
	}
	_, err = c.Do(ctx, "POST", ControlPathRestart, "application/yaml", yml)
	return err
}

// TargetHealth is DescribeTargetHealth for one target group.
func (c *ControlClient) TargetHealth(ctx context.Context, group string) ([]TargetHealth, error) {
	b, err := c.Do(ctx, "GET", ControlPathTargetHealth+"?group="+url.QueryEscape(group), "", nil)
	if err != nil {
		return nil, err
	}
	var hs []TargetHealth
	if err := json.Unmarshal(b, &hs); err != nil {
		return nil, fmt.Errorf("target health of %q: decode the answer: %w", group, err)
	}
	return hs, nil
}

// ConnectionLogFile is the content of the file ConnectionLogs.Path names.
func (c *ControlClient) ConnectionLogFile(ctx context.Context) ([]byte, error) {
	return c.Do(ctx, "GET", ControlPathConnectionLogFile, "", nil)
}

// FollowConnectionLog streams the connection log, from its first kept line on, until ctx ends;
// the caller closes it. The client's timeout must not cut it short.
func (c *ControlClient) FollowConnectionLog(ctx context.Context) (io.ReadCloser, error) {
	return c.Open(ctx, "GET", ControlPathConnectionLog+"?follow=true", "", nil)
}
