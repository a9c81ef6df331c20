package ttrpc

import (
	"net"

	"github.com/containerd/ttrpc/internal/bufpool"
)

// This file holds the write side of a Client: one FIFO of frames, guarded by
// Client.mu, and at most one writer at a time.
//
// Frames join the queue in the order their callers took the lock, and a
// request frame takes its stream id under that same lock, so frames leave in
// queue order and request ids leave increasing. The writer is normally the
// sender goroutine, which writes whatever has queued up with one writev.
// But when the queue is empty and nobody writes, a caller on a kernel socket
// writes its own request frame without blocking, saving two goroutine
// switches (stream messages only when they answer one: see writeLocked);
// what the socket does not take at once goes back to the head of the queue,
// for the sender. Either way a frame, once begun, is finished, so the
// connection stays in sync even when its caller has given up.

// Kinds of queued frames.
const (
	frameOpen    = iota // a stream's request frame
	frameData           // a stream's data frame
	frameControl        // a window grant or reset: written only if the stream was opened on the wire
	frameRest           // the unwritten end of a frame begun by a direct writer: always written
)

// outFrame is a frame waiting for the writer.
type outFrame struct {
	s     *clientStream
	frame *[]byte
	start int // the frame is (*frame)[start:]
	kind  uint8
	// A data frame that may be written directly: its stream goes back and
	// forth, so no batch is coming for it to join.
	direct bool
}

// writeSide is the state of the write side. Its fields are guarded by
// Client.mu, except those the comments give to the writer.
type writeSide struct {
	queue   []outFrame
	writing bool          // a writer owns the write side
	queued  int           // bytes in queue
	space   chan struct{} // closed when queued drops below maxQueued; nil if nobody waits
	wake    chan struct{} // capacity 1: hands the write side to the sender goroutine
	broken  bool          // a write failed: nothing more is written (writeFailed)

	// Direct writes (client_send_unix.go). Set up once by initDirectWrite,
	// then used by the writer only.
	direct directWriter
}

// maxQueued bounds the bytes of stream data frames queued for writing: a
// stream's SendMsg waits while more are queued, so a sender that outruns the
// connection does not fill memory.
const maxQueued = 1 << 20

// writeLocked queues a frame, or writes it at once from the calling
// goroutine when nobody else writes. c.mu is held, and is released.
func (c *Client) writeLocked(of outFrame) {
	ws := &c.ws
	// A stream's messages go through the sender, so that a goroutine
	// sending message after message keeps producing while the sender
	// writes what piled up in one writev; but a message that follows one
	// received (a stream going back and forth) has nothing to wait for.
	if !ws.writing && len(ws.queue) == 0 && ws.direct.ok() && (of.kind != frameData || of.direct) {
		ws.writing = true
		c.mu.Unlock()
		c.writeDirect(of)
		return
	}
	ws.queue = append(ws.queue, of)
	ws.queued += len(*of.frame) - of.start
	if !ws.writing {
		ws.writing = true
		ws.wake <- struct{}{} // cannot block: only the writing flag's setter sends
	}
	c.mu.Unlock()
}

// write queues a frame from a goroutine that does not hold c.mu. A frame for
// a closed client, or one whose writes have failed, is dropped.
func (c *Client) write(of outFrame) {
	c.mu.Lock()
	if c.closed || c.ws.broken {
		c.mu.Unlock()
		bufpool.Put(of.frame)
		return
	}
	c.writeLocked(of)
}

// waitQueueSpace waits, for stream s, while the write queue holds more
// than maxQueued bytes. Meanwhile s counts as waiting for a frame, so that
// the client reads: a server whose replies the client does not read may
// stop reading requests, and both writers would wait on full sockets.
func (c *Client) waitQueueSpace(s *clientStream) error {
	ctx := s.ctx
	defer c.stopWaiting(s, waitDrain)
	for {
		c.mu.Lock()
		if c.closed || c.ws.broken {
			c.mu.Unlock()
			return c.closeErr
		}
		if c.ws.queued <= maxQueued {
			c.mu.Unlock()
			return nil
		}
		if c.ws.space == nil {
			c.ws.space = make(chan struct{})
		}
		space := c.ws.space
		c.mu.Unlock()
		c.needFrame(s, waitDrain, false)
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return c.closeErr
		}
	}
}

