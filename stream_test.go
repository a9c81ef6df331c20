package ttrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// streamService is a test service with one stream of each kind. Handlers
// report what they saw on the channels of the struct.
type streamService struct {
	// Count streams back Count messages ("0", "1", ...) of the request's
	// value size, then returns nil.
	started chan context.Context // every handler's ctx, when it starts
	ended   chan error           // every handler's ctx error when it returns
	sent    atomic.Int64
}

func newStreamService() *streamService {
	return &streamService{started: make(chan context.Context, 1024), ended: make(chan error, 1024)}
}

func (s *streamService) desc() *ServiceDesc {
	return &ServiceDesc{
		Methods: map[string]Method{"Echo": echoMethod},
		Streams: map[string]Stream{
			// Download: the request says how many messages of what size.
			"Download": {Handler: s.download, StreamingServer: true},
			// Upload: sums the sizes of what the client sends.
			"Upload": {Handler: s.upload, StreamingClient: true},
			// Chat: echoes each message back.
			"Chat": {Handler: s.chat, StreamingClient: true, StreamingServer: true},
			// Block: waits for its ctx to end.
			"Block": {Handler: s.block, StreamingServer: true},
			// Meta: sends back the metadata and deadline it saw.
			"Meta": {Handler: s.meta, StreamingServer: true},
			// Fail: fails with NOT_FOUND after one message.
			"Fail": {Handler: s.fail, StreamingServer: true},
		},
	}
}

// enter reports a handler's start, and returns what reports its end. Tests
// that start more handlers than the channels hold do not read them.
func (s *streamService) enter(ctx context.Context) func() {
	select {
	case s.started <- ctx:
	default:
	}
	return func() {
		select {
		case s.ended <- ctx.Err():
		default:
		}
	}
}

func (s *streamService) download(ctx context.Context, ss StreamServer) (interface{}, error) {
	defer s.enter(ctx)()
	var req types.StringValue // "count size"
	if err := ss.RecvMsg(&req); err != nil {
		return nil, err
	}
	var n, size int
	if _, err := fmt.Sscanf(req.Value, "%d %d", &n, &size); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	for i := 0; i < n; i++ {
		if err := ss.SendMsg(&types.BytesValue{Value: []byte(fmt.Sprintf("%d:%s", i, strings.Repeat("x", size)))}); err != nil {
			return nil, err
		}
		s.sent.Add(1)
	}
	return nil, nil
}

func (s *streamService) upload(ctx context.Context, ss StreamServer) (interface{}, error) {
	defer s.enter(ctx)()
	total := 0
	for {
		var m types.BytesValue
		err := ss.RecvMsg(&m)
		if err == io.EOF {
			return &types.Int64Value{Value: int64(total)}, nil
		}
		if err != nil {
			return nil, err
		}
		total += len(m.Value)
	}
}

func (s *streamService) chat(ctx context.Context, ss StreamServer) (interface{}, error) {
	defer s.enter(ctx)()
	for {
		var m types.BytesValue
		err := ss.RecvMsg(&m)
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if err := ss.SendMsg(&m); err != nil {
			return nil, err
		}
	}
}

func (s *streamService) block(ctx context.Context, ss StreamServer) (interface{}, error) {
	defer s.enter(ctx)()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *streamService) meta(ctx context.Context, ss StreamServer) (interface{}, error) {
	defer s.enter(ctx)()
	var req types.Empty
	if err := ss.RecvMsg(&req); err != nil {
		return nil, err
	}
	v, _ := GetMetadataValue(ctx, "who")
	dl, ok := ctx.Deadline()
	left := time.Duration(0)
	if ok {
		left = time.Until(dl)
	}
	if err := ss.SendMsg(&types.StringValue{Value: v}); err != nil {
		return nil, err
	}
	return &types.Int64Value{Value: int64(left)}, nil
}

func (s *streamService) fail(ctx context.Context, ss StreamServer) (interface{}, error) {
	defer s.enter(ctx)()
	if err := ss.SendMsg(&types.StringValue{Value: "one"}); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.NotFound, "gone")
}

// startStreamServer serves a streamService as testService.
func startStreamServer(t *testing.T, opts ...ServerOpt) (*streamService, *Server, string) {
	t.Helper()
	svc := newStreamService()
	s, path := startServer(t, nil, opts...)
	s.RegisterService(testService, svc.desc())
	return svc, s, path
}

var (
	serverStreamDesc = &StreamDesc{StreamingServer: true}
	clientStreamDesc = &StreamDesc{StreamingClient: true}
	bidiStreamDesc   = &StreamDesc{StreamingClient: true, StreamingServer: true}
)

