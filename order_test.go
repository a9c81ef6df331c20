package ttrpc

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
)

// idRecorder is a raw server end: it reads request frames, records whether
// each stream id is above the last one seen (as servers of the established
// 1.2 line require), and echoes every request's payload back in a response.
// Data frames are answered when they close a stream.
type idRecorder struct {
	mu         sync.Mutex
	requests   int
	outOfOrder int
	samples    []string
}

func (r *idRecorder) serve(conn net.Conn) {
	defer conn.Close()
	var (
		last uint32
		hdr  [messageHeaderLength]byte
		w    = make(chan []byte, 1024)
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for b := range w {
			if _, err := conn.Write(b); err != nil {
				for range w {
				}
				return
			}
		}
	}()
	defer func() { close(w); <-done }()
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return
		}
		h := readHeader(hdr[:])
		data := make([]byte, h.Length)
		if _, err := io.ReadFull(conn, data); err != nil {
			return
		}
		switch h.Type {
		case messageTypeRequest:
			r.mu.Lock()
			r.requests++
			if uint32(h.StreamID) <= last {
				r.outOfOrder++
				if len(r.samples) < 5 {
					r.samples = append(r.samples, fmt.Sprintf("%d after %d", h.StreamID, last))
				}
			} else {
				last = uint32(h.StreamID)
			}
			r.mu.Unlock()
			var req Request
			if err := req.Unmarshal(data); err != nil {
				return
			}
			if h.Flags&flagRemoteOpen != 0 {
				continue // answered when the client closes its side
			}
			w <- responseFrame(h.StreamID, req.Payload)
		case messageTypeData:
			if h.Flags&flagRemoteClosed != 0 {
				w <- responseFrame(h.StreamID, nil)
			}
		}
	}
}

func responseFrame(id streamID, payload []byte) []byte {
	resp := Response{Payload: payload}
	b := make([]byte, messageHeaderLength, messageHeaderLength+resp.Size())
	b = resp.appendTo(b)
	putHeader(b, messageHeader{Length: uint32(len(b) - messageHeaderLength), StreamID: id, Type: messageTypeResponse})
	return b
}

func (r *idRecorder) result() (int, int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.outOfOrder, append([]string(nil), r.samples...)
}

// TestRequestIDsLeaveInOrder: whatever path a request frame takes (written
// by its caller, queued for the sender, through an interceptor, on a kernel
// socket or net.Pipe, mixed with streams and with calls cancelled before
// their frames were written), request frames leave with strictly increasing
// stream ids. Gaps (ids of cancelled calls never written) are allowed.
func TestRequestIDsLeaveInOrder(t *testing.T) {
	interceptor := WithUnaryClientInterceptor(func(ctx context.Context, req *Request, resp *Response, _ *UnaryClientInfo, inv Invoker) error {
		return inv(ctx, req, resp)
	})
	for _, tc := range []struct {
		name             string
		pipe             bool
		callers, perCall int
		opts             []ClientOpts
		cancels, streams bool
	}{
		{name: "unix/2x1000", callers: 2, perCall: 1000},
		{name: "unix/64x200", callers: 64, perCall: 200},
		{name: "unix/64x100/interceptor", callers: 64, perCall: 100, opts: []ClientOpts{interceptor}},
		{name: "unix/64x100/cancels+streams", callers: 64, perCall: 100, cancels: true, streams: true},
		{name: "pipe/100x100", pipe: true, callers: 100, perCall: 100},
		{name: "pipe/64x100/cancels+streams+interceptor", pipe: true, callers: 64, perCall: 100, cancels: true, streams: true, opts: []ClientOpts{interceptor}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			var rec idRecorder
			var conn net.Conn
			if tc.pipe {
				a, b := net.Pipe()
				conn = a
				go rec.serve(b)
			} else {
				path := filepath.Join(t.TempDir(), "s")
				l, err := net.Listen("unix", path)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				go func() {
					c, err := l.Accept()
					if err == nil {
						rec.serve(c)
					}
				}()
				conn, err = net.Dial("unix", path)
				if err != nil {
					t.Fatal(err)
				}
			}
			c := NewClient(conn, tc.opts...)
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, tc.callers)
			for g := 0; g < tc.callers; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					rnd := rand.New(rand.NewSource(int64(g)))
					for i := 0; i < tc.perCall; i++ {
						if err := orderedCall(ctx, c, rnd, tc.cancels, tc.streams); err != nil {
							errs <- err
							return
						}
					}
				}(g)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			c.Close()
			requests, bad, samples := rec.result()
			t.Logf("%d requests, %d out of order", requests, bad)
			if bad != 0 {
				t.Fatalf("%d of %d request frames left out of stream-id order, e.g. %v", bad, requests, samples)
			}
			if requests < tc.callers*tc.perCall/2 {
				t.Fatalf("only %d requests reached the server", requests)
			}
		})
	}
}

// orderedCall makes one call for TestRequestIDsLeaveInOrder: a unary call,
// or (streams) a client stream of a few messages, or (cancels) a call whose
// context ends at once, before or while its frame is written.
func orderedCall(ctx context.Context, c *Client, rnd *rand.Rand, cancels, streams bool) error {
	payload := make([]byte, rnd.Intn(2048))
	switch n := rnd.Intn(10); {
	case cancels && n == 0:
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Call(cctx, "svc", "M", &types.BytesValue{Value: payload}, &types.BytesValue{}) }()
		cancel()
		if err := <-done; err != nil && cctx.Err() == nil {
			return err
		}
		return nil
	case streams && n == 1:
		s, err := c.NewStream(ctx, &StreamDesc{StreamingClient: true}, "svc", "S", nil)
		if err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if err := s.SendMsg(&types.BytesValue{Value: payload}); err != nil {
				return err
			}
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		var out types.BytesValue
		if err := s.RecvMsg(&out); err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		return nil
	}
	var out types.BytesValue
	if err := c.Call(ctx, "svc", "M", &types.BytesValue{Value: payload}, &out); err != nil {
		return err
	}
	if len(out.Value) != len(payload) {
		return fmt.Errorf("echoed %d bytes, sent %d", len(out.Value), len(payload))
	}
	return nil
}
