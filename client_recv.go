package ttrpc

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/containerd/ttrpc/internal/bufpool"
)

// This file holds the read side of a Client. One goroutine at a time reads
// frames, and whoever it is hands every reply that is not its own to the
// waiting call's channel.
//
// Normally that is the receiver goroutine. But a reply handed from the
// receiver to its caller costs a goroutine wakeup on each side of a process
// switch, which is most of a serial call's latency beyond the socket itself.
// So when nobody is reading as a call starts waiting, the caller reads for
// itself and returns with its reply straight from the socket. The receiver
// lets go of the read side as soon as nobody waits (below), so that calls
// made one after another all read their own replies.
//
// Somebody must still notice a connection that dies while idle, and run the
// on-close function: when no call has come for a whole idleWatch period,
// the receiver takes the read side back. A caller reading is interrupted
// through a read deadline when its context ends; the frame reader keeps its
// place in a half-read frame, so the receiver carries on with it.
//
// Streams read the same way. A goroutine that needs a frame (a unary call
// waiting for its reply, a stream's RecvMsg with nothing queued) and finds
// nobody reading becomes the reader; one that finds somebody reading counts
// itself as waiting (needFrame). So do goroutines that cannot read: a
// SendMsg waiting for a window grant or for room in the write queue; and so
// does every stream until the server's first window frame, since a server
// without flow control must be read as it sends. The goroutine that
// delivers a waiter its frame takes its count back. Whoever reads hands the
// read side on, when done, to the receiver if anybody still waits, and to
// nobody otherwise; the receiver lets go as soon as nobody waits. A stream
// read as fast as it arrives is thus read by its own RecvMsg, with no
// goroutine in between, and each message that is whole in the read buffer
// is decoded where it lies (readFor lends it to RecvMsg).
//
// Callers read only on the kernel sockets of package net, whose deadlines
// are known to interrupt a blocked read promptly (see initDirectWrite);
// other connections are always read by the receiver.

// idleWatch is how long the read side may stay unowned before the receiver
// takes it back to watch an idle connection for its end.
const idleWatch = 10 * time.Millisecond

// Owners of the read side.
const (
	readerNone     = iota // nobody reads: no call is waiting and the watch has not begun
	readerReceiver        // the receiver goroutine
	readerCaller          // the call in readSide.call
)

// readSide records who reads. It is guarded by Client.mu, but for last and
// lastID, which belong to whoever reads.
type readSide struct {
	last   *clientStream // the stream of the last data frame delivered
	lastID streamID

	owner       int
	call        *clientStream // with readerCaller
	interrupted bool          // a read deadline was set to stop call's read

	// Goroutines waiting for a frame that somebody else must read (see
	// needFrame). Raised under Client.mu, lowered without it.
	waiting atomic.Int32

	watch     time.Duration // idleWatch; tests make it longer
	releases  uint64        // times the read side went to readerNone
	leaseSeen uint64        // releases when the lease timer was last armed
	lease     *time.Timer   // returns the read side to the receiver when idle
	leaseSet  bool
}

// receive is the receiver goroutine. It reads whenever it is given the read
// side, until the client shuts down; it then runs the user's on-close
// function.
func (c *Client) receive() {
	defer func() {
		c.userCloseFunc()
		close(c.userCloseWaitCh)
	}()
	for {
		select {
		case <-c.rwake:
		case <-c.done:
			return
		}
		// A caller may have handed over the read side because the
		// streams' budget is spent.
		if c.budget.Over() && !c.waitBudget() {
			return
		}
		if !c.receiveUntilIdle() {
			return
		}
	}
}

// nextFrame reads the next frame that can mean something to a stream: a
// response, a data frame or a window grant, or the RESOURCE_EXHAUSTED error
// owed to the stream whose frame was too large (the frame was skipped and
// the connection is still in sync). Frames of other types are dropped. An
// error means the read failed: the connection is broken, or a read deadline
// interrupted it (the frame reader keeps its place).
func (c *Client) nextFrame() (messageHeader, inFrame, error) {
	for {
		h, p, err := c.reader.read()
		if err != nil {
			var tooLarge *OversizedMessageErr
			if !errors.As(err, &tooLarge) {
				return h, inFrame{}, err
			}
			if h.Type == messageTypeResponse || h.Type == messageTypeData {
				return h, inFrame{typ: h.Type, flags: h.Flags, err: err}, nil
			}
			continue
		}
		switch h.Type {
		case messageTypeResponse, messageTypeData, messageTypeWindow:
			return h, inFrame{p: p, typ: h.Type, flags: h.Flags}, nil
		}
		// A frame type a client has no use for (a request, or a type of
		// a later protocol): skip it and keep the connection.
		bufpool.Put(p)
	}
}

