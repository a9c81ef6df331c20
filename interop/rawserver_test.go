package interop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// rawServer is a ttrpc server written from the wire format alone (SPEC §3),
// that records what clients send: the order of request stream ids and any
// frame over the size limit. It answers every request with its own payload
// (right for Ping) and an oversized frame with RESOURCE_EXHAUSTED, as the
// SPEC says a server does; it never rejects an id out of order, so all calls
// succeed and the record shows how many would have been refused.
type rawServer struct {
	sock string
	l    net.Listener
	wg   sync.WaitGroup

	mu         sync.Mutex
	requests   int
	inversions int      // request ids not above the highest one before them
	examples   []string // the first few inversions
	oversized  []int    // lengths of frames over the limit
	errs       []error  // protocol errors other than EOF
}

func startRawServer(t *testing.T) *rawServer {
	t.Helper()
	s := &rawServer{sock: filepath.Join(shortTempDir(t), "s")}
	l, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	s.l = l
	var conns sync.Map
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conns.Store(conn, true)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				if err := s.serveConn(conn); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		conns.Range(func(k, _ any) bool {
			k.(net.Conn).Close()
			return true
		})
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("raw server goroutines still running 10s after close")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, err := range s.errs {
			t.Errorf("raw server: %v", err)
		}
	})
	return s
}

func (s *rawServer) serveConn(conn net.Conn) error {
	var (
		hdr  [10]byte
		last uint32
	)
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("reading header: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		id := binary.BigEndian.Uint32(hdr[4:8])
		typ := hdr[8]
		if n > maxData {
			if _, err := io.CopyN(io.Discard, conn, int64(n)); err != nil {
				return fmt.Errorf("discarding an oversized frame: %w", err)
			}
			s.mu.Lock()
			s.oversized = append(s.oversized, int(n))
			s.mu.Unlock()
			msg := fmt.Sprintf("message length %d exceed maximum message size of %d", n, maxData)
			st := protowire.AppendTag(nil, 1, protowire.VarintType)
			st = protowire.AppendVarint(st, 8) // RESOURCE_EXHAUSTED
			st = protowire.AppendTag(st, 2, protowire.BytesType)
			st = protowire.AppendString(st, msg)
			resp := protowire.AppendTag(nil, 1, protowire.BytesType)
			resp = protowire.AppendBytes(resp, st)
			if err := writeFrame(conn, id, 2, resp); err != nil {
				return err
			}
			continue
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(conn, data); err != nil {
			return fmt.Errorf("reading %d bytes of data: %w", n, err)
		}
		if typ != 1 {
			continue
		}
		s.mu.Lock()
		s.requests++
		if id <= last {
			s.inversions++
			if len(s.examples) < 5 {
				s.examples = append(s.examples, fmt.Sprintf("id %d after %d", id, last))
			}
		} else {
			last = id
		}
		s.mu.Unlock()
		payload, err := requestPayload(data)
		if err != nil {
			return fmt.Errorf("request on stream %d: %w", id, err)
		}
		resp := protowire.AppendTag(nil, 2, protowire.BytesType)
		resp = protowire.AppendBytes(resp, payload)
		if err := writeFrame(conn, id, 2, resp); err != nil {
			return err
		}
	}
}

// requestPayload returns field 3 (payload) of an encoded Request.
func requestPayload(b []byte) ([]byte, error) {
	var payload []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num == 3 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			payload = v
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		b = b[m:]
	}
	return payload, nil
}

func writeFrame(w io.Writer, id uint32, typ byte, data []byte) error {
	frame := make([]byte, 10+len(data))
	binary.BigEndian.PutUint32(frame[0:4], uint32(len(data)))
	binary.BigEndian.PutUint32(frame[4:8], id)
	frame[8] = typ
	copy(frame[10:], data)
	_, err := w.Write(frame)
	return err
}

// record returns what the server has seen so far.
func (s *rawServer) record() (requests, inversions int, examples []string, oversized []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.inversions, append([]string(nil), s.examples...), append([]int(nil), s.oversized...)
}
