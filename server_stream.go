package ttrpc

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/containerd/ttrpc/internal/bufpool"
	"github.com/containerd/ttrpc/internal/flow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A server stream's life, as this file implements it:
//
//	request frame (flags remote-open, or remote-closed) for a Stream method
//	   │  reader: entered in serverConn.streams, the request's payload queued
//	   │  as the first message, handler started on its own goroutine, which
//	   │  first grants the client a window if the client speaks flow control
//	   ▼
//	running ── data frames in: queued for RecvMsg (window frames out as the
//	   │       handler reads); remote-closed: RecvMsg gives io.EOF after the
//	   │       queue; SendMsg: data frames out, within the client's window
//	   │
//	   │  reset frame in (a client of this module gave up), or the
//	   │  connection closed: the handler's context is cancelled, and its
//	   │  result is not sent
//	   ▼
//	handler returned: out of the table; unread messages dropped; the result
//	goes out as a final data frame with remote-closed (server-streaming,
//	no error) or as a response frame with the status and message
//
// The reader never waits on a handler: messages are queued, and only when
// the connection's budget for queued messages is spent (clients without flow
// control) does it stop reading until handlers catch up.

// streamOps is the server's stream machinery as function values; see
// Server.streams.
type streamOps struct {
	start  func(c *serverConn, h messageHeader, p *[]byte, r *rawRequest, st *Stream)
	data   func(c *serverConn, h messageHeader, p *[]byte) bool
	window func(c *serverConn, h messageHeader, p *[]byte)
	reset  func(c *serverConn, id streamID)
	failed func(c *serverConn, id streamID, err error)
}

// serverStream is a running stream handler's end of a stream. It is the
// StreamServer the handler gets.
type serverStream struct {
	c      *serverConn
	id     streamID
	desc   *Stream
	ctx    context.Context
	cancel context.CancelFunc
	in     *flow.Queue[inFrame]
	credit *flow.Credit // the client's window: what the handler may still send
	window *flow.Window // what the handler has read; nil without flow control

	clientClosed bool // no more data frames are expected; guarded by c.mu

	reset    atomic.Bool // the client gave the stream up
	returned atomic.Bool // the handler has returned
	// RecvMsg returned a message since the last SendMsg: the stream goes
	// back and forth, so SendMsg writes directly when it can (see
	// serverConn.send) rather than wake the flusher.
	answered atomic.Bool
}

// startStream sets up a stream for request r on the reading goroutine and
// starts its handler. p is the request frame, which r aliases.
func (c *serverConn) startStream(h messageHeader, p *[]byte, r *rawRequest, st *Stream) {
	ctx, cancel := c.requestContext(r)
	ss := &serverStream{
		c:      c,
		id:     h.StreamID,
		desc:   st,
		ctx:    ctx,
		cancel: cancel,
		in:     flow.NewQueue[inFrame](c.budget, dropFrame),
		credit: flow.NewCredit(),
	}
	if st.StreamingServer && !c.streamed {
		c.streamed = true
		growSendBuffer(c.sock)
	}
	if r.window > 0 {
		// The client speaks flow control: it grants r.window and honours
		// the window granted back.
		ss.credit.Enable(r.window)
		if st.StreamingClient {
			ss.window = flow.NewWindow(defaultWindow)
			ss.in.SetAllowance(defaultWindow + messageHeaderLength + messageLengthMax)
		}
	}
	if r.hasPayload || !st.StreamingClient {
		// The request's message is the first the handler receives, even
		// when empty.
		q := bufpool.Get(len(r.payload))
		copy(*q, r.payload)
		ss.in.Push(inFrame{p: q, typ: messageTypeRequest}, 0)
	}
	ss.clientClosed = !st.StreamingClient || h.Flags&flagRemoteOpen == 0
	if ss.clientClosed {
		ss.in.Close(io.EOF)
	}
	c.mu.Lock()
	c.streams[ss.id] = ss
	c.mu.Unlock()
	fm := fullMethod(string(r.service), string(r.method))
	bufpool.Put(p) // r aliased it; it is not used past here
	go ss.run(fm, r.window > 0)
}

