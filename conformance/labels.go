package conformance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// LoadLabel marks the load suite's specs (make conformance's load profile filters on it).
const LoadLabel = "load"

// plainLabels are the only labels that are neither an ID nor a prefixed feature, profile or
// behaviour: the allow-list is frozen here, so a mistyped label fails its spec instead of
// quietly changing what Admit or a --label-filter selects.
func plainLabels() []string { return []string{BlackBox, LoadLabel} }

// CheckLabels refuses any label that is not on the allow-list: a catalogue ID, feature:<feature>,
// gateway:<profile>, requires:<feature or ID>, configures:<feature>, blackbox or load. The
// error names the label and what it may be.
func CheckLabels(labels []string) error {
	for _, l := range labels {
		if !allowedLabel(l) {
			return fmt.Errorf("label %q is not on conformance's allow-list: use a catalogue ID, %s<feature>, %s<profile>, %s<feature or ID>, %s<feature>, or one of %s",
				l, featurePrefix, gatewayPrefix, requiresPrefix, configuresPrefix, strings.Join(plainLabels(), ", "))
		}
	}
	return nil
}

func allowedLabel(l string) bool {
	if slices.Contains(plainLabels(), l) {
		return true
	}
	if _, ok := catalog.Lookup(catalog.ID(l)); ok {
		return true
	}
	isFeature := func(f string) bool { return slices.Contains(catalog.Features(), catalog.Feature(f)) }
	if f, ok := strings.CutPrefix(l, featurePrefix); ok {
		return isFeature(f)
	}
	if f, ok := strings.CutPrefix(l, configuresPrefix); ok {
		return isFeature(f)
	}
	if f, ok := strings.CutPrefix(l, requiresPrefix); ok {
		_, isID := catalog.Lookup(catalog.ID(f))
		return isID || isFeature(f)
	}
	if p, ok := strings.CutPrefix(l, gatewayPrefix); ok {
		return slices.Contains([]catalog.Profile{catalog.Kong, catalog.ALB, catalog.Load}, catalog.Profile(p))
	}
	return false
}
