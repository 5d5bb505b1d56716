package conformance_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The dependencies run conformance → catalog and reports → conformance/record → catalog, never
// back: a suite's package must not pull in the report writer, the record must not pull in the
// Ginkgo DSL or either side, and the catalogue depends on neither.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/mtlsgate/mtlsgate/"
	for pkg, banned := range map[string][]string{
		"conformance":        {mod + "reports"},
		"conformance/record": {mod + "reports", mod + "conformance", "github.com/onsi/ginkgo/v2"},
		"catalog":            {mod + "reports", mod + "conformance", mod + "conformance/record"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{.ImportPath}}", mod+pkg).Output()
		cancel()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, b := range banned {
			if slices.Contains(deps, b) {
				t.Errorf("%s depends on %s: the dependencies must run conformance → catalog and reports → conformance/record, never back", pkg, b)
			}
		}
	}
}
