package admin

// MaxElements exposes maxElements to the external tests (guard_test.go), which need the plugin
// registry of reference/kong and so cannot live in this package.
const MaxElements = maxElements
