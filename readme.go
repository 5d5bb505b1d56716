// Package mtlsgate carries the files of this repository that the compiled conformance suites
// read at run time, so a suite binary run outside the checkout (from a release or the image)
// has them.
package mtlsgate

import _ "embed"

//go:embed README.md
var readme []byte

// README returns the repository's README.md: the Kong suite replays its walkthrough blocks
// verbatim, so the compiled suite must carry the text it was built from.
func README() []byte { return readme }
