package ttrpc

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/containerd/ttrpc/internal/bufpool"
	"github.com/containerd/ttrpc/internal/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrClosed is returned by calls made on, or pending on, a client whose
// connection is closed or broken.
var ErrClosed = errors.New("ttrpc: closed")

// Client makes calls over one connection. Calls from many goroutines are
// multiplexed on it, each on its own stream id.
//
// Three pieces of state, three owners: the call table (calls, nextID) is
// guarded by mu; the write side belongs to whoever holds the write token (the
// sender goroutine, or a lone caller; see client_send.go); the read side
// belongs to the receiver goroutine or, while calls come one at a time, to
// the caller waiting for its reply (see client_recv.go). Whoever reads hands
// other calls' replies to them through their buffered channels, so it never
// blocks on a caller or on writing.
type Client struct {
	conn        net.Conn
	reader      *frameReader
	interceptor UnaryClientInterceptor

	userCloseFunc   func()
	userCloseWaitCh chan struct{}

	sendq chan sendItem
	done  chan struct{} // closed when the client shuts down

	// The write side is owned by whoever holds the token in wtoken: the
	// sender goroutine, or a caller writing its own frame directly when the
	// sender is idle (see writeDirect). A direct writer that cannot finish
	// its frame without blocking passes the rest, and the token with it, to
	// the sender through handoff.
	wtoken    chan struct{}
	handoff   chan sendItem
	raw       syscall.RawConn // nil when conn has no non-blocking fd
	rawFn     func(fd uintptr) bool
	rawBuf    []byte // state of the current direct write, owned by the token holder
	rawN      int
	rawErr    error
	closeOnce sync.Once

	mu     sync.Mutex
	closed bool
	nextID streamID
	calls  map[streamID]*call
	rd     readSide // who reads; guarded by mu
	rwake  chan struct{}
}

// ClientOpts configures a Client in NewClient.
type ClientOpts func(c *Client)

// WithOnClose registers a function that runs once when the client shuts down,
// whether by Close or because the connection failed.
func WithOnClose(onClose func()) ClientOpts {
	return func(c *Client) { c.userCloseFunc = onClose }
}

// WithUnaryClientInterceptor makes the client run i around every call.
func WithUnaryClientInterceptor(i UnaryClientInterceptor) ClientOpts {
	return func(c *Client) { c.interceptor = i }
}

// NewClient starts a client on conn. The client owns conn from now on and
// closes it in Close.
func NewClient(conn net.Conn, opts ...ClientOpts) *Client {
	c := &Client{
		conn:            conn,
		reader:          newFrameReader(conn),
		userCloseFunc:   func() {},
		userCloseWaitCh: make(chan struct{}),
		sendq:           make(chan sendItem, 128),
		done:            make(chan struct{}),
		wtoken:          make(chan struct{}, 1),
		handoff:         make(chan sendItem, 1),
		nextID:          1,
		calls:           make(map[streamID]*call),
		rwake:           make(chan struct{}, 1),
	}
	c.wtoken <- struct{}{}
	c.initDirectWrite()
	c.rd.owner = readerReceiver // watch the connection from the start
	c.rwake <- struct{}{}
	for _, o := range opts {
		o(c)
	}
	go c.receive()
	go c.send()
	return c
}

