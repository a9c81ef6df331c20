package ttrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/containerd/ttrpc/internal/bufpool"
	"github.com/containerd/ttrpc/internal/flow"
	"github.com/containerd/ttrpc/internal/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A client stream's life, as this file implements it (a unary call is the
// same stream with one request and one response, and no user handle):
//
//	          NewStream: request frame queued, id taken
//	                          │
//	                          ▼
//	   ┌───────────────── open ─────────────────┐
//	   │ SendMsg: data frames (within credit)   │ ctx ends, or the handle is
//	   │ CloseSend: data frame, remote-closed   │ garbage-collected unread:
//	   │ window frames in: credit grows         │ abandoned — queued frames
//	   │ data frames in: queued for RecvMsg     │ skipped, a reset frame sent
//	   └──────────────────┬─────────────────────┘ if the request went out,
//	                      │                        RecvMsg gives the ctx's
//	   response frame, or data frame with          error
//	   remote-closed: the server's side is over
//	                      ▼
//	      ended on the wire (out of the table): RecvMsg drains the queue,
//	      then returns io.EOF or the status, again on every later call
//
// The connection's reader delivers every frame of the stream to its queue
// (client_recv.go) and never blocks on the stream's reader. The reader's
// RecvMsg grants window back to the server as it takes messages; SendMsg
// waits for credit, which the server grants the same way. Until the server
// first grants (servers of the established library never do), sending is not
// limited and the messages the client queues count against its budget.

// inFrame is a frame delivered to a stream's queue.
type inFrame struct {
	p     *[]byte // the frame's data; nil when err is set
	typ   messageType
	flags uint8
	err   error // the frame could not be received (it was too large)
	// The frame was lent by the frame reader (readFor): p points into its
	// buffer, and the stream's RecvMsg holds the read side until it gives
	// the frame back (clientStream.release).
	lent bool
}

// size is what the frame counts for in windows and budgets: its data and
// header.
func (f inFrame) size() int {
	if f.p == nil {
		return messageHeaderLength
	}
	return messageHeaderLength + len(*f.p)
}

func dropFrame(f inFrame) { bufpool.Put(f.p) }

// clientStream is one stream of a Client: a unary call or a stream opened
// with NewStream.
type clientStream struct {
	c         *Client
	id        streamID
	in        *flow.Queue[inFrame]
	abandoned atomic.Bool              // frames not yet begun are not written
	opened    atomic.Bool              // the writer has taken the request frame: it holds s no longer
	pinned    bool                     // unary: something may still hold it, do not pool it
	interrupt func()                   // stops a caller reading for itself (client_recv.go)
	waits     [waitReasons]atomic.Bool // counted as waiting for a frame, by reason (needFrame)

	// Streams opened with NewStream only.
	desc       StreamDesc
	ctx        context.Context
	credit     *flow.Credit // what the client may still send
	window     *flow.Window // what the client's reader has taken
	acked      atomic.Bool  // the server granted a window: it speaks flow control
	remoteDone atomic.Bool  // the server's side of the stream is over
	finished   atomic.Bool  // RecvMsg has returned the end, or the stream was cancelled
	// RecvMsg returned a message since the last SendMsg: the stream goes
	// back and forth (each message answers one), so its next message may
	// be written directly (see writeLocked) rather than wait for a batch.
	answered atomic.Bool
	stopCtx  func() bool
	lentData []byte // the data of a lent frame (inFrame.p points here)

	// Owned by the stream's user: one goroutine sends while another
	// receives.
	sendClosed bool
	recvErr    error // once set, every RecvMsg returns it
}

var unaryPool = sync.Pool{New: func() interface{} {
	s := &clientStream{in: flow.NewQueue[inFrame](nil, dropFrame)}
	s.interrupt = func() { s.c.interrupt(s) }
	return s
}}

func getUnaryStream(c *Client) *clientStream {
	s := unaryPool.Get().(*clientStream)
	s.c = c
	return s
}

// putUnaryStream returns a unary call's stream to the pool, unless it may
// still be referenced: by the interrupt function of a reading caller (see
// readOwn), or by the writer, when a peer answered before the request was
// even written.
func putUnaryStream(s *clientStream) {
	if s.pinned || s.abandoned.Load() || !s.opened.Load() {
		return
	}
	s.in.Reset()
	s.c, s.id = nil, 0
	s.opened.Store(false)
	unaryPool.Put(s)
}

