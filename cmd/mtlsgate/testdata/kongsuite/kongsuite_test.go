// Package kongsuite_test stands in for a compiled suite in the conformance command's tests: a
// real Ginkgo suite, declared through conformance.Suite as the project's suites are, whose specs
// check what `mtlsgate conformance` hands a suite binary (the target, the external config's
// absolute path, the label filter) and fail when told to.
package kongsuite_test

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
)

func TestKongSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "stand-in Kong profile")
}

// standIn claims every behaviour: this suite checks what the command hands it, not a gateway.
type standIn struct{}

func (standIn) Name() string                            { return os.Getenv("MTLSGATE_TARGET") }
func (standIn) Claims(catalog.ID) (bool, string)        { return true, "" }
func (standIn) Supports(catalog.Feature) (bool, string) { return true, "" }

var suite = conformance.NewSuite(catalog.Kong)

var _ = BeforeSuite(func() { suite.SetTarget(standIn{}) })

var _ = suite.Admit()

var _ = suite.It("K-MTLS-1", "the suite gets the target and the config's absolute path", func() {
	Expect(os.Getenv("MTLSGATE_TARGET")).To(Equal("external"))
	Expect(filepath.IsAbs(os.Getenv("MTLSGATE_EXTERNAL"))).To(BeTrue(), os.Getenv("MTLSGATE_EXTERNAL"))
})

var _ = suite.It("K-MTLS-2", "fails when the test asks it to", func() {
	Expect(os.Getenv("KONGSUITE_FAIL")).To(BeEmpty(), "told to fail")
})
