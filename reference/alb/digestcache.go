package alb

import (
	"crypto/sha256"
	"sync"
)

// digestCacheSize bounds a digestCache; a full cache starts over.
const digestCacheSize = 4096

// digestCache is a bounded map from a SHA-256 digest to what ALB remembers about the
// certificates behind it (a verified chain's stable span, a leaf's rendered headers), so the
// per-connection work clients repeat is done once while memory stays bounded whatever they
// present: a full cache starts over rather than evicting one by one.
type digestCache[V any] struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]V
}

// get returns the value remembered under key, if any.
func (c *digestCache[V]) get(key [sha256.Size]byte) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// put remembers v under key, starting over first when the cache is full.
func (c *digestCache[V]) put(key [sha256.Size]byte, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= digestCacheSize {
		c.m = make(map[[sha256.Size]byte]V)
	}
	c.m[key] = v
}