func TestStreamServer(t *testing.T) {
	checkLeaks(t)
	_, _, path := startStreamServer(t)
	c := dial(t, path)
	s, err := c.NewStream(testCtx(t), serverStreamDesc, testService, "Download", &types.StringValue{Value: "100 1000"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		var m types.BytesValue
		if err := s.RecvMsg(&m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf("%d:", i); !strings.HasPrefix(string(m.Value), want) || len(m.Value) != len(want)+1000 {
			t.Fatalf("message %d: %.10q (%d bytes)", i, m.Value, len(m.Value))
		}
	}
	for i := 0; i < 3; i++ { // the end is sticky
		if err := s.RecvMsg(&types.BytesValue{}); err != io.EOF {
			t.Fatalf("after the last message: %v, want io.EOF", err)
		}
	}
	if err := s.SendMsg(&types.Empty{}); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("SendMsg on a server stream: %v", err)
	}
}

func TestStreamClient(t *testing.T) {
	checkLeaks(t)
	_, _, path := startStreamServer(t)
	c := dial(t, path)
	s, err := c.NewStream(testCtx(t), clientStreamDesc, testService, "Upload", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := 0; i < 200; i++ {
		if err := s.SendMsg(&types.BytesValue{Value: make([]byte, i)}); err != nil {
			t.Fatal(err)
		}
		want += i
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatalf("second CloseSend: %v", err)
	}
	if err := s.SendMsg(&types.BytesValue{}); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("SendMsg after CloseSend: %v", err)
	}
	var sum types.Int64Value
	if err := s.RecvMsg(&sum); err != nil {
		t.Fatal(err)
	}
	if sum.Value != int64(want) {
		t.Fatalf("server summed %d, want %d", sum.Value, want)
	}
	if err := s.RecvMsg(&sum); err != io.EOF {
		t.Fatalf("after the response: %v, want io.EOF", err)
	}
}

func TestStreamBidi(t *testing.T) {
	checkLeaks(t)
	_, _, path := startStreamServer(t)
	c := dial(t, path)
	s, err := c.NewStream(testCtx(t), bidiStreamDesc, testService, "Chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	// One side sends while the other receives, as the API allows.
	const n = 500
	sendErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := s.SendMsg(&types.BytesValue{Value: []byte(fmt.Sprint(i))}); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- s.CloseSend()
	}()
	for i := 0; i < n; i++ {
		var m types.BytesValue
		if err := s.RecvMsg(&m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if string(m.Value) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Value)
		}
	}
	if err := s.RecvMsg(&types.BytesValue{}); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
}

