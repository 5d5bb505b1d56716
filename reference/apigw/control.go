package apigw

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mtlsgate/mtlsgate/internal/controlapi"
)

// ControlPathDomains is where `serve apigw --status-listen`'s control API reads (GET) and
// replaces (PUT) the custom domain names.
const ControlPathDomains = "/domains"

// ControlClient is a typed client of `serve apigw`'s control API.
type ControlClient struct {
	controlapi.Client
}

// SetDomains replaces the custom domain names and their API mappings; a refused list changes
// nothing.
func (c *ControlClient) SetDomains(ctx context.Context, ds []Domain) error {
	if ds == nil {
		ds = []Domain{}
	}
	body, err := json.Marshal(ds)
	if err != nil {
		return fmt.Errorf("set apigw domains: %w", err)
	}
	_, err = c.Do(ctx, "PUT", ControlPathDomains, "application/json", body)
	return err
}