// Call sends req to service/method and decodes the reply into resp. A non-OK
// reply status comes back as a grpc status error; a closed or broken
// connection as ErrClosed; an ended ctx as ctx.Err().
func (c *Client) Call(ctx context.Context, service, method string, req, resp interface{}) error {
	if c.interceptor == nil {
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
	if err := c.interceptor(ctx, creq, cresp, info, c.dispatch); err != nil {
		return err
	}
	return decodeResult(cresp, resp)
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
	frame, start, err := encodeRequestFrame(service, method, req, timeoutNano(ctx), md)
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

// dispatch is the Invoker handed to client interceptors.
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
const shiftRoom = 5

func encodeRequestFrame(service, method string, msg interface{}, timeout int64, md MD) (*[]byte, int, error) {
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
	p, err := codec{}.marshalInto(p, msg)
	if err != nil {
		bufpool.Put(p)
		return nil, 0, err
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
	}
	*p = b
	if err := finishFrame(b[start:], 0, messageTypeRequest, 0); err != nil {
		bufpool.Put(p)
		return nil, 0, err
	}
	return p, start, nil
}

// A call is one request waiting for its reply. Calls are reused once they
// complete normally; abandoned ones are left to the garbage collector, since
// the sender or receiver may still hold them.
type call struct {
	id    streamID
	state atomic.Int32
	resp  chan callResult // capacity 1: delivery never blocks

	// For a call that reads its own reply (client_recv.go): the client, and
	// the function that interrupts the read, made once per pooled call so
	// that arming it with context.AfterFunc costs no closure per call.
	client    *Client
	interrupt func()
}

// States of a call's request frame, moved on by compare-and-swap between the
// caller (which may abandon it) and the sender (which may claim it).
const (
	callQueued int32 = iota
	callSending
	callAbandoned
)

type callResult struct {
	p   *[]byte
	err error
}

var callPool = sync.Pool{New: func() interface{} {
	cl := &call{resp: make(chan callResult, 1)}
	cl.interrupt = func() { cl.client.interrupt(cl) }
	return cl
}}

// roundTrip sends the frame (whose stream id it fills in) and waits for the
// reply frame. The frame belongs to roundTrip from the start.
func (c *Client) roundTrip(ctx context.Context, frame *[]byte, start int) (*[]byte, error) {
	cl := callPool.Get().(*call)
	alone, err := c.register(cl)
	if err != nil {
		bufpool.Put(frame)
		callPool.Put(cl)
		return nil, err
	}
	binary.BigEndian.PutUint32((*frame)[start+4:], uint32(cl.id))
	cl.state.Store(callQueued)

	// A lone call writes its own frame; concurrent ones go through the
	// sender, which batches them into one writev.
	if !alone || !c.writeDirect(cl, frame, start) {
		select {
		case c.sendq <- sendItem{cl: cl, frame: frame, start: start}:
		case <-ctx.Done():
			c.forget(cl)
			bufpool.Put(frame)
			return nil, ctx.Err()
		case <-c.done:
			bufpool.Put(frame)
			return nil, ErrClosed
		}
	}

	if c.lead(cl) {
		return c.readOwn(ctx, cl)
	}
	select {
	case r := <-cl.resp:
		callPool.Put(cl)
		return r.p, r.err
	case <-c.done:
		select {
		case r := <-cl.resp: // the reply won the race with the close
			return r.p, r.err
		default:
			return nil, ErrClosed
		}
	case <-ctx.Done():
		c.forget(cl)
		// If the sender has not started on the frame it will skip it; if it
		// has, it finishes it so the stream stays in sync. Either way the
		// caller returns now.
		cl.state.CompareAndSwap(callQueued, callAbandoned)
		return nil, ctx.Err()
	}
}

// register gives cl a stream id and enters it in the call table. It reports
// whether cl is the only call in flight.
func (c *Client) register(cl *call) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false, ErrClosed
	}
	for {
		id := c.nextID
		c.nextID += 2 // odd ids only; wraps from 2^32-1 to 1
		if _, busy := c.calls[id]; !busy {
			cl.id = id
			c.calls[id] = cl
			return len(c.calls) == 1, nil
		}
	}
}

func (c *Client) forget(cl *call) {
	c.mu.Lock()
	if c.calls[cl.id] == cl {
		delete(c.calls, cl.id)
	}
	c.mu.Unlock()
}

// shutdown closes the client once: later and pending calls fail with
// ErrClosed, and closing the connection ends receive.
func (c *Client) shutdown() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.calls = nil
		if c.rd.lease != nil {
			c.rd.lease.Stop()
		}
		c.mu.Unlock()
		close(c.done)
		c.conn.Close()
	})
}

// Close closes the connection. Pending and later calls fail with ErrClosed.
// It may be called more than once.
func (c *Client) Close() error {
	c.shutdown()
	return nil
}

// UserOnCloseWait waits until the function given with WithOnClose has run
// after the client shut down, or until ctx ends.
func (c *Client) UserOnCloseWait(ctx context.Context) error {
	select {
	case <-c.userCloseWaitCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
