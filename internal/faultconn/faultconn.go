// Package faultconn wraps a net.Conn to inject the faults a real network and
// a misbehaving peer produce: short reads, fragmented writes, read or write
// errors at a given byte, stalls, and closes in the middle of a frame. It is
// test support for the ttrpc reliability tests and is not used by the
// library.
package faultconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Kind is the kind of fault injected when a byte offset is reached.
type Kind int

// Fault kinds.
const (
	// None injects nothing at the offset.
	None Kind = iota
	// Error makes the operation that reaches the offset transfer the bytes
	// up to it and then fail with Fault.Err (default ErrInjected). Later
	// operations in that direction fail too.
	Error
	// Close transfers the bytes up to the offset and then closes the
	// underlying connection, as a peer dying mid-frame would.
	Close
	// Stall transfers the bytes up to the offset and then blocks until
	// Release, Close, the direction's deadline, or (for writes) until the
	// connection's reads have failed, which is how a kernel reports that the
	// peer went away (EPIPE).
	Stall
)

// ErrInjected is the default error of an Error fault.
var ErrInjected = errors.New("faultconn: injected error")

// Fault describes what happens in one direction once At bytes have passed.
type Fault struct {
	Kind Kind
	At   int64
	Err  error
}

// Config sets up the faults of a Conn. The zero value injects nothing.
type Config struct {
	// ReadChunk, when positive, caps every Read at that many bytes (short
	// reads).
	ReadChunk int
	// WriteChunk, when positive, splits every Write into writes of at most
	// that many bytes on the underlying connection (fragmentation the peer
	// sees as short reads).
	WriteChunk int
	// Read and Write are the faults of each direction.
	Read, Write Fault
}

// Conn is a net.Conn with injected faults. It is safe for one reader and one
// writer at a time, like the connections it wraps.
type Conn struct {
	net.Conn
	cfg Config

	mu        sync.Mutex
	nread     int64
	nwritten  int64
	rerr      error
	werr      error
	readsDown bool          // a read from the underlying conn failed
	released  chan struct{} // closed by Release or Close
	closed    bool
	changed   chan struct{} // closed and replaced when a deadline changes
	rdl, wdl  time.Time

	stalled chan struct{} // closed the first time a stall begins
	stallOn sync.Once
}

// Wrap returns c with the faults of cfg.
func Wrap(c net.Conn, cfg Config) *Conn {
	return &Conn{
		Conn:     c,
		cfg:      cfg,
		released: make(chan struct{}),
		changed:  make(chan struct{}),
		stalled:  make(chan struct{}),
	}
}

// Stalled is closed once an operation is blocked by a Stall fault.
func (c *Conn) Stalled() <-chan struct{} { return c.stalled }

// Release ends every stall, present and future.
func (c *Conn) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked()
}

func (c *Conn) releaseLocked() {
	select {
	case <-c.released:
	default:
		close(c.released)
	}
}

// Counts reports the bytes read and written so far.
func (c *Conn) Counts() (read, written int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nread, c.nwritten
}

// Read reads from the underlying connection, applying the read faults.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	if c.rerr != nil {
		err := c.rerr
		c.mu.Unlock()
		return 0, err
	}
	limit := len(p)
	if c.cfg.ReadChunk > 0 && limit > c.cfg.ReadChunk {
		limit = c.cfg.ReadChunk
	}
	f := c.cfg.Read
	atFault := false
	if f.Kind != None {
		left := f.At - c.nread
		if left <= 0 {
			atFault = true
		} else if int64(limit) > left {
			limit = int(left)
		}
	}
	c.mu.Unlock()

	if atFault {
		if err := c.fault(f, true); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p[:limit])
	c.mu.Lock()
	c.nread += int64(n)
	if err != nil && !isTimeout(err) {
		c.readsDown = true
		c.bump()
	}
	c.mu.Unlock()
	return n, err
}