// requestContext is the context a request's handler runs under: the
// connection's, with the request's metadata and deadline.
func (c *serverConn) requestContext(r *rawRequest) (context.Context, context.CancelFunc) {
	ctx := c.ctx
	if r.md != nil {
		ctx = WithMetadata(ctx, r.md)
	}
	if r.timeout != 0 {
		return context.WithDeadline(ctx, requestDeadline(r.timeout))
	}
	return context.WithCancel(ctx)
}

// run is the stream's goroutine: it runs the handler and sends its result.
func (ss *serverStream) run(fullMethod string, flowControl bool) {
	c := ss.c
	defer ss.cancel()
	if flowControl {
		// Acknowledge flow control, granting the client a window if it
		// will send; until this arrives the client sends without limit.
		var n int64
		if ss.window != nil {
			n = ss.window.Size()
		}
		c.queue(ss.ctx, windowFrame(ss.id, n))
	}
	var (
		resp interface{}
		err  error
	)
	if i := c.server.streamInterceptor; i != nil {
		info := &StreamServerInfo{FullMethod: fullMethod, StreamingClient: ss.desc.StreamingClient, StreamingServer: ss.desc.StreamingServer}
		resp, err = i(ss.ctx, ss, info, ss.desc.Handler)
	} else {
		resp, err = ss.desc.Handler(ss.ctx, ss)
	}
	ss.returned.Store(true)
	ss.in.Abort(ErrStreamClosed)
	gone := ss.reset.Load()
	if !gone && err == nil && resp != nil && !isNilPointer(resp) {
		// A returned message is sent like any other, within the
		// client's window. The stream stays in the table meanwhile, so
		// that the client's grants, or its reset, still reach it.
		gone = ss.credit.Take(ss.ctx, messageHeaderLength, c.done, ErrClosed, ErrStreamClosed) != nil
	}
	c.mu.Lock()
	delete(c.streams, ss.id)
	c.mu.Unlock()
	ss.credit.Close()
	if gone || ss.reset.Load() {
		// The client has gone: nobody reads the result.
		c.end()
		return
	}
	switch {
	case err != nil:
		c.replyStatus(ss.id, convertStatus(err))
	case ss.desc.StreamingServer:
		ss.finish(resp)
	case resp == nil:
		c.replyMessage(ss.id, nil)
	default:
		c.replyMessage(ss.id, resp)
	}
}

// finish ends a server-streaming stream whose handler succeeded: its result,
// if any, is the last message, flagged remote-closed.
func (ss *serverStream) finish(resp interface{}) {
	c := ss.c
	var frame *[]byte
	if resp == nil || isNilPointer(resp) {
		frame = newFrame(0)
		_ = finishFrame(*frame, ss.id, messageTypeData, flagRemoteClosed|flagNoData)
	} else {
		var err error
		frame, err = encodeDataFrame(resp)
		if err != nil {
			c.replyStatus(ss.id, convertStatus(encodeError(err)))
			return
		}
		putHeader(*frame, messageHeader{Length: uint32(len(*frame) - messageHeaderLength), StreamID: ss.id, Type: messageTypeData, Flags: flagRemoteClosed})
	}
	c.writeFrame(frame)
	c.end()
}

// encodeError gives an error from encoding a message the status to send: an
// oversized message keeps RESOURCE_EXHAUSTED, anything else is INTERNAL.
func encodeError(err error) error {
	if _, ok := err.(*OversizedMessageErr); ok {
		return err
	}
	return status.Errorf(codes.Internal, "ttrpc: encoding response: %v", err)
}

// SendMsg sends m to the client. It waits while the client's window is
// spent (clients of this module grant one; others do not limit) and while
// the connection's socket is full. It fails with the stream context's error
// once the client has gone or the deadline passed, with an error wrapping
// ErrStreamClosed on a stream that is not server-streaming or after the
// handler returned, and with an *OversizedMessageErr for a message over the
// 4 MiB frame limit.
func (ss *serverStream) SendMsg(m interface{}) error {
	if ss.returned.Load() {
		return fmt.Errorf("%w: SendMsg after the stream handler returned", ErrStreamClosed)
	}
	if !ss.desc.StreamingServer {
		return fmt.Errorf("%w: SendMsg on a stream that is not server-streaming; return the response instead", ErrStreamClosed)
	}
	if err := ss.ctx.Err(); err != nil {
		return err
	}
	frame, err := encodeDataFrame(m)
	if err != nil {
		return err
	}
	putStreamID(*frame, ss.id)
	if err := ss.credit.Take(ss.ctx, int64(len(*frame)), ss.c.done, ErrClosed, ErrStreamClosed); err != nil {
		bufpool.Put(frame)
		return err
	}
	if ss.answered.Load() && ss.answered.Swap(false) { // a swap is a full barrier: look first
		return ss.c.send(ss.ctx, frame)
	}
	return ss.c.queue(ss.ctx, frame)
}

