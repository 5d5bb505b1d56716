// Package kongsuite_test stands in for a compiled suite in the conformance command's tests: a
// real Ginkgo suite whose specs check what `mtlsgate conformance` hands a suite binary (the
// target, the external config's absolute path, the label filter) and fail when told to.
package kongsuite_test

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestKongSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "stand-in Kong profile")
}

var _ = It("K-MTLS-1: the suite gets the target and the config's absolute path", Label("K-MTLS-1", "gateway:kong"), func() {
	Expect(os.Getenv("MTLSGATE_TARGET")).To(Equal("external"))
	Expect(filepath.IsAbs(os.Getenv("MTLSGATE_EXTERNAL"))).To(BeTrue(), os.Getenv("MTLSGATE_EXTERNAL"))
})

var _ = It("K-MTLS-2: fails when the test asks it to", Label("K-MTLS-2", "gateway:kong"), func() {
	Expect(os.Getenv("KONGSUITE_FAIL")).To(BeEmpty(), "told to fail")
})
