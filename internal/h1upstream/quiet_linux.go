package h1upstream

import (
	"errors"
	"net"
	"syscall"
)

// quiet reports whether an idle connection is still open and has nothing unread: one
// non-blocking peek, where http.Transport keeps a goroutine reading every idle connection.
func (c *conn) quiet() bool {
	nc := c.nc
	for {
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		nc = u.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read is the only sign of a healthy idle connection: bytes nobody asked
		// for, an EOF (n == 0) and an error all end it.
		alive = n <= 0 && errors.Is(rerr, syscall.EAGAIN)
		return true
	})
	return err == nil && alive
}
