// Package flow holds the three small pieces that keep a stream's messages
// moving without letting one slow reader stall a connection or fill memory:
//
//   - Queue: the messages a stream has received and its reader has not yet
//     taken. The connection's reader pushes without ever blocking; the
//     stream's reader pops.
//   - Budget: the bytes all queues of one connection may hold between them
//     before the connection's reader stops reading (it waits, after its
//     push, until a reader has taken enough). Only streams whose sender does
//     not honour a window count against it: for the others the window
//     already bounds what they can queue.
//   - Credit and Window: the two ends of per-stream flow control. A sender
//     holds Credit, the bytes it may still send; the receiver's Window
//     counts what its reader has taken and says when to grant more.
//
// None of them knows about frames or connections; the ttrpc client and
// server own the goroutines and decide what a message is.
package flow

import (
	"context"
	"sync"
	"sync/atomic"
)

// Queue is a FIFO of received items with an end. Push never blocks; Pop
// waits for an item, the end, or its caller to give up. Items pushed after
// the end are handed to the drop function rather than queued.
//
// The bytes a queue holds beyond its allowance count against its Budget.
// A stream whose sender honours a window gets the window (plus one
// message, which may overdraw it) as its allowance, so in normal operation
// it never touches the budget; a stream without flow control has none.
type Queue[T any] struct {
	mu        sync.Mutex
	items     []entry[T]
	head      int
	ended     bool
	end       error
	held      int // bytes of the items queued
	allowance int
	counted   int           // bytes counted against budget: max(0, held-allowance)
	ready     chan struct{} // capacity 1: a token means "look again"
	budget    *Budget       // nil when this queue does not count against one
	drop      func(T)

	// idle mirrors "no item queued and not ended", for TryPop and HasNext
	// to answer without the lock in the common case of a reader that keeps
	// up (written under mu).
	idle atomic.Bool
}

type entry[T any] struct {
	v    T
	size int
}

// NewQueue returns an empty queue. Items are counted against budget (which
// may be nil); drop disposes of items that are discarded instead of popped
// (it may be nil).
func NewQueue[T any](budget *Budget, drop func(T)) *Queue[T] {
	q := &Queue[T]{ready: make(chan struct{}, 1), budget: budget, drop: drop}
	q.idle.Store(true)
	return q
}

// setIdle brings idle up to date; q.mu is held.
func (q *Queue[T]) setIdle() {
	idle := q.head == len(q.items) && !q.ended
	if q.idle.Load() != idle {
		q.idle.Store(idle)
	}
}

// Reset empties the queue and clears its end, for reuse by a new stream.
// Nobody else may hold the queue.
func (q *Queue[T]) Reset() {
	q.Abort(nil)
	q.mu.Lock()
	q.ended, q.end, q.allowance = false, nil, 0
	q.setIdle()
	q.mu.Unlock()
	select {
	case <-q.ready:
	default:
	}
}

// SetAllowance sets how many bytes the queue may hold before counting
// against its budget.
func (q *Queue[T]) SetAllowance(n int) {
	q.mu.Lock()
	q.allowance = n
	q.recount()
	q.mu.Unlock()
}

// recount brings the budget in line with held and allowance; q.mu is held.
func (q *Queue[T]) recount() {
	if q.budget == nil {
		return
	}
	c := q.held - q.allowance
	if c < 0 {
		c = 0
	}
	switch {
	case c > q.counted:
		q.budget.add(c - q.counted)
	case c < q.counted:
		q.budget.release(q.counted - c)
	}
	q.counted = c
}

