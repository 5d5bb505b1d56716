package harness

import (
	"testing"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// TestExternalALBWithNamedResourcesClaimsTheAPI: with region, listener, trust store and bucket
// named, profile alb claims A-API-1 too and supports the ELBv2 API, but still takes no scenario.
func TestExternalALBWithNamedResourcesClaimsTheAPI(t *testing.T) {
	c := &ExternalConfig{Profile: "alb"}
	c.ALB.ListenerURL = "https://127.0.0.1:9445/"
	c.ALB.Clients.Good = ExternalPair{Cert: "c.crt", Key: "c.key"}
	c.ALB.Region, c.ALB.ListenerArn, c.ALB.TrustStoreArn = "eu-west-1", "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/x/1/2", "arn:aws:elasticloadbalancing:eu-west-1:1:truststore/t/3"
	if err := c.validate(); err == nil {
		t.Fatal("a listener and trust store without a bucket validated")
	}
	c.ALB.Bucket = "my-bucket"
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	target := &ExternalTarget{conf: c}
	target.once.Do(func() {})
	for _, id := range []catalog.ID{"A-MODE-3", "A-API-1"} {
		if ok, why := target.Claims(id); !ok {
			t.Errorf("%s not claimed: %s", id, why)
		}
	}
	if ok, _ := target.Claims("A-TS-1"); ok {
		t.Error("A-TS-1 claimed: its specs start their own scenario")
	}
	if ok, why := target.Supports(catalog.ELBv2API); !ok {
		t.Errorf("the ELBv2 API is not supported: %s", why)
	}
	if ok, _ := target.Supports(catalog.ALBConfig); ok {
		t.Error("the external ALB takes the suite's scenarios")
	}
}
