package ttrpc

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/containerd/ttrpc/internal/bufpool"
	"github.com/containerd/ttrpc/internal/flow"
	"github.com/containerd/ttrpc/internal/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// serverConn is one served connection. One goroutine at a time owns the read
// side (see serve); the one that finds reading over owns the connection's
// end. Handlers share the write side (server_write.go). mu guards the in-flight
// accounting that decides when a shutting-down connection may close.
type serverConn struct {
	server *Server
	conn   net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	reader *frameReader

	wmu sync.Mutex // guards w
	w   serverWriter

	// Streams opened by the client and not yet finished, by id: the reader
	// hands them their data, window and reset frames. Unary calls are not
	// entered: no frame but their request ever concerns them.
	streams map[streamID]*serverStream
	budget  *flow.Budget

	mu           sync.Mutex
	active       int  // requests read whose reply is not yet written
	shuttingDown bool // Shutdown began: run no more requests
	readerDone   bool
	closed       bool
	done         chan struct{} // closed once the connection is closed

	// A goroutine that has replied may park to become the next reader:
	// it puts a token in parked and waits on wake. Whoever takes the token
	// must send on wake.
	parked chan struct{}
	wake   chan struct{}

	// A request run inline by the reading goroutine (see serve): inline
	// holds its number while it runs, inlineSince when it began. The
	// server's watchdog takes the number (compare-and-swap to 0) to hand the
	// read side on for a run that takes too long; the runner takes it back
	// when done, and so learns whether it is still the reader.
	inline      atomic.Uint64
	inlineSince atomic.Int64
	inlineSeq   uint64 // owned by the reading goroutine
	inlineOK    bool   // the conn is a socket of package net (see newServerConn)

	// The accepted socket under conn (whatever the handshaker wrapped it
	// in), and whether its send buffer was grown for a first stream
	// (growSendBuffer); streamed is owned by the reading goroutine.
	sock     net.Conn
	streamed bool
}

func newServerConn(ctx context.Context, s *Server, conn net.Conn) *serverConn {
	ctx, cancel := context.WithCancel(ctx)
	return &serverConn{
		// Inline runs save a thread wakeup per call on sockets. Over
		// in-process transports such as net.Pipe, where goroutine
		// handoffs are the transport itself, they measured slower for
		// large payloads.
		inlineOK: fastPathConn(conn) != nil,
		server:   s,
		conn:     conn,
		ctx:      ctx,
		cancel:   cancel,
		reader:   newFrameReader(conn),
		streams:  make(map[streamID]*serverStream),
		w:        serverWriter{done: make(chan struct{})},
		budget:   flow.NewBudget(s.config.streamBuffer),
		done:     make(chan struct{}),
		parked:   make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
	}
}

// serve is run by every goroutine of the connection. The goroutine holding
// the read side reads frames; when one is a request to run, it first hands
// the read side on (to the parked goroutine, or a new one) and then runs the
// request itself, so the handler starts without a scheduler hop while reading
// goes on. Having replied, it parks to be a later reader, or exits if another
// goroutine is parked already: a connection keeps at most one spare, whose
// grown stack spares the next request a stack copy.
//
// Waking the spare still costs a thread wakeup, often the largest cost of a
// serial call. So a request that is alone on the connection (none other in
// flight, no further bytes buffered) to a method that was quick last time
// runs inline: the reader keeps the read side, replies, and reads on. Should
// such a run take long after all, the server's watchdog hands the read side
// on within about inlineTick, so a blocked handler delays other requests
// on the connection by at most that much and never deadlocks them.
//
// The goroutine that finds reading over waits for in-flight requests and
// closes the connection.
func (c *serverConn) serve() {
read:
	for {
		h, p, err := c.reader.read()
		if err != nil {
			var tooLarge *OversizedMessageErr
			if !errors.As(err, &tooLarge) {
				break read
			}
			switch h.Type {
			case messageTypeRequest:
				c.begin()
				c.refuse(h.StreamID, tooLarge.GRPCStatus())
			case messageTypeData:
				// The stream lost a message: it cannot go on.
				if ops := c.server.streams.Load(); ops != nil {
					ops.failed(c, h.StreamID, tooLarge)
				}
			}
			continue
		}
		if h.Type != messageTypeRequest {
			ops := c.server.streams.Load()
			switch {
			case ops == nil:
				// No streams registered: data, window and reset
				// frames have nowhere to go, and unknown types no
				// meaning. Drop them and keep the connection.
				bufpool.Put(p)
			case h.Type == messageTypeData:
				if ops.data(c, h, p) && !c.waitBudget() {
					break read // the connection was closed meanwhile
				}
			case h.Type == messageTypeWindow:
				ops.window(c, h, p)
			case h.Type == messageTypeReset:
				bufpool.Put(p)
				ops.reset(c, h.StreamID)
			default:
				bufpool.Put(p)
			}
			continue
		}
		r, m, st, alone, ok := c.dispatch(h, p)
		if !ok {
			continue
		}
		if st != nil {
			sr := r // only a stream's request escapes to the heap
			c.server.streams.Load().start(c, h, p, &sr, st)
			continue
		}
		if alone && c.inlineOK && m.quick() && c.reader.br.Buffered() == 0 {
			if c.runInline(h.StreamID, p, r, m) {
				continue // still the reader
			}
		} else {
			c.passReadSide()
			c.handle(h.StreamID, p, r, m)
		}
		if !c.park() {
			return
		}
	}

	c.mu.Lock()
	c.readerDone = true
	idle := c.active == 0
	c.mu.Unlock()
	if !c.shuttingDownNow() {
		// The peer is gone or the stream is broken: nobody will read
		// replies, so tell the handlers to stop.
		c.cancel()
	}
	if idle {
		c.close()
	}
	<-c.done
	c.server.removeConn(c)
}

