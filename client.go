package ttrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/containerd/ttrpc/internal/bufpool"
	"github.com/containerd/ttrpc/internal/flow"
	"github.com/containerd/ttrpc/internal/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrClosed is returned by calls made on, or pending on, a client whose
// connection is closed or broken, and by a client whose server refused its
// connection during the handshake (the server then simply closes it).
var ErrClosed = errors.New("ttrpc: closed")

// errIDsExhausted is what calls fail with on a connection that has used
// every stream id: servers require each request's id to be above the last.
var errIDsExhausted = fmt.Errorf("%w: every stream id of this connection has been used; dial a new one", ErrClosed)

// errNilConn is what every call of a client made by NewClient(nil) returns.
var errNilConn = fmt.Errorf("%w: NewClient was given a nil net.Conn", ErrClosed)

// Client makes calls over one connection, which it owns. It is safe for use
// by many goroutines at once: their calls and streams share the connection,
// each on its own stream id, and a slow one does not hold up the others.
//
// Call makes a unary call; NewStream opens a stream. Both fail with ErrClosed
// once the connection is closed or broken, and with the context's error when
// their ctx ends first. Close the client when done with it; the function
// given WithOnClose runs once the client has shut down, whatever the cause.
type Client struct {
	// How a call travels, in this file and four others:
	//   - client.go: the table of open streams (a unary call is a stream of
	//     one request and one response) and the calls that use it;
	//   - client_send.go: the write side, which puts frames on the wire in
	//     the order their stream ids were taken;
	//   - client_recv.go: the read side, which hands each frame to its
	//     stream's queue;
	//   - client_stream.go: streams and their flow control.
	conn   net.Conn
	reader *frameReader

	unaryInterceptor  UnaryClientInterceptor
	streamInterceptor ClientStreamInterceptor
	unaryChain        []UnaryClientInterceptor
	streamChain       []ClientStreamInterceptor
	foldChains        func(*Client) // set by the chain options; see chainUnaryClient

	userCloseFunc   func()
	userCloseWaitCh chan struct{}
	done            chan struct{} // closed when the client shuts down
	closeOnce       sync.Once
	closeErr        error // what calls fail with once done is closed

	budget *flow.Budget // bytes streams' queues may hold beyond their windows
	window int64        // receive window offered to servers on each stream

	// mu guards the stream table, the write queue (client_send.go) and the
	// read side's ownership (client_recv.go).
	mu      sync.Mutex
	closed  bool
	nextID  streamID
	streams map[streamID]*clientStream
	ws      writeSide
	rd      readSide
	rwake   chan struct{}
}

// ClientOpts configures a Client in NewClient.
type ClientOpts func(c *Client)

// WithOnClose registers a function that runs once when the client shuts down,
// whether by Close or because the connection failed.
func WithOnClose(onClose func()) ClientOpts {
	return func(c *Client) {
		if onClose != nil {
			c.userCloseFunc = onClose
		}
	}
}

// WithUnaryClientInterceptor makes the client run i around every call. It
// is the outermost interceptor, around any installed with
// WithChainUnaryClientInterceptor; given twice, the later one wins.
func WithUnaryClientInterceptor(i UnaryClientInterceptor) ClientOpts {
	return func(c *Client) { c.unaryInterceptor = i }
}

// WithChainUnaryClientInterceptor makes the client run interceptors around
// every call, the first outermost. Several of these options add up, in the
// order given.
func WithChainUnaryClientInterceptor(interceptors ...UnaryClientInterceptor) ClientOpts {
	return func(c *Client) {
		c.unaryChain = append(c.unaryChain, interceptors...)
		c.foldChains = foldClientChains
	}
}

// WithClientStreamInterceptor makes the client run i around the opening of
// every stream (NewStream). It is the outermost, around any installed with
// WithChainClientStreamInterceptor; given twice, the later one wins.
func WithClientStreamInterceptor(i ClientStreamInterceptor) ClientOpts {
	return func(c *Client) { c.streamInterceptor = i }
}

// WithChainClientStreamInterceptor makes the client run interceptors around
// the opening of every stream, the first outermost.
func WithChainClientStreamInterceptor(interceptors ...ClientStreamInterceptor) ClientOpts {
	return func(c *Client) {
		c.streamChain = append(c.streamChain, interceptors...)
		c.foldChains = foldClientChains
	}
}

// WithClientStreamBuffer sets how many bytes of received stream messages the
// client may hold for streams whose readers are slow, beyond what per-stream
// flow control already bounds (default 16 MiB). Servers of the established
// library send without flow control; when their streams' unread messages
// exceed this, the client stops reading the connection, and so delays its
// other calls, until the streams' readers catch up. bytes <= 0 means no limit.
func WithClientStreamBuffer(bytes int) ClientOpts {
	return func(c *Client) { c.budget = flow.NewBudget(bytes) }
}

