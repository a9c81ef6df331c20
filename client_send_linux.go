package ttrpc

import (
	"syscall"
)

// directWriter writes frames on a kernel socket with non-blocking write
// calls, for callers that write their own frames (see writeDirect). It exists
// only on Linux, where it is tested; elsewhere every frame goes through the
// sender goroutine.
type directWriter struct {
	raw syscall.RawConn // nil when the connection is not a kernel socket
	fn  func(fd uintptr) bool

	// The write in progress, owned by the writer.
	buf []byte
	n   int
	err error
}

// initDirectWrite enables direct writes for the kernel sockets of package
// net, whose descriptors are non-blocking.
func (c *Client) initDirectWrite() {
	sc := fastPathConn(c.conn)
	if sc == nil {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	d := &c.ws.direct
	d.raw = raw
	d.fn = d.writeSome
}

func (d *directWriter) ok() bool { return d.raw != nil }

// write writes as much of b as the socket takes without blocking.
func (d *directWriter) write(b []byte) (int, error) {
	d.buf, d.n, d.err = b, 0, nil
	err := d.raw.Write(d.fn)
	n, werr := d.n, d.err
	d.buf, d.err = nil, nil
	if err == nil {
		err = werr
	}
	return n, err
}

// writeSome runs inside RawConn.Write. Returning true stops RawConn.Write
// from waiting for writability: what the socket does not take now is left
// for the sender goroutine.
func (d *directWriter) writeSome(fd uintptr) bool {
	for d.n < len(d.buf) {
		n, err := syscall.Write(int(fd), d.buf[d.n:])
		if n > 0 {
			d.n += n
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if err != syscall.EAGAIN {
				d.err = err
			}
			break
		}
		if n <= 0 {
			break
		}
	}
	return true
}
