package ttrpc

import (
	"context"
	"net"
	"sync"

	"github.com/containerd/ttrpc/internal/bufpool"
)

// This file holds a server connection's write side: one FIFO of frames and
// at most one writer at a time.
//
// A reply to a unary call, and the frame that ends a stream, are written by
// the goroutine that produced them (write): directly when nobody else is
// writing, which costs no goroutine switch; otherwise queued behind the
// frames already waiting, and the caller waits until they are all out, so
// that when write returns its frame has left (Shutdown counts on that).
//
// A stream's messages and window grants are only queued (queue): a flusher
// goroutine, started when the queue stops being empty and gone when it is
// empty again, writes whatever has piled up with one writev. A handler that
// sends message after message thus keeps producing while earlier ones are
// written, and a burst costs a few syscalls rather than one per message. A
// handler that sends one message and then waits loses nothing either: the
// flusher runs on the thread the handler leaves.
//
// A small queued frame (a stream message of up to 16 KiB, a window grant)
// does not stay in its own buffer: it is copied to the end of the tail, one
// 64 KiB buffer that collects the frames queued since the flusher last took
// the queue, and the flusher writes the tail as one piece. Whatever else is
// queued first seals the tail (moves it to the end of the queue), so frames
// leave in the order they were queued. The copy is made by the sender, from
// a frame it has just encoded into a buffer that goes straight back to its
// pool, into a tail that is rewritten while still in the cache; it saves a
// writev entry and the flusher's work per frame, and the trips of buffers
// between the sender's and the flusher's processors: about a quarter of the
// server's CPU per message of a fast stream (README, Performance). The
// encoder itself runs before any lock is taken, whatever the message.

// outgoing is a queued frame, or a sealed tail of frames; p, when set, is
// the pooled buffer to give back once it is written.
type outgoing struct {
	b      []byte
	p      *[]byte
	size   int  // what it counts in serverWriter.queued
	frames int  // frames in b
	end    bool // the frame answers a request: count it done once written
}

// serverWriter is the write side's state, guarded by mu.
type serverWriter struct {
	queue   []outgoing
	tail    *[]byte       // data frames encoded after the queue, not yet in it; nil or writing is set
	tailN   int           // frames in tail
	queued  int           // bytes in queue and tail (a sealed tail's whole buffer)
	writing bool          // a writer (a direct writer or the flusher) owns the write side
	added   uint64        // frames ever queued
	written uint64        // frames ever written (or dropped after a failure)
	err     error         // set by the first failed write; the connection is closed then
	done    chan struct{} // closed and replaced each time frames are written
}

// maxServerQueued bounds the bytes of stream messages queued for writing on
// a connection: SendMsg waits while more are queued.
const maxServerQueued = 1 << 20

// write writes one frame from the calling goroutine and returns once it is
// out, or ErrClosed once the connection has failed. The caller keeps frame.
func (c *serverConn) write(frame []byte) error {
	w := &c.w
	c.wmu.Lock()
	if w.err != nil {
		c.wmu.Unlock()
		return ErrClosed
	}
	if !w.writing && len(w.queue) == 0 {
		w.writing = true
		c.wmu.Unlock()
		return c.writeOwned(frame)
	}
	// Behind queued frames: let the flusher write this one too, and wait.
	c.sealLocked()
	w.queue = append(w.queue, outgoing{b: frame, frames: 1})
	w.added++
	mine := w.added
	c.startFlushLocked()
	for w.written < mine && w.err == nil {
		done := w.done
		c.wmu.Unlock()
		<-done
		c.wmu.Lock()
	}
	err := w.err
	c.wmu.Unlock()
	if err != nil {
		return ErrClosed
	}
	return nil
}

// writeFrame writes a pooled frame and gives it back.
func (c *serverConn) writeFrame(p *[]byte) error {
	err := c.write(*p)
	bufpool.Put(p)
	return err
}

// queue queues a pooled frame, which now belongs to the write side, and
// returns without waiting for it to be written, unless more than
// maxServerQueued bytes are queued: it then waits for room, for ctx to end,
// or for the connection to fail.
func (c *serverConn) queue(ctx context.Context, p *[]byte) error {
	return c.enqueue(ctx, p, false)
}

// send writes a pooled frame, which now belongs to the write side, from the
// calling goroutine when nobody else writes and nothing is queued, saving
// the flusher's wakeup; otherwise it queues the frame as queue does. A
// direct write waits, as write does, for a full socket to take the frame.
func (c *serverConn) send(ctx context.Context, p *[]byte) error {
	w := &c.w
	c.wmu.Lock()
	if w.writing || len(w.queue) > 0 || w.tail != nil || w.err != nil {
		c.wmu.Unlock()
		return c.enqueue(ctx, p, false)
	}
	w.writing = true
	c.wmu.Unlock()
	err := c.writeOwned(*p)
	bufpool.Put(p)
	return err
}

// writeOwned writes frame from the calling goroutine, which has taken the
// write side (set writing), and then hands the write side to the flusher if
// frames queued up meanwhile, or lets go of it.
func (c *serverConn) writeOwned(frame []byte) error {
	w := &c.w
	_, err := c.conn.Write(frame)
	c.wmu.Lock()
	if err != nil {
		c.failLocked(err)
	}
	if (len(w.queue) > 0 || w.tail != nil) && w.err == nil {
		go c.flush() // frames queued meanwhile: the flusher takes over
	} else {
		w.writing = false
	}
	c.wmu.Unlock()
	if err != nil {
		return ErrClosed
	}
	return nil
}

