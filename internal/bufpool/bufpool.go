// Package bufpool lends the reverse proxies their body-copy buffers: httputil.ReverseProxy
// without a BufferPool allocates a fresh 32 KiB buffer for every response it copies, which on a
// keep-alive load is most of the garbage the proxy makes.
package bufpool

import "sync"

// Size is the buffer length, httputil.ReverseProxy's own default.
const Size = 32 << 10

// Pool is an httputil.BufferPool of Size-byte buffers.
type Pool struct{ p sync.Pool }

// New returns an empty pool; buffers are made on demand and reused after Put.
func New() *Pool {
	return &Pool{p: sync.Pool{New: func() any { b := make([]byte, Size); return &b }}}
}

// Get implements httputil.BufferPool.
func (p *Pool) Get() []byte { return *p.p.Get().(*[]byte) }

// Put implements httputil.BufferPool; a buffer of another size is dropped.
func (p *Pool) Put(b []byte) {
	if cap(b) != Size {
		return
	}
	b = b[:Size]
	p.p.Put(&b)
}