// NewStream opens a stream to service/method and sends req as its first
// message (no message when req is nil). desc says which sides stream; it
// must match the server's registration. ctx governs the whole stream: its
// deadline and metadata go to the server, as with Call, and when it ends the
// stream is abandoned on both sides (the server's handler sees its context
// cancelled when the server is of this module). Close the stream by reading
// until RecvMsg returns an error (io.EOF at a clean end) or by ending ctx;
// a stream dropped unread is abandoned once garbage-collected.
//
// Stream client interceptors (WithClientStreamInterceptor) run around it.
func (c *Client) NewStream(ctx context.Context, desc *StreamDesc, service, method string, req interface{}) (ClientStream, error) {
	if c.streamInterceptor != nil {
		info := &StreamClientInfo{FullMethod: fullMethod(service, method)}
		if desc != nil {
			info.StreamingClient, info.StreamingServer = desc.StreamingClient, desc.StreamingServer
		}
		streamer := func(ctx context.Context, desc *StreamDesc, req interface{}) (ClientStream, error) {
			return c.newStream(ctx, desc, service, method, req)
		}
		return c.streamInterceptor(ctx, desc, info, req, streamer)
	}
	return c.newStream(ctx, desc, service, method, req)
}

func (c *Client) newStream(ctx context.Context, desc *StreamDesc, service, method string, req interface{}) (ClientStream, error) {
	if desc == nil {
		return nil, errors.New("ttrpc: NewStream needs a StreamDesc")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	md, _ := GetMetadata(ctx)
	if err := checkUTF8(service, method, md, nil); err != nil {
		return nil, err
	}
	flags := flagRemoteClosed
	if desc.StreamingClient {
		flags = flagRemoteOpen
	}
	frame, start, err := encodeRequestFrame(service, method, req, timeoutNano(ctx), md, c.window, flags)
	if err != nil {
		return nil, err
	}
	s := &clientStream{
		c:          c,
		in:         flow.NewQueue[inFrame](c.budget, dropFrame),
		desc:       *desc,
		ctx:        ctx,
		credit:     flow.NewCredit(),
		window:     flow.NewWindow(c.window),
		sendClosed: !desc.StreamingClient,
	}
	if err := c.open(s, frame, start); err != nil {
		return nil, err
	}
	// Until the server's first window frame is read, the client may be
	// talking to a server without flow control, whose messages must be
	// read as they come (they count against the budget), and it sends
	// without limit itself. So the stream counts as waiting until that
	// frame comes, for the whole stream on servers that never send one.
	// A stream that sends has the client read at once; a server stream's
	// own RecvMsg reads when it needs to.
	if desc.StreamingClient {
		c.needFrame(s, waitAck, false)
	} else {
		c.countWaiting(s, waitAck)
	}
	s.stopCtx = context.AfterFunc(ctx, func() { s.cancel(ctx.Err()) })
	h := &streamHandle{s}
	runtime.SetFinalizer(h, (*streamHandle).dropped)
	return h, nil
}

// streamHandle is what NewStream returns. Only the user holds it, so once
// it is garbage it shows that the stream was dropped. Its methods keep it
// alive while they run.
type streamHandle struct{ s *clientStream }

var errStreamDropped = errors.New("ttrpc: stream dropped without being read to the end")

func (h *streamHandle) dropped() {
	if !h.s.finished.Load() {
		h.s.cancel(errStreamDropped)
	}
}

func (h *streamHandle) SendMsg(m interface{}) error {
	err := h.s.SendMsg(m)
	runtime.KeepAlive(h)
	return err
}

func (h *streamHandle) RecvMsg(m interface{}) error {
	err := h.s.RecvMsg(m)
	runtime.KeepAlive(h)
	return err
}

func (h *streamHandle) CloseSend() error {
	err := h.s.CloseSend()
	runtime.KeepAlive(h)
	return err
}

// SendMsg sends m on the stream. It waits while the server's window is
// spent (servers of this module grant one; others do not limit) and while
// the connection's write queue is full. It fails with an error wrapping
// ErrStreamClosed after CloseSend, on a stream that is not client-streaming,
// or once the server has ended the stream (RecvMsg then gives the server's
// result); with ctx's error once the stream's context ends; with ErrClosed
// once the connection is closed; and with an *OversizedMessageErr for a
// message over the 4 MiB frame limit.
func (s *clientStream) SendMsg(m interface{}) error {
	c := s.c
	if s.sendClosed {
		if !s.desc.StreamingClient {
			return fmt.Errorf("%w: SendMsg on a stream that is not client-streaming", ErrStreamClosed)
		}
		return fmt.Errorf("%w: SendMsg after CloseSend", ErrStreamClosed)
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if c.isClosed() {
		return c.closeErr
	}
	if s.remoteDone.Load() {
		return errServerEnded
	}
	frame, err := encodeDataFrame(m)
	if err != nil {
		return err
	}
	putStreamID(*frame, s.id)
	n := int64(len(*frame))
	if !s.credit.Available() {
		// Somebody must read the grant we wait for.
		c.needFrame(s, waitGrant, false)
	}
	err = s.credit.Take(s.ctx, n, c.done, c.closeErr, errServerEnded)
	c.stopWaiting(s, waitGrant)
	if err != nil {
		bufpool.Put(frame)
		if c.isClosed() {
			return c.closeErr // the stream ended because the client did
		}
		return err
	}
	c.write(outFrame{s: s, frame: frame, kind: frameData, direct: s.answered.Load() && s.answered.Swap(false)})
	return c.waitQueueSpace(s)
}

var errServerEnded = fmt.Errorf("%w: the server has ended the stream; RecvMsg gives its result", ErrStreamClosed)

// CloseSend tells the server that the client will send no more messages. It
// returns nil, also when called again.
func (s *clientStream) CloseSend() error {
	if s.sendClosed {
		return nil
	}
	s.sendClosed = true
	if s.remoteDone.Load() || s.abandoned.Load() {
		return nil
	}
	frame := newFrame(0)
	putHeader(*frame, messageHeader{StreamID: s.id, Type: messageTypeData, Flags: flagRemoteClosed | flagNoData})
	s.c.write(outFrame{s: s, frame: frame, kind: frameData})
	return nil
}

// RecvMsg receives the stream's next message into m. At the end of the
// stream it returns io.EOF when the server finished cleanly, or the
// server's status error; after that, or any other error, every later call
// returns the same error at once. A stream whose server sends a final
// response message (a stream that is not server-streaming) gets that message
// in m and nil, then io.EOF.
func (s *clientStream) RecvMsg(m interface{}) error {
	if s.recvErr != nil {
		return s.recvErr
	}
	for {
		f, size, err := s.next(decodesInPlace(m))
		if err != nil {
			return s.end(err)
		}
		if f.err != nil {
			s.cancel(f.err)
			return s.end(f.err)
		}
		switch f.typ {
		case messageTypeData:
			if !s.desc.StreamingServer {
				s.release(f)
				err := fmt.Errorf("%w: data frame on stream %d, which is not server-streaming", ErrProtocol, s.id)
				s.cancel(err)
				return s.end(err)
			}
			if g := s.window.Taken(int64(size)); g > 0 && s.acked.Load() && !s.remoteDone.Load() {
				s.c.write(outFrame{s: s, frame: windowFrame(s.id, g), kind: frameControl})
			}
			last := f.flags&flagRemoteClosed != 0
			if f.flags&flagNoData != 0 {
				s.release(f)
				if last {
					return s.end(io.EOF)
				}
				continue // no message in it
			}
			err := s.decode(f, m)
			if last {
				s.end(io.EOF)
			}
			if err != nil {
				return status.Errorf(codes.Internal, "ttrpc: decoding stream message: %v", err)
			}
			if !s.answered.Load() {
				s.answered.Store(true) // a store is a full barrier: skip it when set
			}
			return nil
		default: // messageTypeResponse: the server's final word
			var r Response
			err := r.decode(*f.p)
			if err != nil {
				s.release(f)
				return s.end(status.Errorf(codes.Internal, "ttrpc: invalid response: %v", err))
			}
			err = decodeResult(&r, m)
			s.release(f)
			if err != nil {
				return s.end(err)
			}
			s.end(io.EOF)
			return nil
		}
	}
}

// decode decodes the message in f into m and gives f back, even should the
// message's Unmarshal panic: a lent frame holds the read side.
func (s *clientStream) decode(f inFrame, m interface{}) error {
	defer s.release(f)
	return codec{}.Unmarshal(*f.p, m)
}

// release gives back a frame that RecvMsg has done with: to the pool, or,
// when lent, to the frame reader, passing the read side on.
func (s *clientStream) release(f inFrame) {
	if !f.lent {
		bufpool.Put(f.p)
		return
	}
	n := f.size() // f.p points at lentData
	s.lentData = nil
	s.c.giveBack(n)
}

// next waits for the stream's next frame: it reads it from the connection
// itself when nobody else reads (client_recv.go), or takes it from its
// queue once somebody has delivered it. lend allows a frame lent by the
// reader (see readFor).
func (s *clientStream) next(lend bool) (inFrame, int, error) {
	c := s.c
	for {
		f, size, ok, err := s.in.TryPop()
		if ok || err != nil {
			c.stopWaiting(s, waitMessage)
			return f, size, err
		}
		// Once counted, somebody reads until the count is taken back:
		// no need to ask again after a wakeup that brought nothing.
		if !s.waits[waitMessage].Load() && c.needFrame(s, waitMessage, true) {
			if f, ok := c.readFor(s, lend); ok {
				return f, f.size(), nil
			}
			continue
		}
		<-s.in.Ready()
	}
}

// end records err as the result of every later RecvMsg and releases the
// stream's context watch. It returns err.
func (s *clientStream) end(err error) error {
	s.recvErr = err
	if s.finished.CompareAndSwap(false, true) && s.stopCtx != nil {
		s.stopCtx()
	}
	return err
}

// cancel abandons the stream: it leaves the table, its queued frames are
// dropped and its frames not yet written skipped, and the server, if it has
// seen the request, is told with a reset frame, so that its handler's
// context ends (servers of this module; others ignore the frame).
func (s *clientStream) cancel(err error) {
	c := s.c
	s.finished.Store(true)
	s.abandoned.Store(true)
	c.mu.Lock()
	open := c.streams[s.id] == s
	if open {
		delete(c.streams, s.id)
	}
	c.mu.Unlock()
	s.credit.Close()
	s.window.Stop()
	s.in.Abort(err)
	c.interrupt(s) // if its RecvMsg is reading (readFor)
	for why := range s.waits {
		c.stopWaiting(s, why)
	}
	if open {
		// Servers of the established library ignore frames of unknown
		// types (checked against v1.0.2, v1.2.8 and v1.2.10), so the
		// reset goes to any server that has seen the request.
		frame := newFrame(0)
		putHeader(*frame, messageHeader{StreamID: s.id, Type: messageTypeReset})
		c.write(outFrame{s: s, frame: frame, kind: frameControl})
	}
}

// remoteEnded records that the server's side of the stream is over: nothing
// more can be sent on it.
func (s *clientStream) remoteEnded() {
	if s.credit == nil {
		return
	}
	s.remoteDone.Store(true)
	s.credit.Close()
}

// granted takes a window frame from the server. The first one shows that
// the server speaks flow control: from then on sending is limited by its
// grants, and the messages the server sends within the client's own window
// no longer count against the connection's budget.
func (s *clientStream) granted(p *[]byte) {
	n, ok := parseWindow(p)
	if !ok || s.credit == nil {
		return
	}
	if s.acked.CompareAndSwap(false, true) {
		s.in.SetAllowance(int(s.window.Size()) + messageHeaderLength + messageLengthMax)
		s.credit.Enable(n)
		return
	}
	s.credit.Grant(n)
}

// parseWindow reads a window frame's grant and gives its buffer back.
func parseWindow(p *[]byte) (int64, bool) {
	defer bufpool.Put(p)
	if p == nil {
		return 0, false
	}
	v, n, err := wire.ConsumeVarint(*p)
	if err != nil || n != len(*p) || v > maxWindowGrant {
		return 0, false
	}
	return int64(v), true
}

// windowFrame builds a frame granting n bytes of window on stream id.
func windowFrame(id streamID, n int64) *[]byte {
	p := newFrame(wire.SizeVarint(uint64(n)))
	*p = wire.AppendVarint(*p, uint64(n))
	_ = finishFrame(*p, id, messageTypeWindow, 0)
	return p
}

// encodeDataFrame builds a data frame (stream id still 0) carrying m.
func encodeDataFrame(m interface{}) (*[]byte, error) {
	p := newFrame(512)
	p, err := codec{}.marshalInto(p, m)
	if err != nil {
		bufpool.Put(p)
		return nil, err
	}
	if err := finishFrame(*p, 0, messageTypeData, 0); err != nil {
		bufpool.Put(p)
		return nil, err
	}
	return p, nil
}
