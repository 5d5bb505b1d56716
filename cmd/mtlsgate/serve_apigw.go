package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/controlapi"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
)

// domainFlags collects repeated --domain name[=basepath] values.
type domainFlags []string

func (d *domainFlags) String() string { return strings.Join(*d, ",") }

func (d *domainFlags) Set(v string) error {
	if v == "" {
		return errors.New("empty: use --domain api.example.test or --domain api.example.test=v1")
	}
	*d = append(*d, v)
	return nil
}

// serveAPIGW runs the private API Gateway stand-in (SPEC A-APIGW-1) from apigw.yaml, flags, or
// both (flags win over the file; --domain mappings are added to the file's).
func serveAPIGW(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve apigw", stderr)
	confPath := fs.String("config", "", "apigw.yaml to read (listen, cert, key, domains with mappings); SIGHUP re-reads its domains")
	listen := fs.String("listen", "127.0.0.1:8444", "HTTPS listen address (TLS 1.2 only)")
	certFile := fs.String("cert", "", "certificate of the custom domain names (PEM, the chain may follow the leaf)")
	keyFile := fs.String("key", "", "private key of --cert (PEM)")
	stage := fs.String("stage", "prod", "stage the --domain mappings point at")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	status := addStatusFlags(fs, "GET /status/ready, GET /domains and PUT /domains (a JSON list of {Name, Mappings: [{BasePath, Stage, API}]}, the --domain mappings added; "+
		"204, or 400 with the error and the domains kept; Content-Type application/json).")
	var domains domainFlags
	fs.Var(&domains, "domain", "custom domain name mapped to the PetStore API: `name[=basepath]` (repeatable; no basepath = root mapping)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve apigw: unexpected argument %q (flags only)", fs.Arg(0))
	}
	log, err := logger(stderr, *level)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	file := apigw.File{Listen: *listen}
	if *confPath != "" {
		if file, err = apigw.ReadFile(*confPath); err != nil {
			return fmt.Errorf("serve apigw: --config: %w", err)
		}
		if file.Listen == "" || set["listen"] {
			file.Listen = *listen
		}
	}
	if set["cert"] {
		file.Cert = *certFile
	}
	if set["key"] {
		file.Key = *keyFile
	}
	if file.Cert == "" || file.Key == "" {
		return errors.New("serve apigw: no certificate: set --cert and --key (or cert and key in --config), e.g. server.crt and server.key from `mtlsgate pki`")
	}
	pair, err := tls.LoadX509KeyPair(file.Cert, file.Key)
	if err != nil {
		return fmt.Errorf("serve apigw: load certificate %q and key %q: %w", file.Cert, file.Key, err)
	}
	flagDomains := func(ds []apigw.Domain) []apigw.Domain { return addDomainFlags(ds, domains, *stage) }
	cfg := apigw.Config{Addr: file.Listen, Certificate: pair, Domains: flagDomains(file.DomainsOf()), Log: log}
	s, err := apigw.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("serve apigw: %w", err)
	}
	ctl, err := status.listen(ctx, apigwControl(s, flagDomains, log), log)
	if err != nil {
		_ = s.Close(context.Background())
		return fmt.Errorf("serve apigw: %w", err)
	}
	if ctl != nil {
		defer func() {
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = ctl.Close(shutdown)
		}()
		fmt.Fprintf(stdout, "apigw control %s\n", ctl.URL())
	}
	hup := make(chan os.Signal, 1)
	if *confPath != "" {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	fmt.Fprintf(stdout, "apigw listening on %s (TLS 1.2 only)\n", s.URL())
	printDomains(stdout, s.Domains())
	for {
		select {
		case <-hup:
			if err := reloadDomains(s, *confPath, flagDomains); err != nil {
				log.Error("reload kept the last good domains", "err", err)
				continue
			}
			log.Info("reloaded domains", "config", *confPath)
			printDomains(stdout, s.Domains())
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return s.Close(shutdown)
		}
	}
}

// maxDomainsBody bounds a PUT /domains body.
const maxDomainsBody = 1 << 20

// apigwControl is the control API of --status-listen: readiness and the custom domain names.
func apigwControl(s *apigw.Server, withFlags func([]apigw.Domain) []apigw.Domain, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+controlapi.PathReady, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ready":true}`+"\n")
	})
	mux.HandleFunc("GET "+apigw.ControlPathDomains, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Domains())
	})
	mux.HandleFunc("PUT "+apigw.ControlPathDomains, func(w http.ResponseWriter, req *http.Request) {
		var ds []apigw.Domain
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxDomainsBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ds); err != nil {
			http.Error(w, fmt.Sprintf("domains: %v (send a JSON list of {\"Name\": ..., \"Mappings\": [{\"BasePath\", \"Stage\", \"API\"}]})", err), http.StatusBadRequest)
			return
		}
		if err := s.SetDomains(withFlags(ds)); err != nil {
			log.Error("domains from the control API refused; the last good domains stay", "err", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Info("domains replaced", "trigger", "control API")
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// reloadDomains re-reads the domains of path; a bad file changes nothing.
func reloadDomains(s *apigw.Server, path string, withFlags func([]apigw.Domain) []apigw.Domain) error {
	f, err := apigw.ReadFile(path)
	if err != nil {
		return err
	}
	return s.SetDomains(withFlags(f.DomainsOf()))
}

// addDomainFlags adds one mapping per --domain name[=basepath] to ds, merging into a domain of
// the same name so one name can carry several base paths.
func addDomainFlags(ds []apigw.Domain, flags []string, stage string) []apigw.Domain {
	out := make([]apigw.Domain, len(ds))
	copy(out, ds)
	for _, v := range flags {
		name, base, _ := strings.Cut(v, "=")
		m := apigw.Mapping{BasePath: base, Stage: stage, API: apigw.APIPetStore}
		i := len(out)
		for j, d := range out {
			if strings.EqualFold(d.Name, name) {
				i = j
				break
			}
		}
		if i == len(out) {
			out = append(out, apigw.Domain{Name: name})
		}
		out[i].Mappings = append(append([]apigw.Mapping(nil), out[i].Mappings...), m)
	}
	return out
}

func printDomains(w io.Writer, ds []apigw.Domain) {
	if len(ds) == 0 {
		fmt.Fprintln(w, "  no custom domain names: every request is 403 {\"message\":\"Forbidden\"}")
	}
	for _, d := range ds {
		if len(d.Mappings) == 0 {
			fmt.Fprintf(w, "  %s: no API mappings (403 Forbidden)\n", d.Name)
		}
		for _, m := range d.Mappings {
			base := m.BasePath
			if base == apigw.RootBasePath {
				base = ""
			}
			fmt.Fprintf(w, "  https://%s/%s -> %s stage %s\n", d.Name, base, m.API, m.Stage)
		}
	}
}
