package harness

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/harness/containers"
)

// Environment variables of the kong target.
const (
	// KongImageEnv names the Kong image to certify.
	KongImageEnv = "MTLSGATE_KONG_IMAGE"
	// DefaultKongImage is the image certified when KongImageEnv is unset.
	DefaultKongImage = "kong/kong-gateway:3.10"
	// PostgresImageEnv names the database image real Kong needs for a writable Admin API.
	PostgresImageEnv = "MTLSGATE_POSTGRES_IMAGE"
	// DefaultPostgresImage is the database image used when PostgresImageEnv is unset.
	DefaultPostgresImage = "postgres:16-alpine"
	// LicenseEnv is Kong Enterprise's license; mtls-auth is an Enterprise plugin.
	LicenseEnv = "KONG_LICENSE_DATA"
)

// KongTargetImpl certifies a real Kong Gateway image, configured through the same Admin API
// driver as the reference. Images are never pulled: the image must be on the Docker engine.
type KongTargetImpl struct {
	engine engineOnce
	ups    kongUpstreams
}

// Name implements Target.
func (*KongTargetImpl) Name() string { return "kong" }

// image is the Kong image the run certifies.
func (*KongTargetImpl) image() string {
	if v := os.Getenv(KongImageEnv); v != "" {
		return v
	}
	return DefaultKongImage
}

// Claims implements Target: real Kong claims the Kong behaviours that are Kong's own, by
// allow-list (kongOwnBehaviours), not mtlsgate's rules; without a license, not the behaviours of
// the Enterprise mtls-auth plugin. None of them has been proven against a real Kong image yet:
// Provenance says so in the report.
func (t *KongTargetImpl) Claims(id catalog.ID) (bool, string) { return t.claims(catalog.Lookup, id) }

func (t *KongTargetImpl) claims(lookup lookupFunc, id catalog.ID) (bool, string) {
	b, ok := lookup(id)
	if ok && b.Profile != catalog.Kong {
		return false, "Kong implements the kong profile only"
	}
	if ok && (b.Feature == catalog.MTLSAuth || b.Feature == catalog.ACL || b.Feature == catalog.Revocation) && os.Getenv(LicenseEnv) == "" && !t.isReference() {
		return false, "mtls-auth is a Kong Enterprise plugin: set " + LicenseEnv + " to certify it"
	}
	return allowList(lookup, t.Name(), id, kongOwnBehaviours(), mtlsgateRules())
}

// Provenance implements conformance.Provenancer: which of the claimed behaviours a run against a
// real Kong image has proven (none so far) and which rest on Kong's docs and tests alone.
func (t *KongTargetImpl) Provenance() string {
	var claimed []catalog.ID
	for _, b := range catalog.ByProfile(catalog.Kong) {
		if ok, _ := t.Claims(b.ID); ok {
			claimed = append(claimed, b.ID)
		}
	}
	return KongProvenance(claimed)
}

// isReference reports whether the image is mtlsgate's own (the CI's stand-in for Kong).
func (t *KongTargetImpl) isReference() bool {
	return strings.HasPrefix(t.image(), containers.ImageRepo+":")
}

// Supports implements Target.
func (*KongTargetImpl) Supports(f catalog.Feature) (bool, string) {
	if f == catalog.READMEReplay {
		return false, "the README walkthroughs use mtlsgate's own binaries"
	}
	return true, ""
}

