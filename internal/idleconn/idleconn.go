// Package idleconn bounds the wait between successive reads and between successive writes on a
// connection, the way nginx's proxy_read_timeout/proxy_send_timeout (Kong's read_timeout and
// write_timeout) and ALB's idle timeout do: a peer that keeps sending slowly is fine, a peer
// that stalls mid-response or stops reading is cut off, however far into the exchange it is.
package idleconn

import (
	"context"
	"errors"
	"net"
	"time"
)

// Conn is a net.Conn whose every Read and Write gets a fresh deadline. A Write also restarts
// the read clock: the wait for an answer starts once the request is sent.
type Conn struct {
	net.Conn
	// ReadTimeout and WriteTimeout are the longest waits for one read or one write; zero means no limit.
	ReadTimeout, WriteTimeout time.Duration
}

// Read implements net.Conn with a fresh read deadline per read.
func (c *Conn) Read(p []byte) (int, error) {
	if c.ReadTimeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.ReadTimeout))
	}
	return c.Conn.Read(p)
}

// Write implements net.Conn with a fresh write deadline per write.
func (c *Conn) Write(p []byte) (int, error) {
	if c.WriteTimeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.WriteTimeout))
	}
	n, err := c.Conn.Write(p)
	if c.ReadTimeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.ReadTimeout))
	}
	return n, err
}

// NetConn returns the wrapped connection (as tls.Conn's NetConn does), so a pool can check an
// idle connection's socket without reading through the deadlines.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// CloseWrite shuts the wrapped connection's writing side where it can (a TCP connection), so an
// HTTP server's lingering close (answer, half-close, then drain) still works through a Conn.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Dialer returns a DialContext for http.Transport that connects within connect and wraps each
// connection in a Conn; timeouts() is asked at every dial, so a reloaded setting applies to the
// next connection.
func Dialer(connect time.Duration, timeouts func() (read, write time.Duration)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		read, write := timeouts()
		return &Conn{Conn: c, ReadTimeout: read, WriteTimeout: write}, nil
	}
}