// Write writes to the underlying connection, applying the write faults.
func (c *Conn) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		c.mu.Lock()
		if c.werr != nil {
			err := c.werr
			c.mu.Unlock()
			return total, err
		}
		chunk := len(p)
		if c.cfg.WriteChunk > 0 && chunk > c.cfg.WriteChunk {
			chunk = c.cfg.WriteChunk
		}
		f := c.cfg.Write
		atFault := false
		if f.Kind != None {
			left := f.At - c.nwritten
			if left <= 0 {
				atFault = true
			} else if int64(chunk) > left {
				chunk = int(left)
			}
		}
		c.mu.Unlock()

		if atFault {
			if err := c.fault(f, false); err != nil {
				return total, err
			}
		}
		n, err := c.Conn.Write(p[:chunk])
		total += n
		p = p[n:]
		c.mu.Lock()
		c.nwritten += int64(n)
		c.mu.Unlock()
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// fault applies f at its offset. It returns nil when the operation may go
// on (the fault was a released stall), or the error to return.
func (c *Conn) fault(f Fault, read bool) error {
	switch f.Kind {
	case Error:
		err := f.Err
		if err == nil {
			err = ErrInjected
		}
		c.mu.Lock()
		if read {
			c.rerr = err
		} else {
			c.werr = err
		}
		c.mu.Unlock()
		return err
	case Close:
		c.Conn.Close()
		return net.ErrClosed
	case Stall:
		c.stallOn.Do(func() { close(c.stalled) })
		return c.stall(read)
	}
	return nil
}

func (c *Conn) stall(read bool) error {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return net.ErrClosed
		}
		if !read && c.readsDown {
			c.mu.Unlock()
			return io.ErrClosedPipe
		}
		dl := c.wdl
		if read {
			dl = c.rdl
		}
		changed := c.changed
		released := c.released
		c.mu.Unlock()

		var (
			timeout <-chan time.Time
			timer   *time.Timer
		)
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			timeout = timer.C
		}
		var err error
		again := false
		select {
		case <-released:
			c.mu.Lock()
			if c.closed {
				err = net.ErrClosed
			}
			c.mu.Unlock()
		case <-changed:
			again = true
		case <-timeout:
			err = os.ErrDeadlineExceeded
		}
		if timer != nil {
			timer.Stop()
		}
		if !again {
			return err
		}
	}
}

// bump wakes stalled operations to re-check their state. c.mu must be held.
func (c *Conn) bump() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Close closes the underlying connection and ends every stall.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.releaseLocked()
	c.bump()
	c.mu.Unlock()
	return c.Conn.Close()
}

// SetDeadline sets both deadlines, stalls included.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl, c.wdl = t, t
	c.bump()
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline, which also ends a read stall.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.bump()
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline, which also ends a write stall.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.bump()
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Listener wraps the connections a net.Listener accepts. Wrap decides, per
// accepted connection, what faults it gets (return a zero Config for none).
type Listener struct {
	net.Listener
	Wrap func(n int, c net.Conn) net.Conn
	mu   sync.Mutex
	n    int
}

// Accept accepts a connection and passes it through Wrap.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	n := l.n
	l.n++
	l.mu.Unlock()
	if l.Wrap == nil {
		return c, nil
	}
	return l.Wrap(n, c), nil
}

// PipeListener is a net.Listener whose connections are the server ends of
// net.Pipe pairs made by Dial. Pipes are synchronous and unbuffered, the
// harshest transport for a protocol that must never wait on itself.
type PipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// NewPipeListener returns an open PipeListener.
func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Dial returns the client end of a new pipe whose server end is accepted.
func (l *PipeListener) Dial() (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
		return c, nil
	case <-l.done:
		c.Close()
		s.Close()
		return nil, net.ErrClosed
	}
}

// Accept waits for Dial.
func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; pending and later Accept and Dial calls fail.
func (l *PipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns a placeholder address.
func (l *PipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
