package harness

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// lookupFunc finds a catalogue behaviour; catalog.Lookup in use, a fake catalogue in tests.
type lookupFunc func(catalog.ID) (catalog.Behaviour, bool)

// allowList is the Claims of a target that names every behaviour it claims. An ID it does not
// list (a new catalogue row, say) is not claimed until someone proves it on this target and adds
// it, so no target silently claims a behaviour nobody checked it for. unclaimed gives the reasons
// for IDs deliberately left out; it is consulted first.
func allowList(lookup lookupFunc, target string, id catalog.ID, claimed []catalog.ID, unclaimed map[catalog.ID]string) (bool, string) {
	if _, ok := lookup(id); !ok {
		return false, fmt.Sprintf("%s is not a catalogue ID", id)
	}
	if why, listed := unclaimed[id]; listed {
		return false, why
	}
	if slices.Contains(claimed, id) {
		return true, ""
	}
	return false, fmt.Sprintf("the %s target does not list %s among the behaviours it claims: it claims a behaviour only once it has been shown to do it", target, id)
}

// kongOwnBehaviours are the Kong-profile behaviours that are Kong's own (its docs and spec/
// tests), as opposed to mtlsgate rules: what a real Kong, or any gateway that says it is Kong, may
// claim. K-MTLS-6, K-ADM-5 and K-ADM-6 are mtlsgate rules and are not listed.
func kongOwnBehaviours() []catalog.ID {
	return []catalog.ID{
		"K-ADM-1", "K-ADM-2", "K-ADM-3", "K-ADM-4",
		"K-MTLS-1", "K-MTLS-2", "K-MTLS-3", "K-MTLS-4", "K-MTLS-5", "K-MTLS-7", "K-MTLS-8", "K-MTLS-9",
		"K-PROXY-1", "K-PROXY-2", "K-UP-1", "K-UP-2", "K-UP-3", "K-UP-4", "K-UP-5", "K-UP-6",
		"K-SNI-1", "K-SNI-2", "K-TLS-1", "K-H2-1",
	}
}

// mtlsgateRules are the Kong-profile rows that are mtlsgate's own rules, with why a gateway that
// is Kong does not claim them.
func mtlsgateRules() map[catalog.ID]string {
	return map[catalog.ID]string{
		"K-MTLS-6": "an mtlsgate rule, not Kong's: Kong forwards identity headers a client sends when no auth plugin runs",
		"K-ADM-5":  "an mtlsgate rule, not Kong's: Kong's Admin API reflects any Origin in CORS when admin_gui_url is unset, and answers any Host",
		"K-ADM-6":  "an mtlsgate rule, not Kong's: Kong Enterprise does not publish mtls-auth's numeric bounds, and its Admin API has no element cap",
	}
}

// referenceContainerBehaviours are the behaviours the mtlsgate image has been run against: the
// in-process reference's, as the same binary serves both.
func referenceContainerBehaviours() []catalog.ID {
	return []catalog.ID{
		"K-ADM-1", "K-ADM-2", "K-ADM-3", "K-ADM-4", "K-ADM-5", "K-ADM-6",
		"K-MTLS-1", "K-MTLS-2", "K-MTLS-3", "K-MTLS-4", "K-MTLS-5", "K-MTLS-6", "K-MTLS-7", "K-MTLS-8", "K-MTLS-9",
		"K-PROXY-1", "K-PROXY-2", "K-UP-1", "K-UP-2", "K-UP-3", "K-UP-4", "K-UP-5", "K-UP-6", "K-SNI-1", "K-SNI-2", "K-TLS-1", "K-H2-1",
		"A-TS-1", "A-TS-2", "A-MODE-1", "A-MODE-2", "A-MODE-3", "A-HDR-1", "A-HDR-2", "A-HDR-3", "A-POL-1", "A-CERT-1", "A-LOG-1",
		"A-TG-1", "A-REQ-1", "A-APIGW-1", "A-H2-1",
		"L-1", "L-2", "L-3", "L-4", "L-5",
	}
}

// provenOnRealKong lists the behaviours a run against a real Kong Gateway image has passed, with
// the image and date. It is empty: no Kong image has been available where mtlsgate was built, so
// every claim of the kong target rests on Kong's docs and spec/ files, not on a run.
func provenOnRealKong() map[catalog.ID]string { return map[catalog.ID]string{} }

// KongProvenance says plainly, for the conformance report, which claimed behaviours have been
// proven against a real Kong image and which have not.
func KongProvenance(claimed []catalog.ID) string {
	proven := provenOnRealKong()
	var yes, no []string
	for _, id := range claimed {
		if where, ok := proven[id]; ok {
			yes = append(yes, string(id)+" ("+where+")")
		} else {
			no = append(no, string(id))
		}
	}
	if len(yes) == 0 {
		yes = []string{"none"}
	}
	if len(no) == 0 {
		no = []string{"none"}
	}
	return "proven against a real Kong image: " + strings.Join(yes, ", ") +
		"; claimed from Kong's docs and spec/ files but never run against a real Kong image: " + strings.Join(no, ", ")
}