// RecvMsg receives the client's next message into m. It returns io.EOF once
// the client has closed its side and every message has been read, and the
// stream context's error once the client has gone; either again on every
// later call.
func (ss *serverStream) RecvMsg(m interface{}) error {
	if ss.returned.Load() {
		return fmt.Errorf("%w: RecvMsg after the stream handler returned", ErrStreamClosed)
	}
	f, size, err := ss.in.Pop(ss.ctx, nil, nil)
	if err != nil {
		return err
	}
	if f.err != nil {
		return f.err
	}
	if ss.window != nil && f.typ == messageTypeData {
		if g := ss.window.Taken(int64(size)); g > 0 {
			ss.c.queue(ss.ctx, windowFrame(ss.id, g))
		}
	}
	err = codec{}.Unmarshal(*f.p, m)
	bufpool.Put(f.p)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "ttrpc: decoding stream message: %v", err)
	}
	ss.answered.Store(true)
	return nil
}

// deliverData hands a data frame to its stream, on the reading goroutine.
// It reports whether the connection's budget for queued messages is spent,
// in which case the reader waits before reading on.
func (c *serverConn) deliverData(h messageHeader, p *[]byte) bool {
	last := h.Flags&flagRemoteClosed != 0
	c.mu.Lock()
	ss := c.streams[h.StreamID]
	closed := ss == nil || ss.clientClosed
	if !closed && last {
		ss.clientClosed = true
	}
	c.mu.Unlock()
	if closed {
		// A stream that never opened, has finished, is unary or was
		// closed by the client: nothing may arrive for it. Drop the frame
		// and keep the connection.
		bufpool.Put(p)
		return false
	}
	if h.Flags&flagNoData == 0 {
		ss.in.Push(inFrame{p: p, typ: messageTypeData, flags: h.Flags}, messageHeaderLength+len(*p))
	} else {
		bufpool.Put(p)
	}
	if last {
		ss.in.Close(io.EOF)
	}
	return c.budget.Over()
}

// waitBudget waits, with the reader stopped, until the connection's queued
// stream messages are within its budget. It reports false if the
// connection closed meanwhile; a peer that hangs up meanwhile closes it.
func (c *serverConn) waitBudget() bool {
	if !c.budget.Over() {
		return true
	}
	stop := watchHangup(c.conn, c.close)
	defer stop()
	return c.budget.Wait(c.done)
}

// deliverWindow takes a client's window grant for one of its streams.
func (c *serverConn) deliverWindow(h messageHeader, p *[]byte) {
	c.mu.Lock()
	ss := c.streams[h.StreamID]
	c.mu.Unlock()
	n, ok := parseWindow(p)
	if ss != nil && ok {
		ss.credit.Grant(n)
	}
}

// resetStream ends a stream the client gave up: its handler's context is
// cancelled, what it has not read is dropped, and its result is not sent.
func (c *serverConn) resetStream(id streamID) {
	c.mu.Lock()
	ss := c.streams[id]
	if ss != nil {
		ss.clientClosed = true
	}
	c.mu.Unlock()
	if ss == nil {
		return
	}
	ss.reset.Store(true)
	ss.cancel()
	ss.credit.Close()
	ss.in.Abort(context.Canceled)
}

// streamFailed ends the client's side of a stream that lost a message: its
// handler's next RecvMsg returns err.
func (c *serverConn) streamFailed(id streamID, err error) {
	c.mu.Lock()
	ss := c.streams[id]
	if ss != nil {
		ss.clientClosed = true
	}
	c.mu.Unlock()
	if ss != nil {
		ss.in.Push(inFrame{typ: messageTypeData, err: err}, 0)
		ss.in.Close(err)
	}
}

func (c *serverConn) hasStream(id streamID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.streams[id]
	return ok
}