// writeDirect writes a frame from the calling goroutine, which owns the
// write side, without blocking. What the socket does not take goes back to
// the head of the queue, and the write side to the sender goroutine.
func (c *Client) writeDirect(of outFrame) {
	if skip(&of) {
		bufpool.Put(of.frame)
		c.releaseWriteSide()
		return
	}
	b := (*of.frame)[of.start:]
	n, err := c.ws.direct.write(b)
	if err != nil {
		bufpool.Put(of.frame)
		c.writeFailed()
		return
	}
	if n < len(b) {
		c.mu.Lock()
		rest := outFrame{frame: of.frame, start: of.start + n, kind: frameRest}
		c.ws.queue = append(c.ws.queue, outFrame{})
		copy(c.ws.queue[1:], c.ws.queue)
		c.ws.queue[0] = rest
		c.ws.queued += len(b) - n
		c.ws.wake <- struct{}{} // cannot block: we own the write side
		c.mu.Unlock()
		return
	}
	bufpool.Put(of.frame)
	c.releaseWriteSide()
}

// releaseWriteSide is how a direct writer lets go: to the sender goroutine
// if frames queued up meanwhile, to nobody otherwise.
func (c *Client) releaseWriteSide() {
	c.mu.Lock()
	if len(c.ws.queue) > 0 {
		c.ws.wake <- struct{}{} // cannot block: we own the write side
	} else {
		c.ws.writing = false
	}
	c.mu.Unlock()
}

// skip reports whether the writer should leave out a queued frame, and
// records that a stream's request frame is going out. Runs on the writer.
func skip(of *outFrame) bool {
	switch of.kind {
	case frameRest:
		return false
	case frameControl:
		return !of.s.opened.Load()
	}
	if of.s.abandoned.Load() {
		return true
	}
	if of.kind == frameOpen {
		of.s.opened.Store(true)
	}
	return false
}

// send is the sender goroutine: each time it is handed the write side, it
// writes the queue out in batches, then lets go.
func (c *Client) send() {
	const maxBatch = 64
	var (
		batch   = make([]outFrame, 0, maxBatch)
		backing = make(net.Buffers, 0, maxBatch)
	)
	for {
		select {
		case <-c.ws.wake:
		case <-c.done:
			return
		}
		for {
			c.mu.Lock()
			q := c.ws.queue
			if len(q) == 0 {
				c.ws.writing = false
				c.mu.Unlock()
				break
			}
			n := len(q)
			if n > maxBatch {
				n = maxBatch
			}
			batch = append(batch[:0], q[:n]...)
			rest := copy(q, q[n:])
			clear(q[rest:])
			c.ws.queue = q[:rest]
			c.mu.Unlock()

			bufs := backing[:0]
			total := 0
			for i := range batch {
				b := (*batch[i].frame)[batch[i].start:]
				total += len(b)
				if !skip(&batch[i]) {
					bufs = append(bufs, b)
				}
			}
			var err error
			switch nb := len(bufs); nb {
			case 0:
			case 1:
				_, err = c.conn.Write(bufs[0])
			default:
				_, err = bufs.WriteTo(c.conn)
			}
			// Drop the references to the frames, which go back to the
			// pool: kept here they would pin up to maxBatch buffers for as
			// long as the client lives.
			clear(backing[:cap(backing)])
			for i := range batch {
				bufpool.Put(batch[i].frame)
				batch[i] = outFrame{}
			}
			if err != nil {
				c.writeFailed()
				return
			}
			c.mu.Lock()
			c.ws.queued -= total
			if c.ws.space != nil && c.ws.queued <= maxQueued {
				close(c.ws.space)
				c.ws.space = nil
			}
			c.mu.Unlock()
		}
	}
}

// writeFailed stops the write side after a failed write: part of a frame may
// be out, so nothing more may be written. Replies the server sent before it
// went may still wait in the socket, though: a server shutting down
// gracefully closes the connection once its last reply is out, and a window
// grant written meanwhile fails. So on a connection whose write half can be
// closed on its own (unix and TCP sockets), the client closes just that,
// which tells a server still there to hang up, and reads on, counted as a
// waiter for good, until the connection ends; it shuts down then, as when
// the server hangs up. Calls and streams under way get the replies that
// came, or ErrClosed at the end; new ones, and every SendMsg, fail with
// ErrClosed at once; queued frames are dropped. On other connections the
// client shuts down at once. The writer that failed keeps the write side,
// so nobody writes again.
func (c *Client) writeFailed() {
	cw, ok := c.conn.(interface{ CloseWrite() error })
	if !ok {
		c.shutdown()
		return
	}
	c.mu.Lock()
	ws := &c.ws
	if ws.broken || c.closed {
		c.mu.Unlock()
		return
	}
	ws.broken = true
	for _, of := range ws.queue {
		bufpool.Put(of.frame)
	}
	ws.queue, ws.queued = nil, 0
	if ws.space != nil {
		close(ws.space)
		ws.space = nil
	}
	c.rd.waiting.Add(1)
	if c.rd.owner == readerNone {
		c.rd.owner = readerReceiver
		c.rwake <- struct{}{} // cannot block: a token is sent only when the receiver is not reading
	}
	c.mu.Unlock()
	if cw.CloseWrite() != nil {
		c.shutdown()
	}
}
