package ttrpc

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"time"

	"github.com/gogo/protobuf/types"
)

// A request that is alone on its connection runs on the reading goroutine.
// If its handler then blocks, the watchdog hands reading on: here the first
// request's handler waits for a second request on the same connection, which
// would never be read otherwise. Having been slow, the method no longer runs
// inline; and once the traffic stops the watchdog stops ticking.
func TestServerInlineRunHandsReadingOn(t *testing.T) {
	checkLeaks(t)
	released := make(chan struct{})
	sawInline := make(chan bool, 1)
	var srv *Server
	srv, path := startServer(t, map[string]Method{
		"Block": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			sawInline <- srv.connInline()
			select {
			case <-released:
				return &types.Empty{}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		"Release": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			close(released)
			return &types.Empty{}, nil
		},
		"Echo": echoMethod,
	})
	c := dial(t, path)
	echo(t, c, []byte("warm up"))

	blocked := make(chan error, 1)
	go func() {
		blocked <- c.Call(testCtx(t), testService, "Block", &types.Empty{}, &types.Empty{})
	}()
	if !<-sawInline {
		t.Fatal("a lone request to a method never seen slow did not run inline")
	}
	start := time.Now()
	if err := c.Call(testCtx(t), testService, "Release", &types.Empty{}, &types.Empty{}); err != nil {
		t.Fatalf("Release, sent while Block runs inline: %v", err)
	}
	if err := <-blocked; err != nil {
		t.Fatalf("Block: %v", err)
	}
	t.Logf("second request served %v after the first blocked inline", time.Since(start))

	m, _, st := srv.services.lookup([]byte(testService), []byte("Block"), codes.NotFound)
	if st != nil {
		t.Fatal(st.Err())
	}
	if m.quick() {
		t.Fatal("Block took long but is still considered quick")
	}
	// A slow method is handed off at once: Block again, then Echo, which is
	// read while Block still waits (released is closed, so Block returns,
	// but only after checking in).
	go func() {
		blocked <- c.Call(testCtx(t), testService, "Block", &types.Empty{}, &types.Empty{})
	}()
	if <-sawInline {
		t.Fatal("a method seen slow ran inline")
	}
	if err := <-blocked; err != nil {
		t.Fatalf("second Block: %v", err)
	}
	echo(t, c, []byte("after"))

	deadline := time.Now().Add(10 * time.Second)
	for srv.inline.armed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog kept ticking on an idle server")
		}
		waitABit()
	}
}

// connInline reports whether a request of the server's only connection is
// running inline.
func (s *Server) connInline() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.inline.Load() != 0 {
			return true
		}
	}
	return false
}

// A client that goes away while its request runs inline still gets that
// handler's context cancelled: the watchdog hands reading on, and the new
// reader sees the connection end.
func TestServerInlineRunSeesPeerGo(t *testing.T) {
	checkLeaks(t)
	cancelled := make(chan struct{})
	started := make(chan struct{})
	_, path := startServer(t, map[string]Method{
		"Wait": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			close(started)
			select {
			case <-ctx.Done():
				close(cancelled)
				return nil, ctx.Err()
			case <-time.After(20 * time.Second):
				return nil, errors.New("not cancelled")
			}
		},
	})
	c := dial(t, path)
	go c.Call(context.Background(), testService, "Wait", &types.Empty{}, &types.Empty{})
	waitDone(t, started, "the handler to start")
	c.Close()
	waitDone(t, cancelled, "the inline handler's context to be cancelled after the client closed")
}
