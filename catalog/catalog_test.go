package catalog

import (
	"regexp"
	"strings"
	"testing"
)

// TestCatalogueParses checks CATALOG.md itself: every row parses, has an ID of the right shape
// and a public source (a link, or an explicit mtlsgate rule), and every profile has rows.
func TestCatalogueParses(t *testing.T) {
	all, err := Parse(catalogueMD)
	if err != nil {
		t.Fatalf("CATALOG.md: %v", err)
	}
	if len(all) < 39 {
		t.Fatalf("found only %d behaviours in CATALOG.md; a row is malformed or the pattern is stale", len(all))
	}
	link := regexp.MustCompile(`\]\(https://[^)]+\)`)
	perProfile := map[Profile]int{}
	for _, b := range all {
		perProfile[b.Profile]++
		if !Valid(string(b.ID)) {
			t.Errorf("%s does not look like a catalogue ID", b.ID)
		}
		if !link.MatchString(b.Source) && !strings.Contains(b.Source, "**mtlsgate rule**") {
			t.Errorf("%s: source %q is neither a public link nor an mtlsgate rule", b.ID, b.Source)
		}
	}
	for _, p := range []Profile{Kong, ALB, Load} {
		if perProfile[p] == 0 {
			t.Errorf("profile %s has no behaviours", p)
		}
	}
}

// TestCatalogueRowsAreAllRead guards the row pattern: every table line that starts with an ID
// must be a row Parse reads, so a malformed row cannot silently drop a behaviour.
func TestCatalogueRowsAreAllRead(t *testing.T) {
	starts := regexp.MustCompile(`(?m)^\| ((?:[KA]-[A-Z0-9]+|L)-[0-9]+) \|`).FindAllStringSubmatch(catalogueMD, -1)
	if got := len(All()); got != len(starts) {
		t.Fatalf("CATALOG.md has %d lines starting with an ID, Parse read %d rows: fix the row with a missing or extra cell", len(starts), got)
	}
}

func TestParseRefusesBadRows(t *testing.T) {
	const src = "[doc](https://example.com/doc)"
	for name, md := range map[string]string{
		"duplicate ID":    "| K-X-1 | mtls-auth | t | b | " + src + " |\n| K-X-1 | mtls-auth | t | b | " + src + " |\n",
		"unknown feature": "| K-X-1 | mtls-autth | t | b | " + src + " |\n",
		"unknown prefix":  "| Q-X-1 | mtls-auth | t | b | " + src + " |\n",
		"no rows":         "| ID | feature | title | behaviour | source |\n",
	} {
		if _, err := Parse(md); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
	bs, err := Parse("| A-X-2 | trust-store | title | the behaviour | " + src + " |\n")
	if err != nil || len(bs) != 1 || bs[0].Profile != ALB || bs[0].Feature != TrustStore || bs[0].Source != src {
		t.Fatalf("Parse of a good row = %+v, %v", bs, err)
	}
}

func TestLookup(t *testing.T) {
	b, ok := Lookup("K-MTLS-1")
	if !ok || b.Profile != Kong || b.Feature != MTLSAuth || !strings.Contains(b.Text, "No required TLS certificate was sent") {
		t.Fatalf("Lookup(K-MTLS-1) = %+v, %v", b, ok)
	}
	if _, ok := Lookup("K-NOPE-1"); ok {
		t.Fatal("Lookup found an ID that is not in the catalogue")
	}
}
