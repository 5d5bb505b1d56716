//go:build !linux

package h1upstream

// quiet cannot peek without blocking on this platform: an idle connection the upstream closed
// is found by the request that uses it, and retried under http.Transport's rule.
func (c *conn) quiet() bool { return true }
