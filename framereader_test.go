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