// receiveUntilIdle reads and delivers frames until it lets go of the read
// side, which it does once nobody waits for a frame. It reports false when
// the connection failed and the client shut down.
func (c *Client) receiveUntilIdle() bool {
	for {
		h, f, err := c.nextFrame()
		if err != nil {
			c.shutdown()
			return false
		}
		if c.deliver(h, f) && !c.waitBudget() {
			return false
		}
		if c.rd.waiting.Load() == 0 && c.letGo() {
			return true
		}
	}
}

// letGo is how the receiver lets go of the read side when nobody waits for
// a frame: the next goroutine that needs one reads for itself. On
// connections that callers cannot read (see needFrame) the receiver keeps
// it.
func (c *Client) letGo() bool {
	if !c.ws.direct.ok() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rd.waiting.Load() != 0 || c.rd.owner != readerReceiver || c.closed {
		return false
	}
	c.releaseLocked()
	return true
}

// Why a goroutine waits for a frame (needFrame, stopWaiting).
const (
	waitMessage = iota // a message or the end: its queue is empty
	waitGrant          // a window grant: its credit is spent
	waitAck            // the server's first window frame: until it comes, the server may not do flow control, and its messages must be read as they come
	waitDrain          // room in the write queue: the client must read while its writes are stuck, or both ends could wait on full sockets
	waitReasons
)

// needFrame is called by a goroutine about to wait for a frame for s. When
// nobody reads and lead is true (the goroutine can read), it becomes the
// reader and needFrame reports true. Otherwise it is counted as waiting,
// for why, until the frame is delivered or it stops waiting (stopWaiting),
// and the receiver reads if nobody did. A stream that has left the table
// (its end is delivered, or it was abandoned) waits for nothing more.
func (c *Client) needFrame(s *clientStream, why int, lead bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.streams[s.id] != s {
		return false
	}
	if c.rd.owner == readerNone {
		if lead && c.ws.direct.ok() {
			c.rd.owner = readerCaller
			c.rd.call = s
			return true
		}
		c.rd.owner = readerReceiver
		c.rwake <- struct{}{} // cannot block: a token is sent only when the receiver is not reading
	}
	c.countLocked(s, why)
	return false
}

// countWaiting counts s as waiting, for why, without making anybody read
// now: whoever reads next hands the read side to the receiver while the
// count stands (or the idle lease does, if nobody reads at all).
func (c *Client) countWaiting(s *clientStream, why int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && c.streams[s.id] == s {
		c.countLocked(s, why)
	}
}

func (c *Client) countLocked(s *clientStream, why int) {
	if s.waits[why].CompareAndSwap(false, true) {
		c.rd.waiting.Add(1)
	}
}

// stopWaiting takes back the count of a goroutine waiting, for why, for a
// frame for s: the frame has been delivered, or the goroutine has stopped
// waiting.
func (c *Client) stopWaiting(s *clientStream, why int) {
	if s.waits[why].Load() && s.waits[why].CompareAndSwap(true, false) {
		c.rd.waiting.Add(-1)
	}
}