// defaultStreamBuffer is the default per-connection budget for stream
// messages held beyond their windows, on both ends.
const defaultStreamBuffer = 16 << 20

// NewClient starts a client on conn and returns it. The client owns conn from
// now on and closes it in Close. A nil conn gives a client that is closed
// already: its calls fail with an error that wraps ErrClosed and says why.
func NewClient(conn net.Conn, opts ...ClientOpts) *Client {
	c := &Client{
		conn:            conn,
		userCloseFunc:   func() {},
		userCloseWaitCh: make(chan struct{}),
		done:            make(chan struct{}),
		closeErr:        ErrClosed,
		budget:          flow.NewBudget(defaultStreamBuffer),
		window:          defaultWindow,
		nextID:          1,
		streams:         make(map[streamID]*clientStream),
		rwake:           make(chan struct{}, 1),
	}
	c.ws.wake = make(chan struct{}, 1)
	for _, o := range opts {
		o(c)
	}
	if c.foldChains != nil {
		c.foldChains(c)
	}
	if conn == nil {
		c.closeErr = errNilConn
		c.shutdown()
		go func() {
			c.userCloseFunc()
			close(c.userCloseWaitCh)
		}()
		return c
	}
	c.reader = newFrameReader(conn)
	c.initDirectWrite()
	c.rd.watch = idleWatch
	c.rd.owner = readerReceiver // watch the connection from the start
	c.rwake <- struct{}{}
	go c.receive()
	go c.send()
	return c
}

// Call makes a unary call: it sends req to service/method and decodes the
// reply into resp, which must be a non-nil pointer to a message. A non-OK
// reply status comes back as a grpc status error (status.FromError gives its
// code, message and details); a closed or broken connection as ErrClosed;
// an ended ctx as ctx.Err(). ctx's deadline and metadata (WithMetadata) go
// to the server with the request.
func (c *Client) Call(ctx context.Context, service, method string, req, resp interface{}) error {
	if err := checkResp(resp); err != nil {
		return err
	}
	if c.unaryInterceptor == nil {
		return c.call(ctx, service, method, req, resp)
	}
	payload, err := codec{}.Marshal(req)
	if err != nil {
		return err
	}
	creq := &Request{
		Service:     service,
		Method:      method,
		Payload:     payload,
		TimeoutNano: timeoutNano(ctx),
	}
	if md, ok := GetMetadata(ctx); ok {
		creq.Metadata = md.appendKeyValues(nil)
	}
	cresp := &Response{}
	info := &UnaryClientInfo{FullMethod: fullMethod(service, method)}
	if err := c.unaryInterceptor(ctx, creq, cresp, info, c.dispatch); err != nil {
		return err
	}
	return decodeResult(cresp, resp)
}

// checkResp refuses, before anything is sent, a resp that no reply could be
// decoded into.
func checkResp(resp interface{}) error {
	v := reflect.ValueOf(resp)
	if !v.IsValid() || v.Kind() != reflect.Ptr || v.IsNil() {
		return fmt.Errorf("ttrpc: Call needs a non-nil pointer to a message to decode the reply into, not %T", resp)
	}
	return nil
}

// call is Call without an interceptor: the request frame is built around the
// marshaled payload in one pooled buffer, and the reply decoded in place.
func (c *Client) call(ctx context.Context, service, method string, req, resp interface{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	md, _ := GetMetadata(ctx)
	if err := checkUTF8(service, method, md, nil); err != nil {
		return err
	}
	frame, start, err := encodeRequestFrame(service, method, req, timeoutNano(ctx), md, 0, 0)
	if err != nil {
		return err
	}
	p, err := c.roundTrip(ctx, frame, start)
	if err != nil {
		return err
	}
	defer bufpool.Put(p)
	var r Response
	if err := r.decode(*p); err != nil {
		return status.Errorf(codes.Internal, "ttrpc: invalid response: %v", err)
	}
	return decodeResult(&r, resp)
}

// dispatch is the Invoker at the end of the client's interceptor chain. It
// fills in resp from the reply and returns nil even when the reply carries
// an error status: that is in resp.Status, for Call to return.
func (c *Client) dispatch(ctx context.Context, req *Request, resp *Response) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkUTF8(req.Service, req.Method, nil, req.Metadata); err != nil {
		return err
	}
	frame := newFrame(req.Size())
	*frame = req.appendTo(*frame)
	if err := finishFrame(*frame, 0, messageTypeRequest, 0); err != nil {
		bufpool.Put(frame)
		return err
	}
	p, err := c.roundTrip(ctx, frame, 0)
	if err != nil {
		return err
	}
	defer bufpool.Put(p)
	if err := resp.Unmarshal(*p); err != nil {
		return status.Errorf(codes.Internal, "ttrpc: invalid response: %v", err)
	}
	return nil
}

