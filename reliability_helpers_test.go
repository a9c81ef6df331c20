package ttrpc

// Helpers of the reliability tests (issue 4): stress, fault injection,
// memory bounds, handshakes and peer credentials.

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
	"go.uber.org/goleak"
)

// relCheckLeaks fails t if goroutines started after this call outlive the
// test. Call it first so that its cleanup runs last.
func relCheckLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent() // evaluated now, not at cleanup
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

const relService = "rel.Svc"

// relEcho returns its BytesValue argument.
func relEcho(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var v types.BytesValue
	if err := unmarshal(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// relServe serves methods as relService on l until the test ends, then
// closes the server and checks that Serve returned ErrServerClosed.
func relServe(t testing.TB, l net.Listener, methods map[string]Method, opts ...ServerOpt) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if methods != nil {
		s.Register(relService, methods)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-served:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return s
}

// relUnixListener listens on a fresh unix socket.
func relUnixListener(t testing.TB) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return l, path
}

// relWait waits for ch or fails the test after bound.
func relWait(t testing.TB, ch <-chan struct{}, bound time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(bound):
		t.Fatalf("timed out after %v waiting for %s\n%s", bound, what, fzStacks())
	}
}

// relCall makes one echo call with a bound and returns its error.
func relCall(c *Client, payload []byte, bound time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var out types.BytesValue
	err := c.Call(ctx, relService, "Echo", &types.BytesValue{Value: payload}, &out)
	return out.Value, err
}

// connCount reports the connections the server holds, served or still in
// their handshake.
func (s *Server) relConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) + len(s.pending)
}

// relWaitConns waits until the server holds at most n connections.
func relWaitConns(t testing.TB, s *Server, n int, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for s.relConnCount() > n {
		if time.Now().After(deadline) {
			t.Fatalf("server still holds %d connections after %v, want <= %d\n%s", s.relConnCount(), bound, n, fzStacks())
		}
		time.Sleep(time.Millisecond)
	}
}

// relWaitIdle waits until no connection of s has a request in flight, so
// that every handler has written its reply and returned its buffers.
func relWaitIdle(t testing.TB, s *Server, bound time.Duration) {
	t.Helper()
	busy := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := 0
		for c := range s.conns {
			c.mu.Lock()
			n += c.active
			c.mu.Unlock()
		}
		return n
	}
	deadline := time.Now().Add(bound)
	for busy() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("server still has %d requests in flight after %v", busy(), bound)
		}
		time.Sleep(time.Millisecond)
	}
}