// deliver hands a frame to its stream. A response, or a data frame that
// closes the server's side, is the last frame of its stream, which leaves
// the stream table then. deliver reports whether the connection's budget
// for queued messages is spent, in which case the reader must wait before
// reading on.
func (c *Client) deliver(h messageHeader, f inFrame) (full bool) {
	last := h.Type == messageTypeResponse || f.err != nil ||
		(h.Type == messageTypeData && h.Flags&flagRemoteClosed != 0)
	if !last && h.Type == messageTypeData && c.rd.last != nil && c.rd.lastID == h.StreamID {
		// Another message of the stream delivered to last: no need for
		// the table. Should the stream have been abandoned meanwhile,
		// its queue has ended and drops the frame, as the table would.
		s := c.rd.last
		s.in.Push(f, f.size())
		c.stopWaiting(s, waitMessage)
		return c.budget.Over()
	}
	c.mu.Lock()
	s := c.streams[h.StreamID]
	if s != nil && s.credit == nil && h.Type != messageTypeResponse {
		// A unary call takes nothing but its response; a server that
		// sends it anything else is ignored (late or stray frames).
		s = nil
	}
	switch {
	case s != nil && !last && h.Type == messageTypeData:
		c.rd.last, c.rd.lastID = s, h.StreamID
	case c.rd.lastID == h.StreamID:
		c.rd.last = nil
	}
	if s != nil && last {
		delete(c.streams, h.StreamID)
	}
	c.mu.Unlock()
	if s == nil {
		// Most often the reply of a call that gave up (deadline,
		// cancel): a normal event, dropped without a word.
		bufpool.Put(f.p)
		return false
	}
	if h.Type == messageTypeWindow {
		s.granted(f.p)
		c.stopWaiting(s, waitAck)
		if s.credit.Available() {
			// A grant that leaves the credit spent (a large message
			// overdrew it) leaves its sender waiting for the next.
			c.stopWaiting(s, waitGrant)
		}
		return false
	}
	if last {
		s.remoteEnded()
		c.stopWaiting(s, waitGrant)
		c.stopWaiting(s, waitAck)
	}
	s.in.Push(f, f.size())
	c.stopWaiting(s, waitMessage)
	return c.budget.Over()
}

// waitBudget waits, with the receiver stopped, until the streams' queued
// messages are within the client's budget. It reports false if the client
// shut down meanwhile; a server that hangs up meanwhile shuts it down.
func (c *Client) waitBudget() bool {
	stop := watchHangup(c.conn, c.shutdown)
	defer stop()
	return c.budget.Wait(c.done)
}

// readOwn is await for a caller that reads: it reads frames, delivering
// each to its stream, until one arrives for s, its context ends, or the
// connection fails. It then passes the read side on.
func (c *Client) readOwn(ctx context.Context, s *clientStream) (inFrame, error) {
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, s.interrupt)
	}
	// finish passes the read side on. The interrupt function compares
	// against s, so s may go back to the pool only once it can no longer
	// run; otherwise the caller must not reuse s (reused reports which).
	finish := func(full bool) (reusable bool) {
		c.mu.Lock()
		c.passReadSideLocked(full)
		c.mu.Unlock()
		return stop == nil || stop()
	}
	for {
		h, f, err := c.nextFrame()
		switch {
		case err == nil:
			full := c.deliver(h, f)
			if r, _, ok, _ := s.in.TryPop(); ok {
				if !finish(full) {
					s.pinned = true
				}
				return r, nil
			}
			if full {
				// Let the receiver wait for the streams' readers;
				// ours is the queue.
				finish(true)
				s.pinned = true
				return c.awaitQueue(ctx, s)
			}
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			// Interrupted: give up the call, keep the connection. A
			// frame the writer has not begun is skipped; one it has is
			// finished.
			c.abandon(s)
			finish(false)
			return inFrame{}, ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded):
			// A deadline that is not ours: nothing to give up for.
			if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
				c.shutdown()
				return inFrame{}, c.closeErr
			}
		default:
			// The connection is broken. The receiver, waiting for the
			// read side, sees the shutdown and runs the on-close function.
			c.shutdown()
			finish(false)
			if r, _, ok, _ := s.in.TryPop(); ok {
				return r, nil
			}
			return inFrame{}, c.closeErr
		}
	}
}

// interrupt stops s's read, if s is reading, by setting a read deadline
// in the past. It runs when s's context ends.
func (c *Client) interrupt(s *clientStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rd.owner == readerCaller && c.rd.call == s && !c.rd.interrupted {
		c.rd.interrupted = true
		if err := c.conn.SetReadDeadline(time.Unix(1, 0)); err != nil {
			// Cannot interrupt the read: the caller would hang, so
			// fail the connection instead.
			go c.shutdown()
		}
	}
}

