package catalog

import (
	"os"
	"regexp"
	"testing"
)

// TestCatalogueMatchesSPEC keeps this package and ../shared/SPEC.md in step: every ID in a table
// of the SPEC is here, and nothing here is missing from it.
func TestCatalogueMatchesSPEC(t *testing.T) {
	spec, err := os.ReadFile("../../shared/SPEC.md")
	if err != nil {
		t.Fatalf("read SPEC (../shared beside the checkout): %v", err)
	}
	inSpec := map[ID]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| ((?:[KA]-[A-Z0-9]+|L)-[0-9]+) \|`).FindAllStringSubmatch(string(spec), -1) {
		inSpec[ID(m[1])] = true
	}
	here := map[ID]bool{}
	for _, b := range All() {
		if here[b.ID] {
			t.Errorf("%s listed twice", b.ID)
		}
		here[b.ID] = true
		if !Valid(string(b.ID)) {
			t.Errorf("%s does not look like a SPEC ID", b.ID)
		}
		if !inSpec[b.ID] {
			t.Errorf("%s is not in SPEC.md", b.ID)
		}
	}
	for id := range inSpec {
		if !here[id] {
			t.Errorf("SPEC.md has %s, the catalog does not", id)
		}
	}
	if len(inSpec) < 30 {
		t.Fatalf("found only %d IDs in SPEC.md; the pattern is stale", len(inSpec))
	}
}
