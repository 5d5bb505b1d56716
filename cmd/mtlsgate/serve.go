package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/kong"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("serve: say what to serve: mtlsgate serve upstream | kong | alb | apigw")
	}
	if isHelp(args[0]) {
		_, err := io.WriteString(stdout, serveUsage)
		return err
	}
	switch args[0] {
	case "upstream":
		return serveUpstream(ctx, args[1:], stdout, stderr)
	case "kong":
		return serveKong(ctx, args[1:], stdout, stderr)
	case "apigw":
		return serveAPIGW(ctx, args[1:], stdout, stderr)
	case "alb":
		return serveALB(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("serve: unknown server %q (use upstream, kong, alb or apigw)", args[0])
}

// serveUsage is "mtlsgate serve --help".
const serveUsage = `usage: mtlsgate serve <server> [flags]

servers:
  upstream  an echo upstream (HTTP and HTTPS), optionally demanding client certificates
  kong      the Kong-compatible reference gateway (kong.conf, Admin API, DB-less kong.yml)
  alb       the ALB emulator (a YAML ELBv2-shaped configuration)
  apigw     the private API Gateway stand-in (the PetStore API behind custom domains)

Run "mtlsgate serve <server> -h" for a server's flags.
`

func serveUpstream(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve upstream", stderr)
	httpAddr := fs.String("http", "127.0.0.1:8080", `plain HTTP listen address ("" for none)`)
	httpsAddr := fs.String("https", "", `HTTPS listen address ("" for none); needs --cert and --key`)
	certFile := fs.String("cert", "", "server certificate for HTTPS (PEM, the chain may follow the leaf)")
	keyFile := fs.String("key", "", "private key of --cert (PEM)")
	clientCA := fs.String("client-ca", "", "demand a client certificate issued by these CAs (PEM bundle), as nginx's ssl_verify_client on")
	name := fs.String("name", "echo", "name reported in every response as \"upstream\"")
	crlDir := fs.String("crl-dir", "", "also serve the CRLs of this `directory` (written by mtlsgate pki) at /<issuer>.crl (a CRL distribution point)")
	ocspDir := fs.String("ocsp-dir", "", "also answer OCSP at /ocsp/<issuer> for the CAs of this `directory` (written by mtlsgate pki), revoking what their CRLs revoke")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := upstream.Config{HTTPAddr: *httpAddr, HTTPSAddr: *httpsAddr, Name: *name}
	if *ocspDir != "" {
		o, err := upstream.OCSPFromDir(*ocspDir)
		if err != nil {
			return fmt.Errorf("serve upstream: --ocsp-dir: %w", err)
		}
		cfg.OCSP = o
	}
	if *crlDir != "" {
		crl, err := upstream.CRLsFromDir(*crlDir)
		if err != nil {
			return fmt.Errorf("serve upstream: --crl-dir: %w", err)
		}
		cfg.CRL = crl
	}
	if *httpsAddr != "" {
		if *certFile == "" || *keyFile == "" {
			return errors.New("serve upstream: --https needs --cert and --key")
		}
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("serve upstream: load --cert %q and --key %q: %w", *certFile, *keyFile, err)
		}
		cfg.Certificate = &pair
	}
	if *clientCA != "" {
		if *httpsAddr == "" {
			return errors.New("serve upstream: --client-ca needs an HTTPS listener (--https)")
		}
		pem, err := os.ReadFile(*clientCA)
		if err != nil {
			return fmt.Errorf("serve upstream: read --client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("serve upstream: --client-ca %q holds no PEM certificate", *clientCA)
		}
		cfg.ClientCAs = pool
	}
	s, err := upstream.Start(ctx, cfg)
	if err != nil {
		return err
	}
	for _, u := range []string{s.HTTPURL(), s.HTTPSURL()} {
		if u != "" {
			fmt.Fprintf(stdout, "echo upstream %q listening on %s\n", *name, u)
		}
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Close(shutdown)
}

// adminTokenEnv and adminHostsEnv name the environment variables that set serve kong's
// --admin-token and --admin-hosts.
const (
	adminTokenEnv = "MTLSGATE_ADMIN_TOKEN"
	adminHostsEnv = "MTLSGATE_ADMIN_HOSTS"
)

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func serveKong(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve kong", stderr)
	confPath := fs.String("conf", "", "kong.conf to read (Kong's defaults when empty); KONG_* environment variables override it")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	adminHosts := fs.String("admin-hosts", "", "comma-separated host names the Admin API answers to besides IP addresses and localhost (or set "+adminHostsEnv+"); any other Host is refused")
	token := fs.String("admin-token", "", "require this token in every Admin API request's Kong-Admin-Token header (or set "+adminTokenEnv+", which keeps it out of the process list)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		*token = os.Getenv(adminTokenEnv)
	}
	hosts := *adminHosts
	if hosts == "" {
		hosts = os.Getenv(adminHostsEnv)
	}
	log, err := logger(stderr, *level)
	if err != nil {
		return err
	}
	conf, err := kongconf.Load(*confPath, os.Environ())
	if err != nil {
		return fmt.Errorf("serve kong: %w", err)
	}
	g, err := kong.New(kong.Options{Config: conf, Log: log, AdminToken: *token, AdminHosts: splitList(hosts)})
	if err != nil {
		return fmt.Errorf("serve kong: %w", err)
	}
	if err := g.Start(ctx); err != nil {
		return fmt.Errorf("serve kong: %w", err)
	}
	for _, l := range []struct {
		what, role string
		ssl        bool
	}{{"proxy", "proxy", false}, {"proxy (TLS)", "proxy", true}, {"admin", "admin", false}, {"admin (TLS)", "admin", true}, {"status", "status", false}} {
		if u := g.URL(l.role, l.ssl); u != "" {
			fmt.Fprintf(stdout, "kong %-12s %s\n", l.what, u)
		}
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return g.Close(shutdown)
}
