package ttrpc

import (
	"context"
	"errors"
	"log/slog"
	"os"
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
// lets go of the read side whenever the call table empties, so that calls
// made one after another all read their own replies.
//
// Somebody must still notice a connection that dies while idle, and run the
// on-close function: when no call has come for a whole idleWatch period,
// the receiver takes the read side back. A caller reading is interrupted
// through a read deadline when its context ends; the frame reader keeps its
// place in a half-read frame, so the receiver carries on with it.
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

// readSide records who reads. It is guarded by Client.mu.
type readSide struct {
	owner       int
	call        *call // with readerCaller
	interrupted bool  // a read deadline was set to stop call's read

	releases  uint64      // times the read side went to readerNone
	leaseSeen uint64      // releases when the lease timer was last armed
	lease     *time.Timer // returns the read side to the receiver when idle
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
		if !c.receiveUntilIdle() {
			return
		}
	}
}

// nextReply reads frames until one answers a stream: a reply, or the
// RESOURCE_EXHAUSTED error owed to the call whose reply was too large (the
// oversized frame was skipped and the stream is still in sync). Frames of
// other types are dropped. An error means the read failed: the stream is
// broken, or a read deadline interrupted it (the frame reader keeps its
// place).
func (c *Client) nextReply() (streamID, callResult, error) {
	for {
		h, p, err := c.reader.read()
		if err != nil {
			var tooLarge *frameTooLargeError
			if !errors.As(err, &tooLarge) {
				return 0, callResult{}, err
			}
			if h.Type == messageTypeResponse {
				return h.StreamID, callResult{err: err}, nil
			}
			continue
		}
		if h.Type != messageTypeResponse {
			slog.Debug("ttrpc: client dropping frame of unexpected type", "type", h.Type, "stream", h.StreamID)
			bufpool.Put(p)
			continue
		}
		return h.StreamID, callResult{p: p}, nil
	}
}

// receiveUntilIdle reads and delivers replies until it lets go of the read
// side, which it does when no call is left waiting. It reports false when
// the connection failed and the client shut down.
func (c *Client) receiveUntilIdle() bool {
	for {
		id, r, err := c.nextReply()
		if err != nil {
			c.shutdown()
			return false
		}
		if c.deliver(id, r) {
			return true
		}
	}
}

// deliver hands a reply to its call. Called by the receiver, it reports
// whether the receiver gave up the read side because that was the last call
// waiting. (Frames for no call, such as late replies to calls that gave up,
// do not make it let go: it goes on reading, as it does to watch an idle
// connection, rather than leave them in the socket.)
func (c *Client) deliver(id streamID, r callResult) (released bool) {
	c.mu.Lock()
	cl := c.calls[id]
	delete(c.calls, id)
	if cl != nil && c.rd.owner == readerReceiver && len(c.calls) == 0 && c.raw != nil && !c.closed {
		c.releaseLocked()
		released = true
	}
	c.mu.Unlock()
	if cl == nil {
		// Most often the reply of a call that gave up (deadline, cancel).
		slog.Debug("ttrpc: dropping reply for unknown stream", "stream", id)
		bufpool.Put(r.p)
		return released
	}
	cl.resp <- r
	return released
}

// lead makes cl the reader if nobody reads and its reply has not been
// delivered already.
func (c *Client) lead(cl *call) bool {
	if c.raw == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rd.owner != readerNone || c.closed || c.calls[cl.id] != cl {
		return false
	}
	c.rd.owner = readerCaller
	c.rd.call = cl
	return true
}

// readOwn is roundTrip's wait for a caller that reads: it reads frames,
// delivering other calls' replies, until its own arrives, its context ends,
// or the connection fails. It then passes the read side on.
func (c *Client) readOwn(ctx context.Context, cl *call) (*[]byte, error) {
	var stop func() bool
	if ctx.Done() != nil {
		cl.client = c
		stop = context.AfterFunc(ctx, cl.interrupt)
	}
	// finish passes the read side on. A completed call goes back to the
	// pool, but only if the interrupt function can no longer run, since it
	// compares against cl; an abandoned one may still be held by the sender.
	finish := func(completed bool) {
		c.mu.Lock()
		if c.calls[cl.id] == cl {
			delete(c.calls, cl.id)
		}
		c.passReadSideLocked()
		c.mu.Unlock()
		if (stop == nil || stop()) && completed {
			cl.client = nil
			callPool.Put(cl)
		}
	}
	for {
		id, r, err := c.nextReply()
		switch {
		case err == nil && id == cl.id:
			finish(true)
			return r.p, r.err
		case err == nil:
			c.deliver(id, r)
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			// Interrupted: give up the call, keep the stream. A frame
			// the sender has not begun is skipped; one it has is finished.
			cl.state.CompareAndSwap(callQueued, callAbandoned)
			finish(false)
			return nil, ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded):
			// A deadline that is not ours: nothing to give up for.
			if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
				c.shutdown()
				return nil, ErrClosed
			}
		default:
			// The stream is broken. The receiver, waiting for the read
			// side, sees the shutdown and runs the on-close function.
			c.shutdown()
			return nil, ErrClosed
		}
	}
}

// interrupt stops cl's read, if cl is reading, by setting a read deadline
// in the past. It runs when cl's context ends.
func (c *Client) interrupt(cl *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rd.owner == readerCaller && c.rd.call == cl && !c.rd.interrupted {
		c.rd.interrupted = true
		if err := c.conn.SetReadDeadline(time.Unix(1, 0)); err != nil {
			// Cannot interrupt the read: the caller would hang, so
			// fail the connection instead.
			go c.shutdown()
		}
	}
}

// passReadSideLocked is how a reading caller lets go of the read side: to
// the receiver when other calls wait for replies, to nobody otherwise.
func (c *Client) passReadSideLocked() {
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
	if len(c.calls) == 0 {
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
		c.rd.lease = time.AfterFunc(idleWatch, c.leaseExpired)
	} else {
		c.rd.lease.Reset(idleWatch)
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
		c.rd.lease.Reset(idleWatch)
	}
}