// roundTrip opens a unary stream with the request frame and waits for the
// response frame's data. The frame belongs to roundTrip from the start.
func (c *Client) roundTrip(ctx context.Context, frame *[]byte, start int) (*[]byte, error) {
	s := getUnaryStream(c)
	if err := c.open(s, frame, start); err != nil {
		putUnaryStream(s)
		return nil, err
	}
	f, err := c.await(ctx, s)
	if err != nil {
		return nil, err
	}
	putUnaryStream(s)
	if f.err != nil {
		return nil, f.err
	}
	return f.p, nil
}

// await waits for the first frame of unary stream s: reading it from the
// connection itself when nobody else reads (client_recv.go), or from its
// queue. If ctx ends first, s is abandoned: its request, unless already
// begun, is never written, and a late reply is dropped.
func (c *Client) await(ctx context.Context, s *clientStream) (inFrame, error) {
	if c.needFrame(s, waitMessage, true) {
		return c.readOwn(ctx, s)
	}
	return c.awaitQueue(ctx, s)
}

// awaitQueue is await for a caller whose frame another goroutine delivers.
func (c *Client) awaitQueue(ctx context.Context, s *clientStream) (inFrame, error) {
	defer c.stopWaiting(s, waitMessage)
	for {
		if f, _, ok, _ := s.in.TryPop(); ok {
			return f, nil
		}
		// Counted as waiting until the frame comes, so that somebody
		// reads for us (once counted, somebody does until the count is
		// taken back).
		if !s.waits[waitMessage].Load() {
			c.needFrame(s, waitMessage, false)
		}
		select {
		case <-s.in.Ready():
		case <-c.done:
			if f, _, ok, _ := s.in.TryPop(); ok { // the reply won the race with the close
				return f, nil
			}
			return inFrame{}, c.closeErr
		case <-ctx.Done():
			c.abandon(s)
			return inFrame{}, ctx.Err()
		}
	}
}

// open enters s in the stream table under a new stream id and sends its
// request frame. The id is taken under the same lock that orders the write
// queue, so request frames leave in increasing id order whoever writes them:
// servers of the established 1.2 line refuse an id below one they have seen.
func (c *Client) open(s *clientStream, frame *[]byte, start int) error {
	c.mu.Lock()
	if c.closed || c.ws.broken {
		c.mu.Unlock()
		bufpool.Put(frame)
		return c.closeErr
	}
	if c.nextID == 0 {
		// Ids must increase, and 2^32-1 has been used: the connection
		// can open no more streams (after some 2^31 of them).
		c.mu.Unlock()
		bufpool.Put(frame)
		return errIDsExhausted
	}
	s.id = c.nextID
	c.nextID += 2 // odd ids only; after 2^32-1 this is 0, which stops open
	if c.nextID == 1 {
		c.nextID = 0
	}
	c.streams[s.id] = s
	putStreamID((*frame)[start:], s.id)
	c.writeLocked(outFrame{s: s, frame: frame, start: start, kind: frameOpen})
	return nil
}

// abandon takes s out of the stream table: frames of s not yet begun are
// not written, and frames that arrive for it are dropped.
func (c *Client) abandon(s *clientStream) {
	s.abandoned.Store(true)
	c.mu.Lock()
	if c.streams[s.id] == s {
		delete(c.streams, s.id)
	}
	c.mu.Unlock()
	s.in.Abort(context.Canceled)
}

// checkUTF8 refuses strings that protobuf requires to be UTF-8 but are not:
// a server would reject the request as invalid, so fail before sending.
func checkUTF8(service, method string, md MD, kvs []*KeyValue) error {
	if !utf8.ValidString(service) || !utf8.ValidString(method) {
		return status.Errorf(codes.InvalidArgument, "ttrpc: service and method names must be valid UTF-8: %q, %q", service, method)
	}
	for k, values := range md {
		for _, v := range values {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return status.Errorf(codes.InvalidArgument, "ttrpc: metadata must be valid UTF-8: %q: %q", k, v)
			}
		}
	}
	for _, kv := range kvs {
		if !utf8.ValidString(kv.Key) || !utf8.ValidString(kv.Value) {
			return status.Errorf(codes.InvalidArgument, "ttrpc: metadata must be valid UTF-8: %q: %q", kv.Key, kv.Value)
		}
	}
	return nil
}

