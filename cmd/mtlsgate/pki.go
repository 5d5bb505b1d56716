package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

func runPKI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pki", stderr)
	out := fs.String("out", "", "directory to write the PEM files and manifest.json into (required)")
	seed := fs.Int64("seed", 0, "derive every key from this seed: the same seed gives byte-identical files")
	crlURL := fs.String("crl-base-url", "", "put <url>/<issuer>.crl into client certificates' CRL distribution point")
	ocspURL := fs.String("ocsp-base-url", "", "put <url>/ocsp/<issuer> into the same client certificates' OCSP responder (Authority Information Access)")
	hosts := fs.String("hosts", "", "extra DNS names for the server and upstream certificates, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("pki: --out is required (the directory to write into)")
	}
	opts := fixtures.Options{CRLBaseURL: strings.TrimSuffix(*crlURL, "/"), OCSPBaseURL: strings.TrimSuffix(*ocspURL, "/")}
	seeded := false
	fs.Visit(func(f *flag.Flag) { seeded = seeded || f.Name == "seed" })
	if seeded {
		opts.Seed = seed
	}
	if *hosts != "" {
		opts.ExtraHosts = strings.Split(*hosts, ",")
	}
	p, err := fixtures.Generate(ctx, opts)
	if err != nil {
		return err
	}
	if err := p.WriteDir(*out); err != nil {
		return err
	}
	m := p.Manifest()
	_, err = fmt.Fprintf(stdout, "wrote %d identities and CRLs to %s (see %s/manifest.json)\n", len(m.Identities), *out, *out)
	return err
}
