package ttrpc

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// A read interrupted by a deadline in the middle of a frame keeps its place:
// the next read returns the whole frame and the one after it, intact. This
// is what lets a client caller that is reading give up on its context and
// hand a half-read frame to the receiver.
func TestFrameReaderResumesAfterTimeout(t *testing.T) {
	checkLeaks(t)
	frame := func(n int, id streamID) []byte {
		b := make([]byte, messageHeaderLength+n)
		putHeader(b, messageHeader{Length: uint32(n), StreamID: id, Type: messageTypeResponse})
		for i := range b[messageHeaderLength:] {
			b[messageHeaderLength+i] = byte(i*7 + int(id))
		}
		return b
	}
	cases := []struct {
		name  string
		size  int
		split int // bytes of the first frame written before the timeout
	}{
		{"in header", 100, 4},
		{"after header", 100, messageHeaderLength},
		{"in small body", 1000, messageHeaderLength + 300},
		{"in large body", 300 << 10, messageHeaderLength + 100<<10},
		{"in oversized frame", messageLengthMax + 5, messageHeaderLength + 1<<10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := unixPair(t)
			defer a.Close()
			defer b.Close()
			first := frame(tc.size, 1)
			second := frame(33, 3)
			if tc.size > messageLengthMax {
				first = first[:tc.split] // only the header matters; the rest is written below
			}
			r := newFrameReader(b)

			writeAll(t, a, first[:tc.split])
			if err := b.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := r.read(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read with half a frame: got %v, want a deadline error", err)
			}
			if err := b.SetReadDeadline(time.Time{}); err != nil {
				t.Fatal(err)
			}

			done := make(chan error, 1)
			go func() {
				if tc.size > messageLengthMax {
					_, err := a.Write(make([]byte, messageHeaderLength+tc.size-tc.split))
					if err == nil {
						_, err = a.Write(second)
					}
					done <- err
					return
				}
				_, err := a.Write(append(append([]byte{}, first[tc.split:]...), second...))
				done <- err
			}()

			h, p, err := r.read()
			if tc.size > messageLengthMax {
				var tooLarge *OversizedMessageErr
				if !errors.As(err, &tooLarge) || h.StreamID != 1 {
					t.Fatalf("oversized frame: got header %+v, err %v", h, err)
				}
			} else {
				if err != nil {
					t.Fatalf("resumed read: %v", err)
				}
				if h.StreamID != 1 || !bytes.Equal(*p, first[messageHeaderLength:]) {
					t.Fatalf("resumed read returned stream %d with %d bytes, want stream 1 with %d intact bytes", h.StreamID, len(*p), tc.size)
				}
			}
			h, p, err = r.read()
			if err != nil || h.StreamID != 3 || !bytes.Equal(*p, second[messageHeaderLength:]) {
				t.Fatalf("next frame after the resumed one: header %+v, err %v", h, err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func writeAll(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// peek lends a frame only once all of it is in the buffer; fill reads until
// it is, keeps what it read when a deadline interrupts it, and leaves a
// frame larger than the buffer to read, which still returns it intact. A
// peeked frame that is not skipped is the next read's.
func TestFrameReaderPeek(t *testing.T) {
	checkLeaks(t)
	frame := func(n int, id streamID) []byte {
		b := make([]byte, messageHeaderLength+n)
		putHeader(b, messageHeader{Length: uint32(n), StreamID: id, Type: messageTypeData})
		for i := range b[messageHeaderLength:] {
			b[messageHeaderLength+i] = byte(i*5 + int(id))
		}
		return b
	}
	a, b := unixPair(t)
	defer a.Close()
	defer b.Close()
	r := newFrameReader(b)
	wantPeek := func(f []byte) {
		t.Helper()
		h, data, ok := r.peek()
		if !ok || h.StreamID != readHeader(f).StreamID || !bytes.Equal(data, f[messageHeaderLength:]) {
			t.Fatalf("peek: ok %v, header %+v, %d bytes; want stream %d with %d intact bytes",
				ok, h, len(data), readHeader(f).StreamID, len(f)-messageHeaderLength)
		}
		r.discard(messageHeaderLength + len(data))
	}

	// Two whole frames in one write: both lent, one after the other.
	one, two := frame(100, 1), frame(0, 3)
	writeAll(t, a, append(append([]byte{}, one...), two...))
	if err := r.fill(); err != nil {
		t.Fatal(err)
	}
	wantPeek(one)
	wantPeek(two)
	if _, _, ok := r.peek(); ok {
		t.Fatal("peek lent a frame from an empty buffer")
	}

	// Half a frame: fill waits for the rest; a deadline interrupts it and
	// nothing is lost.
	three := frame(3000, 5)
	writeAll(t, a, three[:1500])
	if err := b.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := r.fill(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("fill with half a frame: %v, want a deadline error", err)
	}
	if _, _, ok := r.peek(); ok {
		t.Fatal("peek lent half a frame")
	}
	if err := b.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	writeAll(t, a, three[1500:])
	if err := r.fill(); err != nil {
		t.Fatal(err)
	}
	h, data, ok := r.peek()
	if !ok || !bytes.Equal(data, three[messageHeaderLength:]) {
		t.Fatalf("peek after fill: ok %v, header %+v", ok, h)
	}
	// Not skipped: read returns the same frame, copied.
	h, p, err := r.read()
	if err != nil || h.StreamID != 5 || !bytes.Equal(*p, three[messageHeaderLength:]) {
		t.Fatalf("read after peek: header %+v, err %v", h, err)
	}

	// A frame larger than the buffer is never lent: fill returns without
	// it, and read returns it whole.
	big := frame(40<<10, 7)
	done := make(chan error, 1)
	go func() {
		_, err := a.Write(big)
		done <- err
	}()
	if err := r.fill(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := r.peek(); ok {
		t.Fatal("peek lent a frame larger than the buffer")
	}
	h, p, err = r.read()
	if err != nil || h.StreamID != 7 || !bytes.Equal(*p, big[messageHeaderLength:]) {
		t.Fatalf("read of a large frame: header %+v, err %v", h, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
