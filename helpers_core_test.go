package ttrpc

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

// testService is the service name the core tests register.
const testService = "ttrpc.test.Svc"

// checkLeaks fails t if goroutines started during the test outlive it. It
// must be the first call of a test so its cleanup runs last.
func checkLeaks(t *testing.T) {
	t.Helper()
	// Snapshot now: only goroutines that exist before the test are allowed
	// to remain after it.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// echoMethod decodes a BytesValue and returns it.
func echoMethod(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var v types.BytesValue
	if err := unmarshal(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// startServer serves methods as testService on a fresh unix socket and
// returns the server and the socket path. The server is closed, and Serve's
// return checked, when the test ends.
func startServer(t *testing.T, methods map[string]Method, opts ...ServerOpt) (*Server, string) {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if methods != nil {
		s.Register(testService, methods)
	}
	path := filepath.Join(t.TempDir(), "ttrpc.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
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
	return s, path
}

// dial connects a client to the socket at path; it is closed when the test
// ends.
func dial(t *testing.T, path string, opts ...ClientOpts) *Client {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn, opts...)
	t.Cleanup(func() { c.Close() })
	return c
}

// dialRaw connects a bare socket for tests that speak frames by hand.
func dialRaw(t *testing.T, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// testCtx is a context that bounds a test step.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echo calls Echo with payload and checks the answer.
func echo(t *testing.T, c *Client, payload []byte) {
	t.Helper()
	var out types.BytesValue
	if err := c.Call(testCtx(t), testService, "Echo", &types.BytesValue{Value: payload}, &out); err != nil {
		t.Fatalf("Echo: %v", err)
	}
	if string(out.Value) != string(payload) {
		t.Fatalf("Echo returned %d bytes, want %d", len(out.Value), len(payload))
	}
}

// waitDone waits for ch to close or fails the test after a bound.
func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitABit yields briefly inside bounded polling loops that watch state with
// no event to wait on (the loop bound, not the pause, is what ends them).
func waitABit() { time.Sleep(time.Millisecond) }