// readFor is how a stream's RecvMsg reads when it found nobody reading: it
// reads frames, delivering each to its stream, until s has something to
// take (or its queue has ended: cancelling s interrupts the read), and on
// while whole frames are already buffered, which costs no system call and
// spares the next RecvMsgs taking the read side for each; then it passes
// the read side on.
//
// When the frame s waits for is a plain message already whole in the
// reader's buffer, and lend says the message it is for decodes with
// generated code only (decodesInPlace: bounded time, no calls, no writes to
// its input), readFor lends it instead (ok): RecvMsg decodes it where it
// lies, and gives it back with the read side (giveBack). That spares the
// copy into a pooled buffer and the trip through the queue; a stream read as
// fast as it arrives takes most of its messages this way. Nobody else reads
// the connection meanwhile, which is why a decoder that might wait (on this
// client, say) never gets a lent frame.
func (c *Client) readFor(s *clientStream, lend bool) (lent inFrame, ok bool) {
	full := false
	for !full {
		empty := !s.in.HasNext()
		if !empty && !c.reader.buffered() {
			break
		}
		if empty && lend && s.desc.StreamingServer && c.reader.fill() == nil {
			if h, b, ok := c.reader.peek(); ok && h.StreamID == s.id && h.Type == messageTypeData && h.Flags == 0 {
				s.lentData = b
				return inFrame{p: &s.lentData, typ: h.Type, lent: true}, true
			}
		}
		h, f, err := c.nextFrame()
		if err == nil {
			full = c.deliver(h, f)
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if s.in.HasNext() {
				break // interrupted: s was cancelled
			}
			// A deadline that is not ours: nothing to give up for.
			if c.conn.SetReadDeadline(time.Time{}) == nil {
				continue
			}
		}
		c.shutdown()
		break
	}
	c.mu.Lock()
	c.passReadSideLocked(full)
	c.mu.Unlock()
	return inFrame{}, false
}

// giveBack is how RecvMsg returns a frame lent by readFor: the frame's n
// bytes (header and data) are skipped in the reader's buffer and the read
// side passed on.
func (c *Client) giveBack(n int) {
	c.reader.discard(n)
	c.mu.Lock()
	c.passReadSideLocked(false)
	c.mu.Unlock()
}

// passReadSideLocked is how a reading caller lets go of the read side: to
// the receiver when others wait for frames (or the streams' budget is spent,
// full: the receiver waits for it), to nobody otherwise.
func (c *Client) passReadSideLocked(full bool) {
	if c.rd.interrupted {
		c.rd.interrupted = false
		if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
			go c.shutdown()
		}
	}
	c.rd.call = nil
	if c.closed {
		c.rd.owner = readerNone
		return
	}
	if c.rd.waiting.Load() == 0 && !full {
		c.releaseLocked()
		return
	}
	c.rd.owner = readerReceiver
	c.rwake <- struct{}{} // cannot block: a token is sent only when the receiver is not reading
}

// releaseLocked leaves the read side to nobody and makes sure the lease timer
// runs, which gives it back to the receiver if no call comes for a while.
func (c *Client) releaseLocked() {
	c.rd.owner = readerNone
	c.rd.releases++
	if c.rd.leaseSet {
		return
	}
	c.rd.leaseSet = true
	c.rd.leaseSeen = c.rd.releases
	if c.rd.lease == nil {
		c.rd.lease = time.AfterFunc(c.rd.watch, c.leaseExpired)
	} else {
		c.rd.lease.Reset(c.rd.watch)
	}
}

// leaseExpired runs every idleWatch while calls read for themselves. Once a
// whole period has passed with the read side unowned and unclaimed, the
// receiver takes it back.
func (c *Client) leaseExpired() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed || c.rd.owner == readerReceiver:
		c.rd.leaseSet = false
	case c.rd.owner == readerNone && c.rd.releases == c.rd.leaseSeen:
		c.rd.leaseSet = false
		c.rd.owner = readerReceiver
		c.rwake <- struct{}{}
	default:
		c.rd.leaseSeen = c.rd.releases
		c.rd.lease.Reset(c.rd.watch)
	}
}
