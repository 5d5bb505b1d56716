package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/load/report"
	"github.com/mtlsgate/mtlsgate/load/scenario"
)

// TestShardsAndMergeFromTheCommandLine runs the README's three shards, each from the environment
// an Indexed Job sets, against a gateway on loopback with the identities of a PKI directory, one
// of them revoking a client mid-run through the CRL responder, then merges their logs.
func TestShardsAndMergeFromTheCommandLine(t *testing.T) {
	ctx := context.Background()
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := scenario.StartKong(ctx, harness.Reference(), pki, scenario.KongOptions{CertCacheTTL: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Sys.Stop(context.Background()) })
	certs := t.TempDir()
	if err := pki.WriteDir(certs); err != nil {
		t.Fatal(err)
	}
	crl, err := pki.NewCRL(fixtures.CRLRequest{Name: "crl-midrun", Issuer: fixtures.RootCA, Revoked: []string{fixtures.ClientRevoked, scenario.MidRunIdentity}})
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(t.TempDir(), "revoke-midrun.pem")
	if err := os.WriteFile(crlFile, crl.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	start := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	outs := make([]bytes.Buffer, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			args := []string{"load", "--shard", fmt.Sprintf("%d/3", i), "--start-at", start, "--url", k.URL, "--certs", certs,
				"--population", "valid=6,missing=2,revoked=0,untrusted=1,expired=1,self-signed=0,tls12=0,revoked-midrun=2", "--rate", "30", "--timeout", "30s", "--max-workers", "16",
				"--duration", "6s", "--revoke-at", "1s", "--revoke-crl", crlFile, "--crl-control", k.Sys.CRLBaseURL, "--revoke-grace", "2200ms",
				"--result-stdout", "--out", t.TempDir()}
			errs[i] = run(ctx, args, &outs[i], &outs[i])
		})
	}
	wg.Wait()
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("shard %d: %v\n%s", i, errs[i], outs[i].String())
		}
		if err := os.WriteFile(filepath.Join(results, fmt.Sprintf("shard-%d.log", i)), outs[i].Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	var merged bytes.Buffer
	if err := run(ctx, []string{"load", "merge", "--out", out, results}, &merged, &merged); err != nil {
		t.Fatalf("merge: %v\n%s", err, merged.String())
	}
	for _, want := range []string{"load merge of 3 shards", " 0 violations", "revoke client-midrun", "enforced true", "gate max_violations"} {
		if !strings.Contains(merged.String(), want) {
			t.Errorf("merge output lacks %q:\n%s", want, merged.String())
		}
	}
	var doc report.Document
	b, err := os.ReadFile(filepath.Join(out, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Passed || doc.Result.Requests == 0 || doc.Result.Pacer.Rate != 30 || len(doc.Result.Revocations) != 1 {
		t.Errorf("merged load.json: passed %t, %d requests, pacer %+v, revocations %+v", doc.Passed, doc.Result.Requests, doc.Result.Pacer, doc.Result.Revocations)
	}

	// A shard missing: the merge names what it read and what is missing.
	if err := os.Remove(filepath.Join(results, "shard-1.log")); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"load", "merge", "--out", t.TempDir(), results}, &merged, &merged)
	if err == nil || !strings.Contains(err.Error(), "shard 1/3 missing") {
		t.Errorf("a merge without shard 1: %v", err)
	}
}

func TestShardFlagsAreChecked(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--shard", "3/3", "--url", "https://127.0.0.1:1/", "--certs", "x"}, nil, "between 0 and 2"},
		{[]string{"--shard", "0/3"}, nil, "needs --url"},
		{[]string{"--url", "https://127.0.0.1:1/", "--certs", "x"}, map[string]string{"JOB_COMPLETION_INDEX": "1"}, "MTLSGATE_SHARDS"},
		{[]string{"--shard", "0/2", "--start-at", "tomorrow", "--url", "https://127.0.0.1:1/", "--certs", "x"}, nil, "--start-at"},
		{[]string{"--url", "https://gateway.example:8443/", "--certs", "x"}, nil, "--allow-host"},
		{[]string{"--url", "https://gateway.example:8443/", "--certs", "x", "--allow-host", "https://gateway.example"}, nil, "without scheme"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"load"}, c.args...), &out, &out)
		if err == nil || !strings.Contains(err.Error()+out.String(), c.want) {
			t.Errorf("%v %v: error %v, want %q", c.args, c.env, err, c.want)
		}
		for k := range c.env {
			_ = os.Unsetenv(k)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"load", "merge"}, &out, &out); err == nil || !strings.Contains(err.Error(), "name the shard results") {
		t.Errorf("merge without arguments: %v", err)
	}
}