// runInline runs a request on the reading goroutine, under the watchdog. It
// reports whether the goroutine still holds the read side afterwards.
func (c *serverConn) runInline(id streamID, p *[]byte, r rawRequest, m *method) bool {
	c.inlineSeq++
	run := c.inlineSeq
	c.inlineSince.Store(nanotime())
	c.inline.Store(run)
	c.server.watchInline()
	c.handle(id, p, r, m)
	return c.inline.CompareAndSwap(run, 0)
}

// rescueInline hands the read side on if an inline run began before
// cutoff. It runs on the server's watchdog and reports whether a run is
// still going on.
func (c *serverConn) rescueInline(cutoff int64) bool {
	run := c.inline.Load()
	if run == 0 {
		return false
	}
	if c.inlineSince.Load() < cutoff && c.inline.CompareAndSwap(run, 0) {
		c.passReadSide()
		return false
	}
	return true
}

// passReadSide gives the read side to the parked goroutine, or to a new one.
func (c *serverConn) passReadSide() {
	select {
	case <-c.parked:
		c.wake <- struct{}{} // cannot block: only the token holder sends
	default:
		go c.serve()
	}
}

// park waits to be handed the read side. It reports false, and the
// goroutine should exit, if another goroutine is parked already or the
// connection is closed.
func (c *serverConn) park() bool {
	select {
	case c.parked <- struct{}{}:
	default:
		return false
	}
	select {
	case <-c.wake:
		return true
	case <-c.done:
		// Take the token back; if someone took it first, a wake is on its
		// way and the read side is ours (reading will fail and end it).
		select {
		case <-c.parked:
			return false
		case <-c.wake:
			return true
		}
	}
}

func (c *serverConn) shuttingDownNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shuttingDown
}

// rawRequest is a decoded request whose byte fields alias the frame buffer.
type rawRequest struct {
	service, method, payload []byte
	hasPayload               bool
	timeout                  int64
	md                       MD
	window                   int64 // the client's window, if it speaks flow control
}

func (r *rawRequest) decode(b []byte) error {
	return forEachField(b, func(num, typ int, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == wire.TypeBytes:
			if !utf8.Valid(v) {
				return errInvalidUTF8
			}
			r.service = v
		case num == 2 && typ == wire.TypeBytes:
			if !utf8.Valid(v) {
				return errInvalidUTF8
			}
			r.method = v
		case num == 3 && typ == wire.TypeBytes:
			r.payload = v
			r.hasPayload = true
		case num == 4 && typ == wire.TypeVarint:
			r.timeout = int64(x)
		case num == requestWindowField && typ == wire.TypeVarint:
			if x > 0 && x <= maxWindowGrant {
				r.window = int64(x)
			}
		case num == 5 && typ == wire.TypeBytes:
			var kv KeyValue
			if err := kv.decode(v); err != nil {
				return err
			}
			if r.md == nil {
				r.md = MD{}
			}
			r.md.Append(kv.Key, kv.Value)
		}
		return nil
	})
}

