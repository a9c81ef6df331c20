package ttrpc

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestShutdownWithCallsInFlight: Shutdown waits for the replies of requests
// it has read, answers new requests on the busy connection UNAVAILABLE, and
// then closes everything; Serve returns ErrServerClosed.
func TestShutdownWithCallsInFlight(t *testing.T) {
	checkLeaks(t)
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.Register(testService, map[string]Method{
		"Echo": echoMethod,
		"Hold": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			entered <- struct{}{}
			<-release
			return &types.StringValue{Value: "done"}, nil
		},
	})
	path := t.TempDir() + "/s.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), l) }()
	c := dial(t, path)

	results := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			var out types.StringValue
			err := c.Call(context.Background(), testService, "Hold", &types.Empty{}, &out)
			if err == nil && out.Value != "done" {
				err = errors.New("wrong reply " + out.Value)
			}
			results <- err
		}()
	}
	waitFor(t, entered, "first handler")
	waitFor(t, entered, "second handler")

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- s.Shutdown(context.Background()) }()

	// Once Shutdown has begun, a new request on the busy connection is
	// refused with UNAVAILABLE (never run).
	sawUnavailable := false
	for i := 0; i < 2000 && !sawUnavailable; i++ {
		var out types.BytesValue
		err := c.Call(testCtx(t), testService, "Echo", &types.BytesValue{Value: []byte("x")}, &out)
		switch status.Code(err) {
		case codes.OK:
			waitABit()
		case codes.Unavailable:
			sawUnavailable = true
		default:
			t.Fatalf("probe call got %v", err)
		}
	}
	if !sawUnavailable {
		t.Fatal("requests during Shutdown were never refused")
	}
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned (%v) while requests were in flight", err)
	default:
	}

	close(release)
	for i := 0; i < 2; i++ {
		select {
		case err := <-results:
			if err != nil {
				t.Fatalf("in-flight call lost its reply: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("in-flight call did not complete")
		}
	}
	select {
	case err := <-shutdownDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	select {
	case err := <-served:
		if err != ErrServerClosed {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	// The connection was closed by the server.
	if err := c.UserOnCloseWait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

// TestShutdownHonoursContext: a handler that never finishes makes Shutdown
// return the context's error; Close then ends it.
func TestShutdownHonoursContext(t *testing.T) {
	checkLeaks(t)
	entered := make(chan struct{}, 1)
	s, path := startServer(t, map[string]Method{"Hold": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	c := dial(t, path)
	result := make(chan error, 1)
	go func() { result <- c.Call(context.Background(), testService, "Hold", &types.Empty{}, &types.Empty{}) }()
	waitFor(t, entered, "handler")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown returned %v", err)
	}
	s.Close()
	if err := <-result; err != ErrClosed {
		t.Fatalf("call got %v", err)
	}
}

// TestShutdownIdleConnections closes idle connections at once.
func TestShutdownIdleConnections(t *testing.T) {
	checkLeaks(t)
	s, path := startServer(t, map[string]Method{"Echo": echoMethod})
	clients := make([]*Client, 4)
	for i := range clients {
		clients[i] = dial(t, path)
		echo(t, clients[i], []byte("hi"))
	}
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if err := c.UserOnCloseWait(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if err := c.Call(testCtx(t), testService, "Echo", &types.BytesValue{}, &types.BytesValue{}); err != ErrClosed {
			t.Fatalf("call after shutdown: %v", err)
		}
	}
}

// TestServeAfterShutdown returns ErrServerClosed at once and closes the
// listener, also when Serve races with Shutdown and Close.
func TestServeAfterShutdown(t *testing.T) {
	checkLeaks(t)
	for _, stop := range []string{"shutdown", "close"} {
		t.Run(stop, func(t *testing.T) {
			s, err := NewServer()
			if err != nil {
				t.Fatal(err)
			}
			const racers = 8
			var wg sync.WaitGroup
			errs := make(chan error, racers+1)
			start := make(chan struct{})
			for i := 0; i < racers; i++ {
				l, err := net.Listen("unix", t.TempDir()+"/s.sock")
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs <- s.Serve(context.Background(), l)
				}()
			}
			close(start)
			if stop == "shutdown" {
				if err := s.Shutdown(testCtx(t)); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Close()
			}
			l, err := net.Listen("unix", t.TempDir()+"/late.sock")
			if err != nil {
				t.Fatal(err)
			}
			errs <- s.Serve(context.Background(), l)
			if _, err := l.Accept(); err == nil {
				t.Fatal("late listener left open")
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			waitDone(t, done, "racing Serve calls")
			close(errs)
			for err := range errs {
				if err != ErrServerClosed {
					t.Fatalf("Serve returned %v", err)
				}
			}
		})
	}
}
