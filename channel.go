package ttrpc

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"

	"github.com/containerd/ttrpc/internal/bufpool"
)

// Framing: every message on a connection is a 10-byte header followed by
// Length bytes of data. See PROTOCOL.md.
const (
	messageHeaderLength = 10
	messageLengthMax    = 4 << 20
)

type messageType uint8

const (
	messageTypeRequest  messageType = 0x1
	messageTypeResponse messageType = 0x2
	messageTypeData     messageType = 0x3

	// Frame types of this module's flow control extension, sent only to
	// peers that announced it (see PROTOCOL.md): a grant of window bytes
	// for a stream, and a client's notice that it gave a stream up.
	messageTypeWindow messageType = 0x4
	messageTypeReset  messageType = 0x5
)

// requestWindowField is the Request field through which a client of this
// module announces flow control on a stream: its value is the receive
// window, in bytes, that the client grants the server. Servers of the
// established library skip the unknown field.
const requestWindowField = 1000

// defaultWindow is the receive window each end grants per stream. 512 KiB
// rather than 256: a grant goes out every quarter of a window, and each one
// costs a write on one side and a wakeup and a read on the other; halving
// them took about 5 % of the CPU per message of a fast stream, on both
// sides (CPU per message measured with perf stat and /proc, one stream of
// 1 KiB messages between two processes). A stream whose reader stalls holds
// up to a window on the receiving side (docs/memory.md).
const defaultWindow = 512 << 10

// maxWindowGrant bounds one grant, and a window a peer announces, so that
// credit arithmetic cannot overflow.
const maxWindowGrant = 1 << 40

// Flags of protocol 1.2 streaming. Unary requests and responses carry 0.
const (
	flagRemoteClosed uint8 = 0x1
	flagRemoteOpen   uint8 = 0x2
	flagNoData       uint8 = 0x4
)

type streamID uint32

type messageHeader struct {
	Length   uint32
	StreamID streamID
	Type     messageType
	Flags    uint8
}

func putHeader(b []byte, h messageHeader) {
	_ = b[messageHeaderLength-1]
	binary.BigEndian.PutUint32(b[0:4], h.Length)
	binary.BigEndian.PutUint32(b[4:8], uint32(h.StreamID))
	b[8] = byte(h.Type)
	b[9] = h.Flags
}

// putStreamID fills in the stream id of a frame whose header is at b.
func putStreamID(b []byte, id streamID) {
	binary.BigEndian.PutUint32(b[4:8], uint32(id))
}

func readHeader(b []byte) messageHeader {
	_ = b[messageHeaderLength-1]
	return messageHeader{
		Length:   binary.BigEndian.Uint32(b[0:4]),
		StreamID: streamID(binary.BigEndian.Uint32(b[4:8])),
		Type:     messageType(b[8]),
		Flags:    b[9],
	}
}

func oversizeError(n int) error { return &OversizedMessageErr{length: n} }

// The largest buffer a frame reader commits to before the bytes arrive. A
// peer that announces 4 MiB and then stalls costs at most this much plus what
// it has sent (times the growth factor), not 4 MiB up front.
const (
	firstChunk  = 64 << 10
	chunkGrowth = 8
)

// frameReader reads frames from a connection. It is owned by one goroutine
// at a time.
//
// A read that fails with a timeout (a read deadline, which is how a client
// interrupts a caller that is reading) keeps what it has read so far, and
// the next read, possibly by another goroutine, carries on with the same
// frame. Any other error means the stream is broken.
type frameReader struct {
	br   *bufio.Reader
	hbuf [messageHeaderLength]byte

	// The frame in progress: hn header bytes read; then, once the header
	// is complete, either body holding got bytes of it, or skip bytes of an
	// oversized frame still to discard.
	hn   int
	h    messageHeader
	body *[]byte
	got  int
	skip int
}

func newFrameReader(conn net.Conn) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(conn, 16<<10)}
}

