package ttrpc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/containerd/ttrpc/internal/bufpool"
	"github.com/containerd/ttrpc/internal/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// serverConn is one served connection. One goroutine at a time owns the read
// side (see serve); the one that finds reading over owns the connection's
// end. Handlers share the write side under writeMu. mu guards the in-flight
// accounting that decides when a shutting-down connection may close.
type serverConn struct {
	server *Server
	conn   net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	reader *frameReader

	writeMu  sync.Mutex
	writeErr error

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
}

func newServerConn(ctx context.Context, s *Server, conn net.Conn) *serverConn {
	ctx, cancel := context.WithCancel(ctx)
	return &serverConn{
		// Inline runs save a thread wakeup per call on sockets. Over
		// in-process transports such as net.Pipe, where goroutine
		// handoffs are the transport itself, they measured slower for
		// large payloads.
		inlineOK: netSocket(conn) != nil,
		server:   s,
		conn:     conn,
		ctx:      ctx,
		cancel:   cancel,
		reader:   newFrameReader(conn),
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
	for {
		h, p, err := c.reader.read()
		if err != nil {
			var tooLarge *frameTooLargeError
			if errors.As(err, &tooLarge) {
				c.begin()
				go c.replyStatus(h.StreamID, tooLarge.GRPCStatus())
				continue
			}
			break
		}
		if h.Type != messageTypeRequest {
			// Data frames and unknown types have no stream to go to in a
			// unary server; drop them and keep the connection.
			bufpool.Put(p)
			continue
		}
		if r, m, alone, ok := c.dispatch(h.StreamID, p); ok {
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
	timeout                  int64
	md                       MD
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
		case num == 4 && typ == wire.TypeVarint:
			r.timeout = int64(x)
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
// for the caller to run after handing on the read side; refusals are written
// by a spawned goroutine. Either way the reader never writes, so a peer that
// does not read cannot stall our reading.
func (c *serverConn) dispatch(id streamID, p *[]byte) (r rawRequest, m *method, alone, ok bool) {
	shutting, active := c.begin()
	if id%2 == 0 {
		bufpool.Put(p)
		go c.replyStatus(id, status.New(codes.InvalidArgument, "StreamID must be odd for client initiated streams"))
		return
	}
	if err := r.decode(*p); err != nil {
		bufpool.Put(p)
		go c.replyStatus(id, status.New(codes.InvalidArgument, "ttrpc: invalid request: "+err.Error()))
		return
	}
	if shutting {
		bufpool.Put(p)
		go c.replyStatus(id, status.New(codes.Unavailable, "ttrpc: server shutting down"))
		return
	}
	m, st := c.server.services.lookup(r.service, r.method)
	if st != nil {
		bufpool.Put(p)
		go c.replyStatus(id, st)
		return
	}
	return r, m, active == 1, true
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
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(r.timeout))
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
	if err == nil && resp == nil {
		return nil, status.Errorf(codes.Internal, "ttrpc: method /%s/%s returned neither a response nor an error", r.service, r.method)
	}
	return resp, err
}

func (c *serverConn) invoke(ctx context.Context, r *rawRequest, unmarshal Unmarshaler, m Method) (interface{}, error) {
	i := c.server.config.interceptor
	if i == nil {
		return m(ctx, unmarshal)
	}
	info := &UnaryServerInfo{FullMethod: fullMethod(string(r.service), string(r.method))}
	return i(ctx, unmarshal, info, m)
}

// Response frames are built in place: the payload is marshaled after room for
// the header and the payload field's key and length, which are then written
// just in front of it, so the payload is never copied.
const responsePrefix = messageHeaderLength + 1 + 5

func (c *serverConn) replyMessage(id streamID, resp interface{}) {
	p := bufpool.Get(responsePrefix + 512)
	*p = (*p)[:responsePrefix]
	p, err := codec{}.marshalInto(p, resp)
	if err != nil {
		bufpool.Put(p)
		c.replyStatus(id, status.Newf(codes.Internal, "ttrpc: encoding response: %v", err))
		return
	}
	b := *p
	n := len(b) - responsePrefix
	if n > 0 && wire.SizeBytes(n) > messageLengthMax {
		// Too big to send: the caller gets RESOURCE_EXHAUSTED instead, and
		// the connection and other calls carry on.
		bufpool.Put(p)
		c.replyStatus(id, (&frameTooLargeError{size: wire.SizeBytes(n)}).GRPCStatus())
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
	c.write(*p)
	bufpool.Put(p)
	c.end()
}

// write sends one frame. After a failed write the stream is out of sync (a
// frame may be half written), so the connection is closed and later writes
// fail at once.
func (c *serverConn) write(frame []byte) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.writeErr != nil {
		return
	}
	if _, err := c.conn.Write(frame); err != nil {
		c.writeErr = err
		slog.Debug("ttrpc: writing reply failed, closing connection", "error", err)
		c.conn.Close()
	}
}