// TestStreamEmptyRequest: a server stream whose request is the empty
// message still gets it as its first message.
func TestStreamEmptyRequest(t *testing.T) {
	checkLeaks(t)
	svc, _, path := startStreamServer(t)
	c := dial(t, path)
	ctx := WithMetadata(testCtx(t), MD{"who": {"me"}})
	s, err := c.NewStream(ctx, serverStreamDesc, testService, "Meta", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	<-svc.started
	var who types.StringValue
	if err := s.RecvMsg(&who); err != nil {
		t.Fatal(err)
	}
	// Streams carry the caller's metadata and deadline.
	if who.Value != "me" {
		t.Fatalf("metadata seen by the handler: %q", who.Value)
	}
	var left types.Int64Value
	if err := s.RecvMsg(&left); err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(left.Value); d <= 0 || d > 30*time.Second {
		t.Fatalf("deadline seen by the handler: %v left", d)
	}
	if err := s.RecvMsg(&left); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestStreamErrorIsSticky: a stream that ends with a status gives it again
// on every RecvMsg, without blocking.
func TestStreamErrorIsSticky(t *testing.T) {
	checkLeaks(t)
	_, _, path := startStreamServer(t)
	c := dial(t, path)
	s, err := c.NewStream(testCtx(t), serverStreamDesc, testService, "Fail", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	var m types.StringValue
	if err := s.RecvMsg(&m); err != nil || m.Value != "one" {
		t.Fatalf("first message %q, %v", m.Value, err)
	}
	for i := 0; i < 3; i++ {
		assertCode(t, s.RecvMsg(&m), codes.NotFound, "gone")
	}
}

// TestStreamSlowReader: a reader that does not keep up loses nothing, and
// meanwhile unary calls on the same connection go through: flow control
// holds the server's handler back instead of filling the client.
func TestStreamSlowReader(t *testing.T) {
	checkLeaks(t)
	svc, _, path := startStreamServer(t)
	c := dial(t, path)
	const n, size = 400, 10 << 10 // 4 MB in all, 16 windows
	s, err := c.NewStream(testCtx(t), serverStreamDesc, testService, "Download", &types.StringValue{Value: fmt.Sprintf("%d %d", n, size)})
	if err != nil {
		t.Fatal(err)
	}
	// Wait, boundedly, for the handler to be stopped by the window.
	deadline := time.Now().Add(10 * time.Second)
	var last int64 = -1
	for {
		sent := svc.sent.Load()
		if sent == last && sent > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler never stalled: %d messages sent", sent)
		}
		last = sent
		time.Sleep(20 * time.Millisecond) // sampling, not synchronisation: the loop checks progress
	}
	if sent := svc.sent.Load(); sent*size > 2*defaultWindow+4*size {
		t.Fatalf("handler sent %d messages (%d bytes) to a reader that read none; window %d", sent, sent*size, defaultWindow)
	}
	for i := 0; i < 20; i++ {
		echo(t, c, []byte("not delayed"))
	}
	for i := 0; i < n; i++ {
		var m types.BytesValue
		if err := s.RecvMsg(&m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !strings.HasPrefix(string(m.Value), fmt.Sprintf("%d:", i)) {
			t.Fatalf("message %d out of order: %.10q", i, m.Value)
		}
	}
	if err := s.RecvMsg(&types.BytesValue{}); err != io.EOF {
		t.Fatal(err)
	}
}

// TestStreamCancel: a client that gives a stream up (its ctx ends) frees
// both ends: the handler's ctx ends, the stream leaves both tables, and the
// connection carries on.
func TestStreamCancel(t *testing.T) {
	checkLeaks(t)
	svc, srv, path := startStreamServer(t)
	c := dial(t, path)
	ctx, cancel := context.WithCancel(testCtx(t))
	s, err := c.NewStream(ctx, serverStreamDesc, testService, "Block", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	hctx := <-svc.started
	cancel()
	select {
	case <-hctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("handler's context did not end when the client cancelled")
	}
	if err := <-svc.ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler's ctx ended with %v", err)
	}
	if err := s.RecvMsg(&types.Empty{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("RecvMsg after cancel: %v", err)
	}
	waitNoStreams(t, c, srv)
	echo(t, c, []byte("still fine"))
}

// TestStreamDropped: a stream dropped without being read to the end or
// cancelled is abandoned once garbage-collected, on both ends.
func TestStreamDropped(t *testing.T) {
	checkLeaks(t)
	svc, srv, path := startStreamServer(t)
	c := dial(t, path)
	func() {
		_, err := c.NewStream(testCtx(t), serverStreamDesc, testService, "Block", &types.Empty{})
		if err != nil {
			t.Fatal(err)
		}
	}()
	hctx := <-svc.started
	for i := 0; ; i++ {
		runtime.GC()
		select {
		case <-hctx.Done():
			waitNoStreams(t, c, srv)
			echo(t, c, []byte("still fine"))
			return
		case <-time.After(10 * time.Millisecond):
		}
		if i == 500 {
			t.Fatal("dropped stream never abandoned")
		}
	}
}

// TestStreamDeadline: the stream's deadline reaches the handler and ends
// the stream on both sides.
func TestStreamDeadline(t *testing.T) {
	checkLeaks(t)
	svc, srv, path := startStreamServer(t)
	c := dial(t, path)
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	s, err := c.NewStream(ctx, serverStreamDesc, testService, "Block", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	<-svc.started
	// The server's copy of the deadline, or the client's reset when its
	// own copy fires, whichever comes first.
	if err := <-svc.ended; !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Fatalf("handler's ctx ended with %v", err)
	}
	// Either end may notice the deadline first: the client's own context,
	// or the server's DEADLINE_EXCEEDED status.
	if err := s.RecvMsg(&types.Empty{}); !errors.Is(err, context.DeadlineExceeded) && status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("RecvMsg: %v", err)
	}
	waitNoStreams(t, c, srv)
}

// TestStreamSendAfterServerReturned: SendMsg once the server has ended the
// stream is a clear error, and RecvMsg gives the server's result.
func TestStreamSendAfterServerReturned(t *testing.T) {
	checkLeaks(t)
	_, srv, path := startStreamServer(t)
	srv.RegisterService("early", &ServiceDesc{Streams: map[string]Stream{
		"Quit": {StreamingClient: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			return nil, status.Error(codes.FailedPrecondition, "not now")
		}},
	}})
	c := dial(t, path)
	s, err := c.NewStream(testCtx(t), clientStreamDesc, "early", "Quit", nil)
	if err != nil {
		t.Fatal(err)
	}
	assertCode(t, s.RecvMsg(&types.Empty{}), codes.FailedPrecondition, "not now")
	if err := s.SendMsg(&types.Empty{}); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("SendMsg after the server returned: %v", err)
	}
	waitNoStreams(t, c, srv)
}

// TestStreamManyConcurrent: many streams of every kind at once on one
// connection, with unary calls between them.
func TestStreamManyConcurrent(t *testing.T) {
	checkLeaks(t)
	_, _, path := startStreamServer(t)
	c := dial(t, path)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if err := oneOfEach(testCtx(t), c); err != nil {
					errs <- fmt.Errorf("goroutine %d round %d: %w", g, i, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func oneOfEach(ctx context.Context, c *Client) error {
	s, err := c.NewStream(ctx, serverStreamDesc, testService, "Download", &types.StringValue{Value: "5 100"})
	if err != nil {
		return err
	}
	for {
		if err := s.RecvMsg(&types.BytesValue{}); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
	}
	var out types.BytesValue
	if err := c.Call(ctx, testService, "Echo", &types.BytesValue{Value: []byte("x")}, &out); err != nil {
		return err
	}
	s, err = c.NewStream(ctx, bidiStreamDesc, testService, "Chat", nil)
	if err != nil {
		return err
	}
	for i := 0; i < 5; i++ {
		if err := s.SendMsg(&types.BytesValue{Value: []byte("y")}); err != nil {
			return err
		}
		if err := s.RecvMsg(&out); err != nil {
			return err
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	if err := s.RecvMsg(&out); err != io.EOF {
		return fmt.Errorf("chat end: %v", err)
	}
	return nil
}

// waitNoStreams waits, boundedly, until neither the client nor the
// server's connections hold a stream.
func waitNoStreams(t *testing.T, c *Client, srv *Server) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		c.mu.Lock()
		n := len(c.streams)
		c.mu.Unlock()
		srv.mu.Lock()
		for sc := range srv.conns {
			sc.mu.Lock()
			n += len(sc.streams)
			sc.mu.Unlock()
		}
		srv.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("streams left in the tables")
}

// TestStreamInterceptors: stream interceptors run on both ends, chained in
// order, outermost first.
func TestStreamInterceptors(t *testing.T) {
	checkLeaks(t)
	var order []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	serverI := func(name string) StreamServerInterceptor {
		return func(ctx context.Context, ss StreamServer, info *StreamServerInfo, h StreamHandler) (interface{}, error) {
			note(fmt.Sprintf("%s %s %v %v", name, info.FullMethod, info.StreamingClient, info.StreamingServer))
			return h(ctx, ss)
		}
	}
	clientI := func(name string) ClientStreamInterceptor {
		return func(ctx context.Context, desc *StreamDesc, info *StreamClientInfo, req interface{}, streamer Streamer) (ClientStream, error) {
			note(name + " " + info.FullMethod)
			return streamer(ctx, desc, req)
		}
	}
	_, _, path := startStreamServer(t,
		WithChainStreamServerInterceptor(serverI("s2"), serverI("s3")),
		WithStreamServerInterceptor(serverI("s1")))
	c := dial(t, path,
		WithChainClientStreamInterceptor(clientI("c2")),
		WithClientStreamInterceptor(clientI("c1")),
		WithChainClientStreamInterceptor(clientI("c3")))
	s, err := c.NewStream(testCtx(t), serverStreamDesc, testService, "Download", &types.StringValue{Value: "1 1"})
	if err != nil {
		t.Fatal(err)
	}
	for s.RecvMsg(&types.BytesValue{}) == nil {
	}
	mu.Lock()
	defer mu.Unlock()
	fm := "/" + testService + "/Download"
	want := []string{"c1 " + fm, "c2 " + fm, "c3 " + fm, "s1 " + fm + " false true", "s2 " + fm + " false true", "s3 " + fm + " false true"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("order %q, want %q", order, want)
	}
}

// TestStreamOnIdleConnectionIsRead: a stream opened while nobody reads the
// connection (a serial caller read its own reply and let go) hands the
// read side to the receiver at once, instead of its first message waiting
// for the idle lease to bring the receiver back.
func TestStreamOnIdleConnectionIsRead(t *testing.T) {
	checkLeaks(t)
	_, _, path := startStreamServer(t)
	c := dial(t, path)
	// The idle lease would hand the read side back to the receiver after
	// a while; here it never does, so every frame must be read by the
	// goroutine that waits for it.
	noLease(c)
	// A serial call on a unix socket reads its own reply, and the receiver
	// lets go of the read side once nobody waits.
	released := false
	for i := 0; i < 20 && !released; i++ {
		echo(t, c, []byte("serial"))
		o, _ := c.readOwner()
		released = o == readerNone
	}
	if !released {
		t.Fatal("the read side was never released after serial calls")
	}
	ctx := testCtx(t)
	for i := 0; i < 3; i++ {
		// A server stream: its RecvMsg reads its messages and its end.
		s, err := c.NewStream(ctx, serverStreamDesc, testService, "Download", &types.StringValue{Value: "3 10"})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 3; j++ {
			if err := s.RecvMsg(&types.BytesValue{}); err != nil {
				t.Fatalf("round %d, message %d: %v", i, j, err)
			}
		}
		if err := s.RecvMsg(&types.BytesValue{}); err != io.EOF {
			t.Fatalf("round %d, end: %v", i, err)
		}
		// A unary call while a bidi stream is open and idle, then the
		// stream's echo.
		b, err := c.NewStream(ctx, bidiStreamDesc, testService, "Chat", nil)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c, []byte("between"))
		if err := b.SendMsg(&types.BytesValue{Value: []byte("hi")}); err != nil {
			t.Fatal(err)
		}
		var m types.BytesValue
		if err := b.RecvMsg(&m); err != nil || string(m.Value) != "hi" {
			t.Fatalf("round %d, echo: %v %q", i, err, m.Value)
		}
		b.CloseSend()
		if err := b.RecvMsg(&m); err != io.EOF {
			t.Fatalf("round %d, chat end: %v", i, err)
		}
	}
	// A stream that waits for a message that does not come can be
	// cancelled while it reads.
	bctx, cancel := context.WithCancel(ctx)
	s, err := c.NewStream(bctx, serverStreamDesc, testService, "Block", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- s.RecvMsg(&types.Empty{}) }()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	echo(t, c, []byte("after")) // the connection is still usable
}

// TestStreamAnsweredMessagesInOrder: a stream that goes back and forth has
// its messages written directly by the sending goroutine on both ends when
// nothing else is being written, and queued otherwise. Mixed with streams
// that keep both write sides busy, and with messages too large for one
// socket write, every message still arrives whole and in order.
func TestStreamAnsweredMessagesInOrder(t *testing.T) {
	checkLeaks(t)
	_, _, path := startStreamServer(t)
	c := dial(t, path)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	// Background: downloads keep the server's writer busy, an upload the
	// client's.
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				s, err := c.NewStream(ctx, serverStreamDesc, testService, "Download", &types.StringValue{Value: "200 2000"})
				if err != nil {
					errs <- err
					return
				}
				for {
					var m types.BytesValue
					if err := s.RecvMsg(&m); err == io.EOF {
						break
					} else if err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	chatDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		s, err := c.NewStream(ctx, clientStreamDesc, testService, "Upload", nil)
		if err != nil {
			errs <- err
			return
		}
		sent := 0
		for more := true; more; {
			select {
			case <-chatDone:
				more = false
			default:
			}
			if err := s.SendMsg(&types.BytesValue{Value: make([]byte, 100<<10)}); err != nil {
				errs <- err
				return
			}
			sent += 100 << 10
		}
		s.CloseSend()
		var total types.Int64Value
		if err := s.RecvMsg(&total); err != nil || total.Value != int64(sent) {
			errs <- fmt.Errorf("upload: %v, total %d, sent %d", err, total.Value, sent)
		}
	}()

	s, err := c.NewStream(ctx, bidiStreamDesc, testService, "Chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ {
		size := 16
		if i%50 == 7 {
			size = 1 << 20 // more than a unix socket takes in one write
		}
		want := bytes.Repeat([]byte{byte(i)}, size)
		copy(want, fmt.Sprintf("%d:", i))
		if err := s.SendMsg(&types.BytesValue{Value: want}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		var got types.BytesValue
		if err := s.RecvMsg(&got); err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if !bytes.Equal(got.Value, want) {
			t.Fatalf("echo %d: got %d bytes starting %q, want %d starting %q", i, len(got.Value), got.Value[:min(8, len(got.Value))], len(want), want[:8])
		}
	}
	s.CloseSend()
	if err := s.RecvMsg(&types.BytesValue{}); err != io.EOF {
		t.Fatalf("chat end: %v", err)
	}
	close(chatDone)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