// read returns the next frame. The data lives in a pooled buffer that the
// caller must give back with bufpool.Put. A frame over the size limit is
// read and discarded; read then returns its header and an oversizeError, and
// the connection stays usable.
func (r *frameReader) read() (messageHeader, *[]byte, error) {
	for r.hn < messageHeaderLength {
		n, err := r.br.Read(r.hbuf[r.hn:])
		r.hn += n
		if r.hn == messageHeaderLength {
			break
		}
		if err != nil {
			if err == io.EOF && r.hn > 0 {
				err = io.ErrUnexpectedEOF
			}
			return messageHeader{}, nil, err
		}
	}
	if r.body == nil && r.skip == 0 {
		r.h = readHeader(r.hbuf[:])
		switch n := int(r.h.Length); {
		case n > messageLengthMax:
			r.skip = n
		case n <= firstChunk+bufpool.Slack:
			// Up to the first chunk's pool class, slack included: a 64 KiB
			// payload with its envelope is read without a growth step.
			r.body = bufpool.Get(n)
		default:
			// Large frame: grow the buffer as data arrives.
			r.body = bufpool.Get(firstChunk)
		}
		r.got = 0
	}
	h := r.h
	if r.skip > 0 {
		n, err := r.br.Discard(r.skip)
		r.skip -= n
		if r.skip > 0 {
			return h, nil, noEOF(err)
		}
		r.hn = 0
		return h, nil, oversizeError(int(h.Length))
	}
	for {
		p := r.body
		n, err := io.ReadFull(r.br, (*p)[r.got:])
		r.got += n
		if err != nil {
			return h, nil, noEOF(err)
		}
		if r.got == int(h.Length) {
			r.body, r.hn = nil, 0
			return h, p, nil
		}
		next := r.got * chunkGrowth
		if next > int(h.Length) {
			next = int(h.Length)
		}
		np := bufpool.Get(next)
		copy(*np, (*p)[:r.got])
		bufpool.Put(p)
		r.body = np
	}
}

// buffered reports whether the whole next frame is already in the reader's
// buffer, so that read returns it without touching the connection.
func (r *frameReader) buffered() bool {
	_, _, ok := r.peek()
	return ok
}

// peek returns the next frame, header and data, when all of it is already
// in the reader's buffer, without copying it: data points into the buffer
// and stays valid until the next call on r. The caller then either skips
// the frame (discard) or leaves it to the next read.
func (r *frameReader) peek() (messageHeader, []byte, bool) {
	if r.hn != 0 {
		return messageHeader{}, nil, false // in the middle of a frame
	}
	n := r.br.Buffered()
	if n < messageHeaderLength {
		return messageHeader{}, nil, false
	}
	b, err := r.br.Peek(n) // within Buffered: does not read
	if err != nil {
		return messageHeader{}, nil, false
	}
	h := readHeader(b)
	if uint64(n-messageHeaderLength) < uint64(h.Length) {
		return messageHeader{}, nil, false
	}
	end := messageHeaderLength + int(h.Length)
	return h, b[messageHeaderLength:end:end], true // no capacity over the next frames
}

// fill reads until the next frame is whole in the reader's buffer, so that
// peek returns it, unless it is too large for the buffer (or a frame is
// half read). An error is the connection's; nothing is consumed, so the next
// read meets it again.
func (r *frameReader) fill() error {
	if r.hn != 0 {
		return nil
	}
	b, err := r.br.Peek(messageHeaderLength)
	if err != nil {
		return err
	}
	n := uint64(messageHeaderLength) + uint64(binary.BigEndian.Uint32(b))
	if n > uint64(r.br.Size()) {
		return nil
	}
	_, err = r.br.Peek(int(n))
	return err
}

// discard consumes the n bytes (header and data) of the frame that peek
// returned.
func (r *frameReader) discard(n int) {
	r.br.Discard(n)
}

// noEOF turns an EOF in the middle of a frame into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// newFrame returns a pooled buffer with room for a header and size bytes of
// data, and its length set to just the header (data is appended after it).
func newFrame(size int) *[]byte {
	p := bufpool.Get(messageHeaderLength + size)
	*p = (*p)[:messageHeaderLength]
	return p
}

// finishFrame fills in the header of a frame built by newFrame and appended
// to. It refuses frames over the limit.
func finishFrame(b []byte, id streamID, t messageType, flags uint8) error {
	n := len(b) - messageHeaderLength
	if n > messageLengthMax {
		return oversizeError(n)
	}
	putHeader(b, messageHeader{Length: uint32(n), StreamID: id, Type: t, Flags: flags})
	return nil
}
