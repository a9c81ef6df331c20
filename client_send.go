package ttrpc

import (
	"net"
	"syscall"

	"github.com/containerd/ttrpc/internal/bufpool"
)

// This file holds the write side of a Client. At any moment one goroutine
// owns it, by holding the write token: normally the sender goroutine, which
// batches queued frames into one writev; or, when a call is alone, the caller
// itself, which writes without blocking and hands whatever the socket did not
// take to the sender. Either way a frame, once started, is finished, so the
// stream stays in sync even when its caller has given up.

// sendItem is a request frame queued for the sender.
type sendItem struct {
	cl    *call
	frame *[]byte
	start int
}

// initDirectWrite enables writeDirect for the kernel sockets of package net,
// whose descriptors are non-blocking. Other conns always go through the
// sender goroutine.
func (c *Client) initDirectWrite() {
	sc := netSocket(c.conn)
	if sc == nil {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	c.raw = raw
	c.rawFn = c.rawWrite
}

// rawWrite writes c.rawBuf with non-blocking write calls until it is all out
// or the socket is full. It never waits: returning true stops RawConn.Write
// from polling for writability.
func (c *Client) rawWrite(fd uintptr) bool {
	for c.rawN < len(c.rawBuf) {
		n, err := syscall.Write(int(fd), c.rawBuf[c.rawN:])
		if n > 0 {
			c.rawN += n
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if err != syscall.EAGAIN {
				c.rawErr = err
			}
			break
		}
		if n <= 0 {
			break
		}
	}
	return true
}

// writeDirect writes the request frame from the calling goroutine when no
// one else is writing, saving the handoff to the sender goroutine. It never
// blocks: what the socket does not take at once goes to the sender, which
// completes the frame (so the stream stays in sync) while the caller waits
// for its reply and stays free to give up. It reports false, having done
// nothing, when the frame must be queued instead.
func (c *Client) writeDirect(cl *call, frame *[]byte, start int) bool {
	if c.raw == nil || len(c.sendq) > 0 {
		return false
	}
	select {
	case <-c.wtoken:
	default:
		return false
	}
	cl.state.Store(callSending)
	c.rawBuf, c.rawN, c.rawErr = (*frame)[start:], 0, nil
	err := c.raw.Write(c.rawFn)
	n, werr := c.rawN, c.rawErr
	c.rawBuf, c.rawErr = nil, nil
	if err == nil {
		err = werr
	}
	if err != nil {
		// Part of a frame may be out: the stream is unusable.
		bufpool.Put(frame)
		c.wtoken <- struct{}{}
		c.shutdown()
		return true
	}
	if n == len(*frame)-start {
		bufpool.Put(frame)
		c.wtoken <- struct{}{}
		return true
	}
	c.handoff <- sendItem{frame: frame, start: start + n} // cannot block: we hold the token
	return true
}

// finishHandoff completes a frame a direct writer could not finish; the
// sender holds the write token while it does. It reports a write error.
func (c *Client) finishHandoff(it sendItem) error {
	_, err := c.conn.Write((*it.frame)[it.start:])
	bufpool.Put(it.frame)
	return err
}

// send owns the write side. It coalesces whatever requests are queued into
// one writev, and skips frames whose callers gave up before they were sent.
func (c *Client) send() {
	const maxBatch = 64
	var (
		items   = make([]sendItem, 0, maxBatch)
		backing = make(net.Buffers, 0, maxBatch)
		bufs    net.Buffers
	)
	for {
		select {
		case it := <-c.sendq:
			items = append(items[:0], it)
		case it := <-c.handoff:
			if err := c.finishHandoff(it); err != nil {
				c.shutdown()
				return
			}
			c.wtoken <- struct{}{}
			continue
		case <-c.done:
			return
		}
	gather:
		for len(items) < maxBatch {
			select {
			case it := <-c.sendq:
				items = append(items, it)
			default:
				break gather
			}
		}
		// Take the write side from any direct writer, finishing its frame
		// first if it handed one over.
		select {
		case <-c.wtoken:
		case it := <-c.handoff:
			if err := c.finishHandoff(it); err != nil {
				c.shutdown()
				return
			}
		case <-c.done:
			return
		}
		bufs = backing[:0]
		for _, it := range items {
			if it.cl.state.CompareAndSwap(callQueued, callSending) {
				bufs = append(bufs, (*it.frame)[it.start:])
			}
		}
		var err error
		nb := len(bufs)
		switch nb {
		case 0:
		case 1:
			_, err = c.conn.Write(bufs[0])
		default:
			_, err = bufs.WriteTo(c.conn)
		}
		// Drop the references to the frames, which go back to the pool:
		// kept here they would pin up to maxBatch large buffers for as long
		// as the client lives.
		clear(backing[:nb])
		for i := range items {
			bufpool.Put(items[i].frame)
			items[i] = sendItem{}
		}
		if err != nil {
			c.shutdown()
			return
		}
		c.wtoken <- struct{}{}
	}
}