// StartKong implements KongTarget: the upstream containers, then Kong. A Kong image runs against
// a PostgreSQL container (migrations bootstrapped first); mtlsgate's image keeps its entities in
// memory and needs none.
func (t *KongTargetImpl) StartKong(ctx context.Context, setup KongSetup) (*KongSystem, error) {
	eng, err := t.engine.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("start kong: %w", err)
	}
	ref := t.image()
	ok, labels, err := eng.HasImage(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("start kong: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("start kong: the Kong image %s (%s) is not on this Docker engine, and mtlsgate never pulls: "+
			"run `docker pull %s` where a registry is reachable, or load a saved copy (`docker save -o kong.tar %s` there, "+
			"`docker load -i kong.tar` here), or set %s to a Kong image this engine has", ref, imageSource(KongImageEnv), ref, ref, KongImageEnv)
	}
	gw := gatewayImage{ref: ref, reference: labels[containers.ReferenceLabel] == "true", version: "kong (" + ref + ")",
		env: map[string]string{}}
	if v := os.Getenv(LicenseEnv); v != "" {
		gw.env[LicenseEnv] = v
	}
	if gw.reference {
		mtlsgateImage, err := eng.MtlsgateImage(ctx)
		if err != nil {
			return nil, fmt.Errorf("start kong: %w", err)
		}
		return startContainerKong(ctx, eng, &t.ups, mtlsgateImage, setup, gw, nil)
	}
	pg := os.Getenv(PostgresImageEnv)
	if pg == "" {
		pg = DefaultPostgresImage
	}
	if ok, _, err := eng.HasImage(ctx, pg); err != nil || !ok {
		if err != nil {
			return nil, fmt.Errorf("start kong: %w", err)
		}
		return nil, fmt.Errorf("start kong: real Kong needs PostgreSQL for a writable Admin API, and the image %s (%s) is not on this Docker engine: "+
			"run `docker pull %s` where a registry is reachable, or load a saved copy (`docker save -o postgres.tar %s` there, "+
			"`docker load -i postgres.tar` here), or set %s to a PostgreSQL image this engine has", pg, imageSource(PostgresImageEnv), pg, pg, PostgresImageEnv)
	}
	// Only now the (slower) mtlsgate build: a missing Kong or PostgreSQL image fails in seconds.
	mtlsgateImage, err := eng.MtlsgateImage(ctx)
	if err != nil {
		return nil, fmt.Errorf("start kong: %w", err)
	}
	return startContainerKong(ctx, eng, &t.ups, mtlsgateImage, setup, gw, func(ctx context.Context, nw *containers.Network, alias string) (map[string]string, func(context.Context) error, error) {
		return startKongDatabase(ctx, nw, pg, alias, gw)
	})
}

// startKongDatabase starts a PostgreSQL container for one Kong gateway and runs `kong migrations
// bootstrap` against it; it returns the gateway's database settings and how to stop the database.
func startKongDatabase(ctx context.Context, nw *containers.Network, image, gatewayAlias string, gw gatewayImage) (map[string]string, func(context.Context) error, error) {
	dbAlias := gatewayAlias + "-database"
	db, err := nw.Start(ctx, containers.Request{
		Image: image, Alias: dbAlias, Env: map[string]string{"POSTGRES_USER": "kong", "POSTGRES_PASSWORD": "kong", "POSTGRES_DB": "kong"},
		Ports: []string{"5432/tcp"}, Wait: wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
	})
	var stop func(context.Context) error
	if db != nil {
		stop = db.Terminate
	}
	if err != nil {
		return nil, stop, err
	}
	settings := map[string]string{"KONG_DATABASE": "postgres", "KONG_PG_HOST": dbAlias, "KONG_PG_USER": "kong", "KONG_PG_PASSWORD": "kong"}
	migrate, err := nw.Start(ctx, containers.Request{
		Image: gw.ref, Alias: gatewayAlias + "-migrations", Env: mergeEnv(gw.env, settings),
		Cmd: []string{"kong", "migrations", "bootstrap"}, Wait: wait.ForExit(),
	})
	if err == nil {
		var code int
		if code, err = migrate.ExitCode(ctx); err == nil && code != 0 {
			err = fmt.Errorf("exit status %d:\n%s", code, migrate.Logs(ctx))
		}
	}
	if migrate != nil {
		_ = migrate.Terminate(context.Background())
	}
	if err != nil {
		return nil, stop, fmt.Errorf("kong migrations bootstrap: %w", err)
	}
	return settings, stop, nil
}

// imageSource says where an image name came from, for error messages.
func imageSource(env string) string {
	if os.Getenv(env) != "" {
		return "set by " + env
	}
	return "the default; set " + env + " to choose another"
}

func mergeEnv(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