// dispatch validates one request frame. A request to run is returned (ok)
// for the caller to run: a unary method m, or a stream st. Refusals are
// written by a spawned goroutine, so that the reader never writes and a peer
// that does not read cannot stall our reading.
func (c *serverConn) dispatch(h messageHeader, p *[]byte) (r rawRequest, m *method, st *Stream, alone, ok bool) {
	id := h.StreamID
	shutting, active := c.begin()
	refuse := func(st *status.Status) {
		bufpool.Put(p)
		c.refuse(id, st)
	}
	if id%2 == 0 {
		refuse(status.New(codes.InvalidArgument, "StreamID must be odd for client initiated streams"))
		return
	}
	if err := r.decode(*p); err != nil {
		refuse(status.New(codes.InvalidArgument, "ttrpc: invalid request: "+err.Error()))
		return
	}
	if shutting {
		refuse(status.New(codes.Unavailable, "ttrpc: server shutting down"))
		return
	}
	m, st, unknown := c.server.services.lookup(r.service, r.method, c.server.unknownCode())
	switch {
	case unknown != nil:
		refuse(unknown)
		return
	case st != nil && c.server.streams.Load() == nil:
		// Registered by hand without RegisterService's machinery; not
		// reachable through the API, but never a nil call.
		refuse(status.Newf(c.server.unknownCode(), "method %s", r.method))
		return
	case h.Flags&(flagRemoteOpen|flagRemoteClosed) == flagRemoteOpen|flagRemoteClosed:
		refuse(status.New(codes.InvalidArgument, "ttrpc: request flags remote-open and remote-closed together"))
		return
	case m != nil && h.Flags&flagRemoteOpen != 0:
		refuse(status.Newf(codes.InvalidArgument, "ttrpc: method %s of %s is unary; it takes no client stream", r.method, r.service))
		return
	case st != nil && st.StreamingServer && h.Flags&(flagRemoteOpen|flagRemoteClosed) == 0:
		refuse(status.Newf(codes.InvalidArgument, "ttrpc: method %s of %s is a server stream; call it with NewStream", r.method, r.service))
		return
	case st != nil && c.hasStream(id):
		refuse(status.Newf(codes.InvalidArgument, "ttrpc: stream %d is already open", id))
		return
	}
	return r, m, st, active == 1, true
}

// begin counts a request in flight. It reports whether Shutdown has begun,
// and the count.
func (c *serverConn) begin() (bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active++
	return c.shuttingDown, c.active
}

// end counts a reply written (or found unwritable). The last one out of a
// shutting-down or finished connection closes it.
func (c *serverConn) end() {
	c.mu.Lock()
	c.active--
	idle := c.active == 0
	wake := idle && c.shuttingDown && !c.readerDone
	closeNow := idle && c.readerDone
	c.mu.Unlock()
	if wake {
		c.wakeReader()
	}
	if closeNow {
		c.close()
	}
}

// beginShutdown stops new requests from running. An idle connection's reader
// is woken so that it stops and closes the connection; a busy one keeps
// reading (answering UNAVAILABLE) until its last reply is out.
func (c *serverConn) beginShutdown() {
	c.mu.Lock()
	c.shuttingDown = true
	wake := c.active == 0 && !c.readerDone
	c.mu.Unlock()
	if wake {
		c.wakeReader()
	}
}

// wakeReader makes the blocked read return so that run can finish. A frame
// already read is still handled; one arriving later is not read at all.
func (c *serverConn) wakeReader() {
	if err := c.conn.SetReadDeadline(time.Now()); err != nil {
		c.close()
	}
}

func (c *serverConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	// Close the connection before cancelling handlers: a handler that
	// returns because of the cancel must not get its reply out, or the
	// caller of a closed server would see CANCELED instead of ErrClosed.
	c.conn.Close()
	c.cancel()
	close(c.done)
}

// handle runs one request and writes its reply.
func (c *serverConn) handle(id streamID, p *[]byte, r rawRequest, m *method) {
	start := nanotime()
	resp, err := c.call(&r, m.fn)
	m.learn(nanotime() - start)
	bufpool.Put(p) // the payload aliased it; the handler is done decoding
	if err != nil {
		c.replyStatus(id, convertStatus(err))
		return
	}
	c.replyMessage(id, resp)
}

func (c *serverConn) call(r *rawRequest, m Method) (interface{}, error) {
	ctx := c.ctx
	if r.md != nil {
		ctx = WithMetadata(ctx, r.md)
	}
	if r.timeout != 0 {
		// A negative timeout (a caller whose deadline had just passed)
		// runs the handler under a context that has already expired, as
		// the established servers do.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, requestDeadline(r.timeout))
		defer cancel()
	}
	payload := r.payload
	unmarshal := func(v interface{}) error {
		if err := (codec{}).Unmarshal(payload, v); err != nil {
			return status.Errorf(codes.InvalidArgument, "ttrpc: decoding request: %v", err)
		}
		return nil
	}
	resp, err := c.invoke(ctx, r, unmarshal, m)
	if err == nil && (resp == nil || isNilPointer(resp)) {
		// What the 1.0 line answers for a handler's (nil, nil), be its nil
		// an interface or a typed pointer.
		return nil, errMarshalNil
	}
	return resp, err
}

