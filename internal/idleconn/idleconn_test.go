package idleconn

import (
	"errors"
	"io"
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

// TestCloseWriteReachesTheTCPConnection: an HTTP server's lingering close half-closes through a
// Conn; a connection that cannot half-close says so.
func TestCloseWriteReachesTheTCPConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	defer server.Close()
	c := &Conn{Conn: server, WriteTimeout: time.Second}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the peer reads %v; want EOF after the half-close", err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if err := (&Conn{Conn: a}).CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("a pipe: %v; want ErrUnsupported", err)
	}
}
