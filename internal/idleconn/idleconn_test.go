package idleconn

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestReadTimeoutAppliesToEveryRead: data keeps a connection alive, silence past ReadTimeout
// ends it, however far into the exchange.
func TestReadTimeoutAppliesToEveryRead(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &Conn{Conn: a, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}
	go func() {
		for range 3 {
			_, _ = b.Write([]byte("x"))
		}
	}()
	buf := make([]byte, 1)
	for i := range 3 {
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a silent peer: %v; want a deadline error", err)
	}
	if _, err := c.Write([]byte("y")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a peer that does not read: %v; want a deadline error", err)
	}
}

func TestFailureKeepsTheFirst(t *testing.T) {
	var f Failure
	if timeout, err := f.Get(); timeout || err != nil {
		t.Fatalf("empty: %v %v", timeout, err)
	}
	f.set(os.ErrDeadlineExceeded)
	f.set(errors.New("later"))
	if timeout, err := f.Get(); !timeout || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Get = %v %v; want the first, a timeout", timeout, err)
	}
}