func (c *serverConn) invoke(ctx context.Context, r *rawRequest, unmarshal Unmarshaler, m Method) (interface{}, error) {
	i := c.server.unaryInterceptor
	if i == nil {
		return m(ctx, unmarshal)
	}
	info := &UnaryServerInfo{FullMethod: fullMethod(string(r.service), string(r.method))}
	return i(ctx, unmarshal, info, m)
}

// errMarshalNil is the status of a call whose handler returned a nil
// response and a nil error.
var errMarshalNil = status.Error(codes.Unknown, "ttrpc: marshal called with nil")

// requestDeadline is the deadline of a request that arrives with timeout
// nanoseconds left (negative: already passed), without overflowing time for
// extreme values.
func requestDeadline(timeout int64) time.Time {
	const limit = int64(100 * 365 * 24 * time.Hour)
	switch {
	case timeout < 0:
		return time.Now().Add(-time.Nanosecond)
	case timeout > limit:
		timeout = limit
	}
	return time.Now().Add(time.Duration(timeout))
}

// Response frames are built in place: the payload is marshaled after room for
// the header and the payload field's key and length, which are then written
// just in front of it, so the payload is never copied.
const responsePrefix = messageHeaderLength + 1 + 5

// A nil resp sends no payload (a stream handler's nil result).
func (c *serverConn) replyMessage(id streamID, resp interface{}) {
	p := bufpool.Get(responsePrefix + 512)
	*p = (*p)[:responsePrefix]
	if resp != nil {
		var err error
		p, err = codec{}.marshalInto(p, resp)
		if err != nil {
			bufpool.Put(p)
			c.replyStatus(id, status.Newf(codes.Internal, "ttrpc: encoding response: %v", err))
			return
		}
	}
	b := *p
	n := len(b) - responsePrefix
	if n > 0 && wire.SizeBytes(n) > messageLengthMax {
		// Too big to send: the caller gets RESOURCE_EXHAUSTED instead, and
		// the connection and other calls carry on.
		bufpool.Put(p)
		c.replyStatus(id, (&OversizedMessageErr{length: wire.SizeBytes(n)}).GRPCStatus())
		return
	}
	start := responsePrefix
	if n > 0 {
		l := wire.SizeVarint(uint64(n))
		start -= 1 + l
		b[start] = 2<<3 | wire.TypeBytes
		wire.AppendVarint(b[start+1:start+1], uint64(n))
	}
	start -= messageHeaderLength
	putHeader(b[start:], messageHeader{
		Length:   uint32(len(b) - start - messageHeaderLength),
		StreamID: id,
		Type:     messageTypeResponse,
	})
	c.write(b[start:])
	bufpool.Put(p)
	c.end()
}

// replyStatus writes a reply that carries only a status.
func (c *serverConn) replyStatus(id streamID, st *status.Status) {
	p := statusFrame(id, st)
	c.write(*p)
	bufpool.Put(p)
	c.end()
}

// refuse answers a request the reader will not run, without waiting for
// the answer to be written: it is queued, and the flusher counts the
// request done once it is out. A peer that sends refused requests and reads
// no replies fills the queue and so stops its own connection's reading, and
// nothing else.
func (c *serverConn) refuse(id streamID, st *status.Status) {
	c.queueEnding(statusFrame(id, st))
}

// statusFrame builds a response frame that carries only a status.
func statusFrame(id streamID, st *status.Status) *[]byte {
	resp := Response{Status: st.Proto()}
	if !utf8.ValidString(resp.Status.Message) {
		// Receivers reject a status whose message is not UTF-8 (protobuf
		// string rules), which would lose the code: repair the text instead.
		resp.Status.Message = strings.ToValidUTF8(resp.Status.Message, "\uFFFD")
	}
	p := newFrame(resp.Size())
	*p = resp.appendTo(*p)
	if err := finishFrame(*p, id, messageTypeResponse, 0); err != nil {
		// Only a huge error message can get here; cut it to size.
		if len(resp.Status.Message) > 1024 {
			resp.Status.Message = resp.Status.Message[:1024]
		}
		resp.Status.Details = nil
		*p = resp.appendTo((*p)[:messageHeaderLength])
		_ = finishFrame(*p, id, messageTypeResponse, 0)
	}
	return p
}