// Push adds v, which stands for size bytes, at the back of the queue. It
// reports false, having dropped v, if the queue has ended.
func (q *Queue[T]) Push(v T, size int) bool {
	q.mu.Lock()
	if q.ended {
		q.mu.Unlock()
		if q.drop != nil {
			q.drop(v)
		}
		return false
	}
	if q.head > 0 && q.head >= len(q.items)/2 {
		// Drop the popped prefix before it grows: a reader that stays
		// a little behind would otherwise keep a slot for every item
		// ever pushed. Copying at half keeps this O(1) per item.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, entry[T]{v, size})
	q.held += size
	q.recount()
	q.setIdle()
	q.mu.Unlock()
	q.signal()
	return true
}

// Close ends the queue: items already queued can still be popped, then Pop
// returns err. Only the first Close (or Abort) counts.
func (q *Queue[T]) Close(err error) {
	q.mu.Lock()
	if !q.ended {
		q.ended, q.end = true, err
	}
	q.setIdle()
	q.mu.Unlock()
	q.signal()
}

// Abort ends the queue with err (unless it had ended already) and discards
// what it holds, giving its bytes back to the budget. Later pops return the
// end at once.
func (q *Queue[T]) Abort(err error) {
	q.mu.Lock()
	if !q.ended {
		q.ended, q.end = true, err
	}
	items := q.items[q.head:]
	q.items, q.head = q.items[:0], 0
	q.held = 0
	q.recount()
	q.setIdle()
	q.mu.Unlock()
	// The queue has ended, so nothing is appended to the backing array
	// that items shares (until Reset, by the queue's only holder).
	for i := range items {
		if q.drop != nil {
			q.drop(items[i].v)
		}
		items[i] = entry[T]{}
	}
	q.signal()
}

// TryPop returns the next item without waiting. ok is false when there is
// none; err is then the end, or nil if the queue has not ended.
func (q *Queue[T]) TryPop() (v T, size int, ok bool, err error) {
	if q.idle.Load() {
		return v, 0, false, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head < len(q.items) {
		e := q.items[q.head]
		q.items[q.head] = entry[T]{}
		q.head++
		if q.head == len(q.items) {
			q.items, q.head = q.items[:0], 0
		}
		q.held -= e.size
		q.recount()
		q.setIdle()
		return e.v, e.size, true, nil
	}
	if q.ended {
		return v, 0, false, q.end
	}
	return v, 0, false, nil
}

// Pop waits for the next item. It returns the queue's end once the items
// are all taken, ctx.Err() if ctx ends first, or errGiveUp if giveUp (which
// may be nil) is closed first.
func (q *Queue[T]) Pop(ctx context.Context, giveUp <-chan struct{}, errGiveUp error) (T, int, error) {
	for {
		v, size, ok, err := q.TryPop()
		if ok || err != nil {
			return v, size, err
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return v, 0, ctx.Err()
		case <-giveUp:
			return v, 0, errGiveUp
		}
	}
}

// HasNext reports whether Pop would return at once: an item is queued, or
// the queue has ended.
func (q *Queue[T]) HasNext() bool {
	if q.idle.Load() {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.head < len(q.items) || q.ended
}

// Ready returns a channel that receives a token when an item or the end may
// have arrived. Callers that wait on it must look with TryPop afterwards.
func (q *Queue[T]) Ready() <-chan struct{} { return q.ready }

// Len reports how many items wait to be popped.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func (q *Queue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Budget bounds the bytes held by the queues of one connection. Pushing
// never blocks; the connection's reader calls Wait after each push and so
// stops reading new frames while the budget is spent. Over, asked after
// every push, and add and release take no lock unless someone waits.
type Budget struct {
	limit   int64
	used    atomic.Int64
	waiting atomic.Bool // a Wait may be waiting: release must look at space

	mu    sync.Mutex
	space chan struct{} // closed when used drops to the limit; nil if nobody waits
}

// NewBudget returns a budget of limit bytes. A limit <= 0 means no limit.
func NewBudget(limit int) *Budget { return &Budget{limit: int64(limit)} }

func (b *Budget) add(n int) { b.used.Add(int64(n)) }

func (b *Budget) release(n int) {
	if b.used.Add(-int64(n)) > b.limit || !b.waiting.Load() {
		return
	}
	b.mu.Lock()
	if b.space != nil && b.used.Load() <= b.limit {
		close(b.space)
		b.space = nil
		b.waiting.Store(false)
	}
	b.mu.Unlock()
}

// Over reports whether the bytes held exceed the limit.
func (b *Budget) Over() bool {
	return b.limit > 0 && b.used.Load() > b.limit
}

// Used reports the bytes currently held.
func (b *Budget) Used() int { return int(b.used.Load()) }

// Wait returns once the bytes held are within the limit, or when done is
// closed (it then reports false).
func (b *Budget) Wait(done <-chan struct{}) bool {
	for {
		if !b.Over() {
			return true
		}
		b.mu.Lock()
		if b.space == nil {
			b.space = make(chan struct{})
		}
		space := b.space
		// Announce the wait before looking again, so that a release
		// that comes in between sees it and closes space.
		b.waiting.Store(true)
		if !b.Over() {
			b.mu.Unlock()
			return true
		}
		b.mu.Unlock()
		select {
		case <-space:
		case <-done:
			return false
		}
	}
}

// Credit is what a sender may still send on one stream, in bytes. Until
// Enable it is unlimited: the peer has not (yet) shown that it grants
// windows, and what is sent meanwhile is already counted against the grant
// that Enable brings. A sender may send while its credit is positive, so one
// message may overdraw it; receivers allow for that. Take, on every message,
// takes no lock.
type Credit struct {
	n       atomic.Int64
	enabled atomic.Bool
	closed  atomic.Bool
	more    chan struct{} // capacity 1: a token means "look again"
}

// NewCredit returns an unlimited credit.
func NewCredit() *Credit { return &Credit{more: make(chan struct{}, 1)} }

// Enable switches to windowed sending with an initial grant of initial
// bytes, less what was sent before it.
func (c *Credit) Enable(initial int64) {
	c.n.Add(initial)
	c.enabled.Store(true)
	c.signal()
}

// Enabled reports whether the peer grants windows.
func (c *Credit) Enabled() bool { return c.enabled.Load() }

// Available reports whether Take would return at once.
func (c *Credit) Available() bool {
	return c.closed.Load() || !c.enabled.Load() || c.n.Load() > 0
}

// Grant adds n bytes of credit.
func (c *Credit) Grant(n int64) {
	c.n.Add(n)
	c.signal()
}

// Close wakes the waiter for good: Take fails from now on.
func (c *Credit) Close() {
	c.closed.Store(true)
	c.signal()
}

// Take waits until the credit is positive (at once when unlimited) and then
// spends n bytes of it. It fails with ctx.Err(), with errGiveUp when giveUp
// (which may be nil) is closed, or with errClosed after Close. One goroutine
// at a time may wait in Take: a stream has one sender.
func (c *Credit) Take(ctx context.Context, n int64, giveUp <-chan struct{}, errGiveUp, errClosed error) error {
	for {
		if c.closed.Load() {
			return errClosed
		}
		// Grants only ever add, and only this goroutine spends: once
		// positive, the credit stays so until the Add below.
		if !c.enabled.Load() || c.n.Load() > 0 {
			c.n.Add(-n)
			return nil
		}
		select {
		case <-c.more:
		case <-ctx.Done():
			return ctx.Err()
		case <-giveUp:
			return errGiveUp
		}
	}
}

func (c *Credit) signal() {
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// Window is the receiving end of a stream's flow control: it counts the
// bytes the stream's reader has taken and reports when enough have been
// taken since the last grant to grant them back to the sender. Granting in
// quarters of the window keeps the sender busy without a grant per message:
// when a grant goes out, three quarters of the window are still on their
// way or queued, which covers the grant's trip to the sender. (Halves left
// the sender waiting: measured, one stream of 1 KiB messages between two
// processes ran ~6 % slower.)
// One goroutine at a time calls Taken (a stream has one reader).
type Window struct {
	size    int64
	taken   atomic.Int64
	stopped atomic.Bool
}

// NewWindow returns a window of size bytes.
func NewWindow(size int64) *Window { return &Window{size: size} }

// Size is the window's size, the sender's initial credit.
func (w *Window) Size() int64 { return w.size }

// Taken records n bytes read by the stream's reader. It returns the number
// of bytes to grant the sender now, or 0 to wait for more.
func (w *Window) Taken(n int64) int64 {
	if w.stopped.Load() {
		return 0
	}
	t := w.taken.Add(n)
	if t*4 < w.size {
		return 0
	}
	w.taken.Add(-t)
	return t
}

// Stop makes Taken return 0 from now on: the stream has ended and grants
// would be wasted.
func (w *Window) Stop() { w.stopped.Store(true) }
