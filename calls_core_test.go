package ttrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/ttrpc/internal/faultconn"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestConcurrentCallsOutOfOrder holds every call in the handler and releases
// them in reverse order: replies come back out of order on one connection
// and each caller gets its own.
func TestConcurrentCallsOutOfOrder(t *testing.T) {
	checkLeaks(t)
	const n = 32
	arrived := make(chan string, n)
	release := make(map[string]chan struct{})
	for i := 0; i < n; i++ {
		release[fmt.Sprint(i)] = make(chan struct{})
	}
	_, path := startServer(t, map[string]Method{"Hold": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		var v types.StringValue
		if err := un(&v); err != nil {
			return nil, err
		}
		arrived <- v.Value
		<-release[v.Value]
		return &types.StringValue{Value: "reply " + v.Value}, nil
	}})
	c := dial(t, path)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(key string) {
			defer wg.Done()
			var out types.StringValue
			if err := c.Call(testCtx(t), testService, "Hold", &types.StringValue{Value: key}, &out); err != nil {
				errs <- err
				return
			}
			if out.Value != "reply "+key {
				errs <- fmt.Errorf("call %s got %q", key, out.Value)
			}
		}(fmt.Sprint(i))
	}
	for i := 0; i < n; i++ {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("calls did not all arrive")
		}
	}
	for i := n - 1; i >= 0; i-- {
		close(release[fmt.Sprint(i)])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLargePayloadsBothWays: many goroutines send and receive payloads just
// under the limit at once. The established client deadlocked here.
func TestLargePayloadsBothWays(t *testing.T) {
	checkLeaks(t)
	for _, transport := range []string{"unix", "pipe"} {
		t.Run(transport, func(t *testing.T) {
			var c *Client
			if transport == "unix" {
				_, path := startServer(t, map[string]Method{"Echo": echoMethod})
				c = dial(t, path)
			} else {
				c = pipeClient(t, map[string]Method{"Echo": echoMethod})
			}
			// Request envelope and BytesValue framing take a few bytes.
			payload := bytes.Repeat([]byte{0xa5}, messageLengthMax-64)
			const callers, calls = 8, 2
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for g := 0; g < callers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < calls; i++ {
						ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
						var out types.BytesValue
						err := c.Call(ctx, testService, "Echo", &types.BytesValue{Value: payload}, &out)
						cancel()
						if err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(out.Value, payload) {
							errs <- errors.New("payload corrupted")
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// pipeClient serves methods over an unbuffered net.Pipe and returns a client
// on the other end.
func pipeClient(t *testing.T, methods map[string]Method, opts ...ServerOpt) *Client {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.Register(testService, methods)
	l := faultconn.NewPipeListener()
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(context.Background(), l) }()
	cconn, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(cconn)
	t.Cleanup(func() {
		c.Close()
		s.Close()
		waitDone(t, done, "Serve to return")
	})
	return c
}

// TestOversizedRequest is refused by the client before it touches the
// connection; the connection keeps working.
func TestOversizedRequest(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{"Echo": echoMethod})
	c := dial(t, path)
	var out types.BytesValue
	err := c.Call(testCtx(t), testService, "Echo", &types.BytesValue{Value: make([]byte, messageLengthMax)}, &out)
	assertCode(t, err, codes.ResourceExhausted, "")
	echo(t, c, []byte("still fine"))
	// With an interceptor the request takes the other encoding path.
	ci := dial(t, path, WithUnaryClientInterceptor(func(ctx context.Context, req *Request, resp *Response, _ *UnaryClientInfo, inv Invoker) error {
		return inv(ctx, req, resp)
	}))
	err = ci.Call(testCtx(t), testService, "Echo", &types.BytesValue{Value: make([]byte, messageLengthMax)}, &out)
	assertCode(t, err, codes.ResourceExhausted, "")
	echo(t, ci, []byte("still fine"))
}

// TestOversizedResponse fails that one call with RESOURCE_EXHAUSTED; the
// connection and a concurrent call are unaffected.
func TestOversizedResponse(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{
		"Echo": echoMethod,
		"Huge": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			return &types.BytesValue{Value: make([]byte, messageLengthMax+1)}, nil
		},
	})
	c := dial(t, path)
	var out types.BytesValue
	err := c.Call(testCtx(t), testService, "Huge", &types.Empty{}, &out)
	assertCode(t, err, codes.ResourceExhausted, "")
	echo(t, c, []byte("after huge"))
}

// TestClientOversizedReplyFrame: a peer that sends a reply frame over the
// limit fails only that call.
func TestClientOversizedReplyFrame(t *testing.T) {
	checkLeaks(t)
	cconn, sconn := net.Pipe()
	defer sconn.Close()
	c := NewClient(cconn)
	defer c.Close()
	result := make(chan error, 2)
	go func() {
		var out types.StringValue
		result <- c.Call(context.Background(), "svc", "M", &types.StringValue{Value: "a"}, &out)
	}()
	readFrame(t, sconn)
	writeFrame(t, sconn, 1, messageTypeResponse, 0, make([]byte, messageLengthMax+1))
	assertCode(t, <-result, codes.ResourceExhausted, "")
	go func() {
		var out types.StringValue
		result <- c.Call(context.Background(), "svc", "M", &types.StringValue{Value: "b"}, &out)
	}()
	readFrame(t, sconn)
	writeFrame(t, sconn, 3, messageTypeResponse, 0, unhex(t, vecReplyData))
	if err := <-result; err != nil {
		t.Fatal(err)
	}
}

// TestCancelWhileWaiting: a cancelled call returns promptly, leaves no entry
// behind, and its late reply is dropped without disturbing later calls.
func TestCancelWhileWaiting(t *testing.T) {
	checkLeaks(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	_, path := startServer(t, map[string]Method{
		"Echo": echoMethod,
		"Hold": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			entered <- struct{}{}
			<-release
			return &types.Empty{}, nil
		},
	})
	c := dial(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- c.Call(ctx, testService, "Hold", &types.Empty{}, &types.Empty{}) }()
	waitFor(t, entered, "handler to start")
	cancel()
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled call did not return")
	}
	c.mu.Lock()
	left := len(c.streams)
	c.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d calls left in the table", left)
	}
	close(release) // the late reply arrives and is dropped
	echo(t, c, []byte("after cancel"))
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestDeadlinePropagation: the handler runs under the caller's deadline, and
// a handler that outlives it makes the call fail with DeadlineExceeded.
func TestDeadlinePropagation(t *testing.T) {
	checkLeaks(t)
	seen := make(chan time.Duration, 1)
	_, path := startServer(t, map[string]Method{
		"Deadline": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				seen <- -1
			} else {
				seen <- time.Until(dl)
			}
			return &types.Empty{}, nil
		},
		"Wait": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	c := dial(t, path)

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := c.Call(ctx, testService, "Deadline", &types.Empty{}, &types.Empty{}); err != nil {
		t.Fatal(err)
	}
	if d := <-seen; d <= 59*time.Minute || d > time.Hour {
		t.Fatalf("handler saw %v left, want just under 1h", d)
	}
	if err := c.Call(context.Background(), testService, "Deadline", &types.Empty{}, &types.Empty{}); err != nil {
		t.Fatal(err)
	}
	if d := <-seen; d != -1 {
		t.Fatalf("handler saw a deadline (%v) the caller did not set", d)
	}

	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	err := c.Call(short, testService, "Wait", &types.Empty{}, &types.Empty{})
	if !errors.Is(err, context.DeadlineExceeded) && status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
}

// TestServerKilledMidCall: the server's connection dies with a call
// pending; the call and later calls fail with ErrClosed, and the on-close
// function runs exactly once.
func TestServerKilledMidCall(t *testing.T) {
	checkLeaks(t)
	cconn, sconn := net.Pipe()
	var closes atomic.Int32
	c := NewClient(cconn, WithOnClose(func() { closes.Add(1) }))
	defer c.Close()
	result := make(chan error, 1)
	go func() { result <- c.Call(context.Background(), "svc", "M", &types.Empty{}, &types.Empty{}) }()
	readFrame(t, sconn)
	sconn.Close()
	select {
	case err := <-result:
		if err != ErrClosed {
			t.Fatalf("pending call got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending call did not fail")
	}
	if err := c.Call(context.Background(), "svc", "M", &types.Empty{}, &types.Empty{}); err != ErrClosed {
		t.Fatalf("later call got %v, want ErrClosed", err)
	}
	if err := c.UserOnCloseWait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if n := closes.Load(); n != 1 {
		t.Fatalf("on-close ran %d times", n)
	}
}

// TestCloseWithCallsInFlight: Server.Close cancels running handlers and the
// pending calls fail with ErrClosed.
func TestCloseWithCallsInFlight(t *testing.T) {
	checkLeaks(t)
	entered := make(chan struct{}, 4)
	handlerCtxDone := make(chan struct{}, 4)
	s, path := startServer(t, map[string]Method{"Hold": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		entered <- struct{}{}
		<-ctx.Done()
		handlerCtxDone <- struct{}{}
		return nil, ctx.Err()
	}})
	c := dial(t, path)
	const n = 3
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { results <- c.Call(context.Background(), testService, "Hold", &types.Empty{}, &types.Empty{}) }()
	}
	for i := 0; i < n; i++ {
		waitFor(t, entered, "handlers to start")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		waitFor(t, handlerCtxDone, "handler contexts to be cancelled")
		select {
		case err := <-results:
			if err != ErrClosed {
				t.Fatalf("call got %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("call did not fail after Close")
		}
	}
}

// TestClientClose: Close fails pending and later calls with ErrClosed and is
// idempotent.
func TestClientClose(t *testing.T) {
	checkLeaks(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	_, path := startServer(t, map[string]Method{"Hold": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &types.Empty{}, nil
	}})
	var closes atomic.Int32
	c := dial(t, path, WithOnClose(func() { closes.Add(1) }))
	result := make(chan error, 1)
	go func() { result <- c.Call(context.Background(), testService, "Hold", &types.Empty{}, &types.Empty{}) }()
	waitFor(t, entered, "handler")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-result; err != ErrClosed {
		t.Fatalf("pending call got %v", err)
	}
	if err := c.Call(context.Background(), testService, "Hold", &types.Empty{}, &types.Empty{}); err != ErrClosed {
		t.Fatalf("call after close got %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UserOnCloseWait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if closes.Load() != 1 {
		t.Fatalf("on-close ran %d times", closes.Load())
	}
}

// TestUserOnCloseWaitHonoursContext: waiting on a live client ends with the
// context.
func TestUserOnCloseWaitHonoursContext(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{"Echo": echoMethod})
	c := dial(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := c.UserOnCloseWait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// TestHandlerErrorsMapToCodes checks the error-to-code table of SPEC §3 and
// that status errors keep their details.
func TestHandlerErrorsMapToCodes(t *testing.T) {
	checkLeaks(t)
	detailed, _ := status.New(codes.AlreadyExists, "exists").WithDetails(&types.StringValue{Value: "detail"})
	cases := []struct {
		err  error
		code codes.Code
	}{
		{io.EOF, codes.OutOfRange},
		{io.ErrUnexpectedEOF, codes.FailedPrecondition},
		{io.ErrClosedPipe, codes.FailedPrecondition},
		{io.ErrShortWrite, codes.FailedPrecondition},
		{io.ErrShortBuffer, codes.FailedPrecondition},
		{io.ErrNoProgress, codes.FailedPrecondition},
		{os.ErrInvalid, codes.InvalidArgument},
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{&os.PathError{Op: "mkdir", Path: "/x", Err: os.ErrExist}, codes.AlreadyExists},
		{&os.PathError{Op: "open", Path: "/x", Err: os.ErrNotExist}, codes.NotFound},
		{&os.PathError{Op: "open", Path: "/x", Err: os.ErrPermission}, codes.PermissionDenied},
		{fmt.Errorf("wrapped: %w", io.EOF), codes.OutOfRange},
		{errors.New("boom"), codes.Unknown},
		{status.Error(codes.Aborted, "aborted"), codes.Aborted},
		{fmt.Errorf("wrapped status: %w", status.Error(codes.Unavailable, "x")), codes.Unavailable},
		{fmt.Errorf("create: %w", status.Error(codes.NotFound, "x")), codes.NotFound},
		{detailed.Err(), codes.AlreadyExists},
	}
	var next atomic.Int32
	_, path := startServer(t, map[string]Method{"Fail": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		return nil, cases[next.Load()].err
	}})
	c := dial(t, path)
	for i, tc := range cases {
		next.Store(int32(i))
		err := c.Call(testCtx(t), testService, "Fail", &types.Empty{}, &types.Empty{})
		st, ok := status.FromError(err)
		if !ok {
			t.Fatalf("%v: not a status error: %v", tc.err, err)
		}
		if st.Code() != tc.code {
			t.Errorf("%v: code %v, want %v", tc.err, st.Code(), tc.code)
		}
		// A status error keeps its own message; a wrapped one gives the
		// whole text with its message in place of its error text ("create:
		// x"); any other error's text becomes the message.
		want := tc.err.Error()
		if se, ok := tc.err.(interface{ GRPCStatus() *status.Status }); ok {
			want = se.GRPCStatus().Message()
		} else if inner := errors.Unwrap(tc.err); inner != nil {
			if st, ok := status.FromError(inner); ok {
				want = strings.Replace(want, inner.Error(), st.Message(), 1)
			}
		}
		if st.Message() != want {
			t.Errorf("%v: message %q, want %q", tc.err, st.Message(), want)
		}
	}
	// Details survive the trip.
	next.Store(int32(len(cases) - 1))
	err := c.Call(testCtx(t), testService, "Fail", &types.Empty{}, &types.Empty{})
	details := status.Convert(err).Proto().Details
	if len(details) != 1 || details[0].TypeUrl != "type.googleapis.com/google.protobuf.StringValue" {
		t.Fatalf("details %v", details)
	}
	var sv types.StringValue
	if err := sv.Unmarshal(details[0].Value); err != nil || sv.Value != "detail" {
		t.Fatalf("detail %q (%v)", sv.Value, err)
	}
}

// TestNilResponse: a handler returning a nil response and a nil error, be
// the nil an interface or a typed pointer (a generated method's "return nil,
// nil"), fails the call with UNKNOWN "ttrpc: marshal called with nil", as the
// 1.0 line does.
func TestNilResponse(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{
		"Nil": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			return nil, nil
		},
		"TypedNil": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			return (*types.StringValue)(nil), nil
		},
		"NotAMessage": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			return "a string", nil
		},
	})
	c := dial(t, path)
	err := c.Call(testCtx(t), testService, "Nil", &types.Empty{}, &types.Empty{})
	assertCode(t, err, codes.Unknown, "ttrpc: marshal called with nil")
	out := types.StringValue{Value: "old"}
	err = c.Call(testCtx(t), testService, "TypedNil", &types.Empty{}, &out)
	assertCode(t, err, codes.Unknown, "ttrpc: marshal called with nil")
	err = c.Call(testCtx(t), testService, "NotAMessage", &types.Empty{}, &types.Empty{})
	assertCode(t, err, codes.Internal, "")
	// Bad arguments on the client side are clear errors.
	if err := c.Call(testCtx(t), testService, "Nil", "not a message", &types.Empty{}); err == nil {
		t.Fatal("marshalling a string succeeded")
	}
	if err := c.Call(testCtx(t), testService, "TypedNil", &types.Empty{}, nil); err == nil {
		t.Fatal("decoding into nil succeeded")
	}
	if err := c.Call(testCtx(t), testService, "TypedNil", &types.Empty{}, (*types.StringValue)(nil)); err == nil {
		t.Fatal("decoding into a nil pointer succeeded")
	}
}

// TestInvalidUTF8Refused: names and metadata that protobuf requires to be
// UTF-8 are refused by the client before anything is sent.
func TestInvalidUTF8Refused(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{"Echo": echoMethod})
	plain := dial(t, path)
	intercepted := dial(t, path, WithUnaryClientInterceptor(func(ctx context.Context, req *Request, resp *Response, _ *UnaryClientInfo, inv Invoker) error {
		return inv(ctx, req, resp)
	}))
	for _, c := range []*Client{plain, intercepted} {
		err := c.Call(testCtx(t), testService+"\xff", "Echo", &types.BytesValue{}, &types.BytesValue{})
		assertCode(t, err, codes.InvalidArgument, "")
		ctx := WithMetadata(testCtx(t), MD{"k": {"\xfe"}})
		err = c.Call(ctx, testService, "Echo", &types.BytesValue{}, &types.BytesValue{})
		assertCode(t, err, codes.InvalidArgument, "")
		echo(t, c, []byte("still fine"))
	}
}