func decodeResult(r *Response, resp interface{}) error {
	if r.Status != nil && r.Status.Code != int32(codes.OK) {
		return status.ErrorProto(r.Status)
	}
	if err := (codec{}).Unmarshal(r.Payload, resp); err != nil {
		return status.Errorf(codes.Internal, "ttrpc: decoding response: %v", err)
	}
	return nil
}

// timeoutNano is the time left before ctx's deadline, or 0 for none. A
// deadline that has just passed still sends a positive timeout, never the
// 0 that would mean "no deadline".
func timeoutNano(ctx context.Context) int64 {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	d := time.Until(dl)
	if d <= 0 {
		return 1
	}
	return int64(d)
}

// Request frames are built in one pooled buffer: shiftRoom spare bytes, the
// header, service and method, the payload key and room for its longest
// length, then the payload marshaled in place. Once the payload's length is
// known the bytes before it are shifted right so the length is written in its
// shortest (canonical) form, and the frame starts shiftRoom-shift bytes in.
// A nil msg sends no payload.
const shiftRoom = 5

func encodeRequestFrame(service, method string, msg interface{}, timeout int64, md MD, window int64, flags uint8) (*[]byte, int, error) {
	p := bufpool.Get(shiftRoom + messageHeaderLength + 2*wire.SizeBytes(len(service)+len(method)) + 6 + 512)
	b := (*p)[:shiftRoom+messageHeaderLength]
	if service != "" {
		b = wire.AppendString(b, 1, service)
	}
	if method != "" {
		b = wire.AppendString(b, 2, method)
	}
	tagAt := len(b)
	b = append(b, 3<<3|wire.TypeBytes, 0, 0, 0, 0, 0)
	*p = b
	if msg != nil {
		var err error
		p, err = codec{}.marshalInto(p, msg)
		if err != nil {
			bufpool.Put(p)
			return nil, 0, err
		}
	}
	b = *p
	start := shiftRoom
	if n := len(b) - (tagAt + 6); n == 0 {
		b = b[:tagAt]
	} else {
		l := wire.SizeVarint(uint64(n))
		shift := 5 - l
		if shift > 0 {
			copy(b[shiftRoom+shift:], b[shiftRoom:tagAt+1])
		}
		start += shift
		wire.AppendVarint(b[tagAt+1+shift:tagAt+1+shift], uint64(n))
	}

	extra := 0
	if timeout > 0 {
		extra += 1 + wire.SizeVarint(uint64(timeout))
	}
	for k, values := range md {
		for _, v := range values {
			kv := KeyValue{Key: k, Value: v}
			extra += wire.SizeBytes(kv.Size())
		}
	}
	if window > 0 {
		extra += wire.SizeVarint(requestWindowField<<3) + wire.SizeVarint(uint64(window))
	}
	if extra > 0 {
		*p = b
		p = ensure(p, extra)
		b = *p
		if timeout > 0 {
			b = wire.AppendTag(b, 4, wire.TypeVarint)
			b = wire.AppendVarint(b, uint64(timeout))
		}
		for k, values := range md {
			for _, v := range values {
				kv := KeyValue{Key: k, Value: v}
				b = wire.AppendTag(b, 5, wire.TypeBytes)
				b = wire.AppendVarint(b, uint64(kv.Size()))
				b = kv.appendTo(b)
			}
		}
		if window > 0 {
			b = wire.AppendTag(b, requestWindowField, wire.TypeVarint)
			b = wire.AppendVarint(b, uint64(window))
		}
	}
	*p = b
	if err := finishFrame(b[start:], 0, messageTypeRequest, flags); err != nil {
		bufpool.Put(p)
		return nil, 0, err
	}
	return p, start, nil
}

// shutdown closes the client once: later and pending calls fail with
// ErrClosed, every stream's queue ends, and closing the connection ends the
// receiver.
func (c *Client) shutdown() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		streams := c.streams
		c.streams = nil
		if c.rd.lease != nil {
			c.rd.lease.Stop()
		}
		c.mu.Unlock()
		close(c.done)
		if c.conn != nil {
			c.conn.Close()
		}
		for _, s := range streams {
			s.remoteEnded()
			s.in.Close(c.closeErr)
		}
	})
}

// isClosed reports whether the client has shut down.
func (c *Client) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Close closes the connection. Pending and later calls fail with ErrClosed.
// It may be called more than once.
func (c *Client) Close() error {
	c.shutdown()
	return nil
}

// UserOnCloseWait waits until the function given with WithOnClose has run
// after the client shut down, or until ctx ends (it then returns ctx.Err()).
func (c *Client) UserOnCloseWait(ctx context.Context) error {
	select {
	case <-c.userCloseWaitCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
