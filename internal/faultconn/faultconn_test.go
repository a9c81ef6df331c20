package faultconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func pair(t *testing.T, cfg Config) (*Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return Wrap(a, cfg), b
}

func TestReadErrorAtByte(t *testing.T) {
	c, peer := pair(t, Config{Read: Fault{Kind: Error, At: 5}})
	go peer.Write([]byte("0123456789"))
	got, err := io.ReadAll(c)
	if string(got) != "01234" || !errors.Is(err, ErrInjected) {
		t.Fatalf("got %q, %v; want the first 5 bytes then ErrInjected", got, err)
	}
}

func TestWriteErrorAtByte(t *testing.T) {
	c, peer := pair(t, Config{Write: Fault{Kind: Error, At: 3, Err: io.ErrClosedPipe}})
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(peer); got <- b }()
	n, err := c.Write([]byte("abcdef"))
	if n != 3 || err != io.ErrClosedPipe {
		t.Fatalf("Write: %d, %v; want 3, io.ErrClosedPipe", n, err)
	}
	c.Conn.Close()
	if b := <-got; string(b) != "abc" {
		t.Fatalf("peer got %q", b)
	}
}

func TestCloseMidStream(t *testing.T) {
	c, peer := pair(t, Config{Write: Fault{Kind: Close, At: 4}})
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(peer); got <- b }()
	if _, err := c.Write([]byte("abcdefgh")); err == nil {
		t.Fatal("write past a close succeeded")
	}
	if b := <-got; string(b) != "abcd" {
		t.Fatalf("peer got %q before EOF", b)
	}
}

func TestShortReadsAndFragmentedWrites(t *testing.T) {
	c, peer := pair(t, Config{ReadChunk: 2, WriteChunk: 3})
	go peer.Write([]byte("hello"))
	b := make([]byte, 10)
	if n, err := c.Read(b); n != 2 || err != nil {
		t.Fatalf("Read: %d, %v; want 2 bytes", n, err)
	}
	go func() { c.Write([]byte("abcdefg")) }()
	// net.Pipe delivers one Write per Read at most: the fragments show.
	if n, _ := peer.Read(b); n != 3 {
		t.Fatalf("peer read %d bytes, want a 3-byte fragment", n)
	}
}

func TestStallReleaseDeadlineClose(t *testing.T) {
	c, peer := pair(t, Config{Read: Fault{Kind: Stall, At: 2}})
	go peer.Write([]byte("abcd"))
	b := make([]byte, 4)
	if n, _ := io.ReadFull(c, b[:2]); n != 2 {
		t.Fatal("bytes before the stall")
	}
	done := make(chan error, 1)
	go func() { _, err := c.Read(b); done <- err }()
	<-c.Stalled()
	c.SetReadDeadline(time.Now())
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled read after deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	go func() { n, err := c.Read(b); done <- err; _ = n }()
	c.Release()
	if err := <-done; err != nil {
		t.Fatalf("read after release: %v", err)
	}
	if !bytes.Equal(b[:1], []byte("c")) {
		t.Fatalf("read %q after release", b[:1])
	}
	c.Close()
	if _, err := c.Read(b); err == nil {
		t.Fatal("read after close succeeded")
	}
}

func TestWriteStallEndsWhenReadsFail(t *testing.T) {
	c, peer := pair(t, Config{Write: Fault{Kind: Stall, At: 0}})
	done := make(chan error, 1)
	go func() { _, err := c.Write([]byte("x")); done <- err }()
	<-c.Stalled()
	peer.Close()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a closed peer succeeded")
	}
	if err := <-done; err != io.ErrClosedPipe {
		t.Fatalf("stalled write after the peer left: %v, want io.ErrClosedPipe", err)
	}
}

func TestPipeListener(t *testing.T) {
	l := NewPipeListener()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(c); string(b) != "x" {
		t.Fatalf("got %q", b)
	}
	l.Close()
	if _, err := l.Dial(); err == nil {
		t.Fatal("Dial after Close succeeded")
	}
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
}
