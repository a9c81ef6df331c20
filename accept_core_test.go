package ttrpc

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails Accept with a temporary error a few times before
// handing out real connections, then fails for good when told to.
type flakyListener struct {
	net.Listener
	transient atomic.Int32
	fatal     atomic.Bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.transient.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: syscall.EMFILE}
	}
	if l.fatal.Load() {
		return nil, errors.New("listener broke")
	}
	return l.Listener.Accept()
}

// TestAcceptBackoff: transient accept errors (EMFILE) are retried and the
// server goes on serving; a permanent error ends Serve with that error.
func TestAcceptBackoff(t *testing.T) {
	checkLeaks(t)
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.Register(testService, map[string]Method{"Echo": echoMethod})
	path := t.TempDir() + "/s.sock"
	inner, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l := &flakyListener{Listener: inner}
	l.transient.Store(3)
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), l) }()
	defer s.Close()

	c := dial(t, path)
	echo(t, c, []byte("after transient accept errors"))
	if l.transient.Load() >= 0 {
		t.Fatal("the transient errors were not all seen")
	}

	l.fatal.Store(true)
	if conn, err := net.Dial("unix", path); err == nil { // wakes the accept loop
		defer conn.Close()
	}
	select {
	case err := <-served:
		if err == nil || err.Error() != "listener broke" {
			t.Fatalf("Serve returned %v, want the listener's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return on a permanent accept error")
	}
}