// queueEnding queues a pooled frame that answers a request (a refusal), as
// queue does. The flusher ends the request (serverConn.end) once the frame
// is out or dropped.
func (c *serverConn) queueEnding(p *[]byte) {
	c.enqueue(c.ctx, p, true)
}

func (c *serverConn) enqueue(ctx context.Context, p *[]byte, end bool) error {
	w := &c.w
	c.wmu.Lock()
	if w.err != nil {
		c.wmu.Unlock()
		bufpool.Put(p)
		if end {
			c.end()
		}
		return ErrClosed
	}
	if !end && len(*p) <= maxTailFrame {
		c.appendTailLocked(*p)
		bufpool.Put(p) // copied while still in this thread's cache
	} else {
		c.sealLocked()
		w.queue = append(w.queue, outgoing{b: *p, p: p, size: cap(*p), frames: 1, end: end})
		w.queued += cap(*p)
	}
	w.added++
	c.startFlushLocked()
	return c.waitRoomLocked(ctx)
}

// waitRoomLocked waits, with wmu held and then released, while more than
// maxServerQueued bytes are queued.
func (c *serverConn) waitRoomLocked(ctx context.Context) error {
	w := &c.w
	for w.queued > maxServerQueued && w.err == nil {
		done := w.done
		c.wmu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.wmu.Lock()
	}
	err := w.err
	c.wmu.Unlock()
	if err != nil {
		return ErrClosed
	}
	return nil
}

// startFlushLocked starts the flusher unless a writer is at work already.
func (c *serverConn) startFlushLocked() {
	if !c.w.writing {
		c.w.writing = true
		go c.flush()
	}
}

// flushBatch is a flusher's working space: the frames it took off the queue
// and their buffers for writev. It is pooled rather than on the flusher's
// stack, which would then grow on every start.
type flushBatch struct {
	frames [maxFlushBatch]outgoing
	bufs   net.Buffers
}

const maxFlushBatch = 64

var flushBatches = sync.Pool{New: func() any {
	return &flushBatch{bufs: make(net.Buffers, 0, maxFlushBatch)}
}}

// flush is the flusher goroutine: it writes the queue out in batches until
// it is empty, then lets go of the write side.
func (c *serverConn) flush() {
	fb := flushBatches.Get().(*flushBatch)
	defer flushBatches.Put(fb)
	batch := &fb.frames
	w := &c.w
	c.wmu.Lock()
	for w.err == nil {
		if len(w.queue) < maxFlushBatch {
			c.sealLocked()
		}
		if len(w.queue) == 0 {
			break
		}
		n := copy(batch[:], w.queue)
		rest := copy(w.queue, w.queue[n:])
		clear(w.queue[rest:])
		w.queue = w.queue[:rest]
		c.wmu.Unlock()

		bufs := fb.bufs[:0]
		total, ends, frames := 0, 0, 0
		for _, o := range batch[:n] {
			bufs = append(bufs, o.b)
			total += o.size
			frames += o.frames
			if o.end {
				ends++
			}
		}
		var err error
		if n == 1 {
			_, err = c.conn.Write(bufs[0])
		} else {
			_, err = bufs.WriteTo(c.conn)
		}
		for i := range batch[:n] {
			bufpool.Put(batch[i].p)
			batch[i] = outgoing{}
		}
		clear(fb.bufs[:cap(fb.bufs)])

		for ; ends > 0; ends-- {
			c.end()
		}
		c.wmu.Lock()
		w.queued -= total
		w.written += uint64(frames)
		if err != nil {
			c.failLocked(err)
		}
		c.wakeWritersLocked()
	}
	w.writing = false
	c.wmu.Unlock()
}

// failLocked records a failed write: a frame may be half written, so the
// connection is out of sync and is closed; queued frames are dropped and
// their waiters told.
func (c *serverConn) failLocked(err error) {
	w := &c.w
	if w.err == nil {
		w.err = err
		c.conn.Close()
	}
	c.sealLocked()
	ends := 0
	for _, o := range w.queue {
		bufpool.Put(o.p)
		w.written += uint64(o.frames)
		if o.end {
			ends++
		}
	}
	w.queue, w.queued = nil, 0
	c.wakeWritersLocked()
	if ends > 0 {
		// end takes c.mu and may close the connection: not under wmu.
		go func() {
			for ; ends > 0; ends-- {
				c.end()
			}
		}()
	}
}

func (c *serverConn) wakeWritersLocked() {
	close(c.w.done)
	c.w.done = make(chan struct{})
}

// tailSize is the size of a tail buffer; maxTailFrame bounds the frames
// copied into one: larger ones cost more to copy than a writev entry.
const (
	tailSize     = 64 << 10
	maxTailFrame = 16 << 10
)

// sealLocked moves the tail, if any, to the end of the queue. A sealed tail
// counts its whole buffer as queued, so that tails sealed early by other
// frames cannot hold more memory than maxServerQueued allows.
func (c *serverConn) sealLocked() {
	w := &c.w
	if w.tail == nil {
		return
	}
	w.queued += cap(*w.tail) - len(*w.tail)
	w.queue = append(w.queue, outgoing{b: *w.tail, p: w.tail, size: cap(*w.tail), frames: w.tailN})
	w.tail, w.tailN = nil, 0
}

// appendTailLocked copies frame to the end of the tail, starting a tail
// when there is none or it is full.
func (c *serverConn) appendTailLocked(frame []byte) {
	w := &c.w
	if w.tail != nil && cap(*w.tail)-len(*w.tail) < len(frame) {
		c.sealLocked()
	}
	if w.tail == nil {
		w.tail = bufpool.Get(tailSize)
		*w.tail = (*w.tail)[:0]
	}
	*w.tail = append(*w.tail, frame...)
	w.tailN++
	w.queued += len(frame)
}
