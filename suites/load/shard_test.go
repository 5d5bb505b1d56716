package load_test

import (
	"context"
	"net/http"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/scenario"
	"github.com/mtlsgate/mtlsgate/load/shard"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// runShards runs p as n shards at once (in this process, sharing a start a moment ahead), writes
// each shard's result file, and merges the files read back: the shard results and the merge.
func runShards(ctx context.Context, p load.Plan, n int) ([]*shard.File, *load.Result) {
	p.StartAt = time.Now().Add(300 * time.Millisecond)
	dir := GinkgoT().TempDir()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer GinkgoRecover()
			f, err := shard.Run(ctx, p, shard.Shard{Index: i, Count: n})
			if err == nil {
				_, err = f.WriteDir(dir)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
	}
	files, names, err := shard.ReadAll([]string{dir})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	merged, err := shard.Merge(files, names)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	AddReportEntry("merged load", map[string]any{"shards": n, "requests": merged.Requests, "violations": merged.Violations, "rate": merged.Rate,
		"p99": merged.Total.Latencies.P99.String()}, ReportEntryVisibilityFailureOrVerbose)
	return files, merged
}

// holds reports whether a shard's result has requests of a class.
func holds(f *shard.File, name string) bool {
	for _, c := range f.Result.Classes {
		if c.Name == name && c.Requests > 0 {
			return true
		}
	}
	return false
}

var _ = Describe("distributed load", Label(conformance.LoadLabel), func() {
	suite.It("L-5", "three shards split rate, bound and population disjointly and merge into their sum; the mid-run revocation is measured in its one shard", func(ctx SpecContext) {
		// A CRL fetch on a machine shared with other suites can be slow; with a short http_timeout,
		// IGNORE_CA_ERROR would then let the revoked client through (a true violation, but not this
		// spec's subject). So: a generous http_timeout (the grace follows it), no other class whose
		// answer hangs on a CRL fetch, and a run long enough for answers after the grace.
		var err error
		kong, err = scenario.ConfigureKong(ctx, sys, pki, scenario.KongOptions{CertCacheTTL: cacheTTL, HTTPTimeout: 4 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		p := plan(map[string]int{scenario.Valid: 6, scenario.RevokedMidRun: 2, scenario.Missing: 2, scenario.Revoked: 0,
			scenario.Untrusted: 0, scenario.Expired: 0, scenario.SelfSigned: 0, scenario.TLS12: 0}, load.KeepAlive, constant(30), 9*time.Second, 270)
		p.Events = []load.Event{kong.RevokeMidRun(time.Second)}
		files, merged := runShards(ctx, p, 3)

		var requests, violations uint64
		perClass := map[string]uint64{}
		var holders []string
		for _, f := range files {
			Expect(f.Pacer.Rate).To(Equal(30.0), "a shard result records the whole attack's pacer")
			Expect(f.Result.Pacer.Rate).To(BeNumerically("~", 10, 0.001), "each shard paces 1/3 of the rate")
			Expect(f.Result.MaxRequests).To(Equal(uint64(90)))
			requests += f.Result.Requests
			violations += f.Result.Violations
			for _, c := range f.Result.Classes {
				perClass[c.Name] += c.Requests
			}
			if holds(f, scenario.RevokedMidRun) {
				holders = append(holders, f.Shard.String())
				Expect(f.Result.Revocations).To(HaveLen(1))
			} else {
				Expect(f.Result.Revocations).To(BeEmpty(), "shard %s revoked a client it does not hold", f.Shard)
			}
		}
		Expect(holders).To(HaveLen(1), "the client revoked mid-run lives in exactly one shard")
		Expect(merged.Requests).To(Equal(requests))
		Expect(merged.Violations).To(Equal(violations))
		for _, c := range merged.Classes {
			Expect(c.Requests).To(Equal(perClass[c.Name]), c.Name)
		}
		Expect(merged.Violations).To(BeZero(), describeViolations(merged))
		Expect(merged.Revocations).To(HaveLen(1))
		rv := merged.Revocations[0]
		AddReportEntry("time to enforce", rv.TimeToEnforce.String(), ReportEntryVisibilityFailureOrVerbose)
		bound := kong.Opts.CertCacheTTL + kong.Opts.HTTPTimeout
		Expect(rv.Enforced).To(BeTrue(), "%+v", rv)
		Expect(rv.TimeToEnforce).To(BeNumerically("<=", bound))
		gates := load.Thresholds{MaxViolations: new(uint64), MaxValidLost: new(uint64), MaxTimeToEnforce: load.Duration(bound)}.Evaluate(merged)
		Expect(load.Passed(gates)).To(BeTrue(), "%+v", gates)
	}, SpecTimeout(90*time.Second))

	suite.It("L-5", "a violation only one shard sees fails the gate judged on the merged totals", func(ctx SpecContext) {
		// The gateway stops refusing client-revoked: a CRL revoking nothing, once its cache
		// has expired.
		none, err := kong.PKI.NewCRL(fixtures.CRLRequest{Name: "crl-none", Issuer: fixtures.RootCA})
		Expect(err).NotTo(HaveOccurred())
		Expect(kong.Sys.CRL.SetCRL(ctx, fixtures.RootCA, none.PEM)).To(Succeed())
		revoked := kong.PKI.Get(fixtures.ClientRevoked).TLSCertificate()
		client := framework.NewClient(framework.ClientOptions{Certificate: &revoked})
		status := func(ctx context.Context) int {
			ctx, cancel := context.WithTimeout(ctx, framework.HandshakeDeadline)
			defer cancel()
			r, err := framework.Get(ctx, client, kong.URL)
			if err != nil {
				return 0
			}
			return r.Status
		}
		Eventually(ctx, status).WithTimeout(10 * time.Second).Should(Equal(http.StatusOK))
		// Afterwards the gateway refuses client-revoked again before the next spec starts: its
		// CRL cache outlives the entities a reset removes.
		DeferCleanup(func(ctx SpecContext) {
			crl, err := kong.PKI.NewCRL(fixtures.CRLRequest{Name: "crl-restored", Issuer: fixtures.RootCA, Revoked: []string{fixtures.ClientRevoked}})
			Expect(err).NotTo(HaveOccurred())
			Expect(kong.Sys.CRL.SetCRL(ctx, fixtures.RootCA, crl.PEM)).To(Succeed())
			Eventually(ctx, status).WithTimeout(10 * time.Second).Should(Equal(http.StatusUnauthorized))
		})

		p := plan(map[string]int{scenario.Valid: 6, scenario.Missing: 1, scenario.Revoked: 1,
			scenario.Untrusted: 0, scenario.Expired: 0, scenario.SelfSigned: 0, scenario.TLS12: 0}, load.KeepAlive, constant(60), 3*time.Second, 240)
		files, merged := runShards(ctx, p, 3)
		seen := 0
		for _, f := range files {
			if holds(f, scenario.Revoked) {
				seen++
				Expect(f.Result.Violations).To(BeNumerically(">", 0))
			} else {
				Expect(f.Result.Violations).To(BeZero(), "shard %s: %s", f.Shard, describeViolations(f.Result))
				Expect(load.Passed(load.DefaultThresholds().Evaluate(f.Result))).To(BeTrue(), "shard %s alone passes", f.Shard)
			}
		}
		Expect(seen).To(Equal(1), "the revoked class lives in one shard")
		gates := load.DefaultThresholds().Evaluate(merged)
		Expect(load.Passed(gates)).To(BeFalse())
		Expect(gates[0].Name).To(Equal("max_violations"))
		Expect(gates[0].Pass).To(BeFalse())
		Expect(gates[0].Detail).To(ContainSubstring(scenario.Revoked))
	}, SpecTimeout(90*time.Second))
})
