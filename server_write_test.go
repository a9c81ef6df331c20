package ttrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/gogo/protobuf/types"
)

// These tests cover the server's stream sends and its tail
// (server_write.go): small frames copied one after another into one buffer
// that the flusher writes whole.

// wayward is a message with gogo's generated methods whose encoder does as
// told: "panic" panics, "error" fails, "short" reports one byte less than
// its Size; anything else encodes v.
type wayward struct {
	how string
	v   types.BytesValue
}

func (w *wayward) Reset()         {}
func (w *wayward) String() string { return w.how }
func (w *wayward) ProtoMessage()  {}
func (w *wayward) Size() int      { return w.v.Size() }
func (w *wayward) MarshalToSizedBuffer(b []byte) (int, error) {
	switch w.how {
	case "panic":
		panic("wayward: encoder panics")
	case "error":
		return 0, errors.New("wayward: encoder fails")
	case "short":
		n, err := w.v.MarshalToSizedBuffer(b)
		return n - 1, err
	}
	return w.v.MarshalToSizedBuffer(b)
}

// TestStreamSendEncoderMisbehaves: a message whose encoder panics, fails or
// lies about its size costs its SendMsg only. The panic reaches the handler
// (which recovers here), the errors are returned; the stream goes on with
// the next message, and the connection serves calls and streams after it.
func TestStreamSendEncoderMisbehaves(t *testing.T) {
	checkLeaks(t)
	results := make(chan error, 8)
	s, path := startServer(t, map[string]Method{"Echo": echoMethod})
	s.RegisterService("wayward", &ServiceDesc{Streams: map[string]Stream{
		"Send": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			var req types.Empty
			if err := ss.RecvMsg(&req); err != nil {
				return nil, err
			}
			for _, how := range []string{"panic", "error", "short", "fine", "panic", "fine"} {
				err := func() (err error) {
					defer func() {
						if r := recover(); r != nil {
							err = fmt.Errorf("panicked: %v", r)
						}
					}()
					return ss.SendMsg(&wayward{how: how, v: types.BytesValue{Value: []byte(how)}})
				}()
				results <- err
			}
			return nil, nil
		}},
	}})
	c := dial(t, path)
	ctx := testCtx(t)
	st, err := c.NewStream(ctx, serverStreamDesc, "wayward", "Send", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		var m types.BytesValue
		if err := st.RecvMsg(&m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if string(m.Value) != "fine" {
			t.Fatalf("message %d is %q, want only the well-encoded ones", i, m.Value)
		}
	}
	if err := st.RecvMsg(&types.BytesValue{}); err != io.EOF {
		t.Fatalf("after the two good messages: %v, want io.EOF", err)
	}
	want := []string{"panicked: wayward: encoder panics", "wayward: encoder fails", "its Size said", "", "panicked", ""}
	for i, w := range want {
		err := <-results
		switch {
		case w == "" && err != nil:
			t.Errorf("SendMsg %d: %v, want nil", i, err)
		case w != "" && (err == nil || !strings.Contains(err.Error(), w)):
			t.Errorf("SendMsg %d: %v, want an error with %q", i, err, w)
		}
	}
	echo(t, c, []byte("after"))
	st, err = c.NewStream(ctx, serverStreamDesc, "wayward", "Send", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := st.RecvMsg(&types.BytesValue{}); err != nil {
			t.Fatalf("second stream, message %d: %v", i, err)
		}
	}
	if err := st.RecvMsg(&types.BytesValue{}); err != io.EOF {
		t.Fatalf("second stream's end: %v", err)
	}
}

// mixedSizes are the sizes of the Download stream of "mixed": small
// messages that go to the tail between messages too large for it, which are
// queued as frames of their own.
var mixedSizes = []int{0, 1, 1000, maxTailFrame - 18, maxTailFrame - 17, maxTailFrame, 3, 100 << 10, 5, 7, 300 << 10, 9}

// mixedMessage is message i of the mixed stream: its number, then filler.
func mixedMessage(i int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, mixedSizes[i%len(mixedSizes)]+8)
	copy(b, fmt.Sprintf("%07d:", i))
	return b
}

const mixedCount = 300

// downloadMixed reads one Download stream of "mixed" and checks it.
func downloadMixed(ctx context.Context, c *Client) error {
	st, err := c.NewStream(ctx, serverStreamDesc, "mixed", "Download", &types.Empty{})
	if err != nil {
		return err
	}
	for i := 0; i < mixedCount; i++ {
		var m types.BytesValue
		if err := st.RecvMsg(&m); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if want := mixedMessage(i); !bytes.Equal(m.Value, want) {
			return fmt.Errorf("message %d: %d bytes starting %q, want %d starting %q", i, len(m.Value), m.Value[:min(8, len(m.Value))], len(want), want[:8])
		}
	}
	if err := st.RecvMsg(&types.BytesValue{}); err != io.EOF {
		return fmt.Errorf("end of stream: %v", err)
	}
	return nil
}

// TestStreamTailKeepsOrder: small messages encoded into the tail, large
// ones queued as frames of their own, several streams at once and unary
// replies written in between all arrive whole and, per stream, in order.
func TestStreamTailKeepsOrder(t *testing.T) {
	checkLeaks(t)
	s, path := startServer(t, map[string]Method{"Echo": echoMethod})
	s.RegisterService("mixed", &ServiceDesc{Streams: map[string]Stream{
		"Download": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			var req types.Empty
			if err := ss.RecvMsg(&req); err != nil {
				return nil, err
			}
			for i := 0; i < mixedCount; i++ {
				if err := ss.SendMsg(&types.BytesValue{Value: mixedMessage(i)}); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}},
	}})
	c := dial(t, path)
	ctx := testCtx(t)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // unary replies written between the streams' frames
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			in := &types.BytesValue{Value: []byte(fmt.Sprint(i))}
			var out types.BytesValue
			if err := c.Call(ctx, testService, "Echo", in, &out); err != nil || !bytes.Equal(out.Value, in.Value) {
				errs <- fmt.Errorf("echo %d: %v, got %q", i, err, out.Value)
				return
			}
		}
	}()
	var streams sync.WaitGroup
	for g := 0; g < 4; g++ {
		streams.Add(1)
		go func() {
			defer streams.Done()
			for r := 0; r < 2; r++ {
				if err := downloadMixed(ctx, c); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	streams.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestStreamSendFailedEncodeKeepsCredit: a SendMsg whose message fails to
// encode spends none of the stream's window. Forty failed 16 KB messages
// are more than the window: were their credit spent, the good message after
// them would wait for a grant that never comes.
func TestStreamSendFailedEncodeKeepsCredit(t *testing.T) {
	checkLeaks(t)
	s, path := startServer(t, nil)
	sent := make(chan error, 1)
	s.RegisterService("credit", &ServiceDesc{Streams: map[string]Stream{
		"Send": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			if err := ss.RecvMsg(&types.Empty{}); err != nil {
				return nil, err
			}
			if err := ss.SendMsg(&types.BytesValue{Value: []byte("first")}); err != nil {
				sent <- err
				return nil, err
			}
			bad := &wayward{how: "error", v: types.BytesValue{Value: make([]byte, 16000)}}
			for i := 0; i < 40; i++ {
				if err := ss.SendMsg(bad); err == nil || ctx.Err() != nil {
					sent <- fmt.Errorf("failing SendMsg %d: %v (ctx %v)", i, err, ctx.Err())
					return nil, nil
				}
			}
			err := ss.SendMsg(&types.BytesValue{Value: []byte("after")})
			sent <- err
			return nil, err
		}},
	}})
	c := dial(t, path)
	recvFirstAfter(t, c, "credit")
	if err := <-sent; err != nil {
		t.Errorf("handler: %v", err)
	}
}

// recvFirstAfter opens service's Send stream and checks that its messages
// are "first" and then "after".
func recvFirstAfter(t *testing.T, c *Client, service string) {
	t.Helper()
	st, err := c.NewStream(testCtx(t), serverStreamDesc, service, "Send", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first", "after"} {
		var m types.BytesValue
		if err := st.RecvMsg(&m); err != nil || string(m.Value) != want {
			t.Fatalf("RecvMsg: %v, %q; want %q", err, m.Value, want)
		}
	}
}

// sizeLiar is a message whose Size is what it says.
type sizeLiar struct{ size int }

func (m *sizeLiar) Reset()                                     {}
func (m *sizeLiar) String() string                             { return "sizeLiar" }
func (m *sizeLiar) ProtoMessage()                              {}
func (m *sizeLiar) Size() int                                  { return m.size }
func (m *sizeLiar) MarshalToSizedBuffer(b []byte) (int, error) { return len(b), nil }

// TestStreamSendNegativeSize: a message whose Size is negative makes its
// SendMsg panic or fail, and nothing else: the stream's earlier and later
// messages arrive, and the connection serves calls.
func TestStreamSendNegativeSize(t *testing.T) {
	checkLeaks(t)
	s, path := startServer(t, map[string]Method{"Echo": echoMethod})
	outcome := make(chan string, 1)
	s.RegisterService("liar", &ServiceDesc{Streams: map[string]Stream{
		"Send": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			if err := ss.RecvMsg(&types.Empty{}); err != nil {
				return nil, err
			}
			if err := ss.SendMsg(&types.BytesValue{Value: []byte("first")}); err != nil {
				return nil, err
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						outcome <- fmt.Sprint("panicked: ", r)
					}
				}()
				outcome <- fmt.Sprint("returned: ", ss.SendMsg(&sizeLiar{size: -1}))
			}()
			return nil, ss.SendMsg(&types.BytesValue{Value: []byte("after")})
		}},
	}})
	c := dial(t, path)
	recvFirstAfter(t, c, "liar")
	if got := <-outcome; got == "returned: <nil>" {
		t.Errorf("SendMsg of a message of Size -1 succeeded")
	}
	echo(t, c, []byte("after"))
}

// lockedMsg is a message whose encoder takes mu.
type lockedMsg struct {
	mu      *sync.Mutex
	entered chan struct{} // closed when the encoder starts
	v       types.BytesValue
}

func (m *lockedMsg) Reset()         {}
func (m *lockedMsg) String() string { return "lockedMsg" }
func (m *lockedMsg) ProtoMessage()  {}
func (m *lockedMsg) Size() int      { return m.v.Size() }
func (m *lockedMsg) MarshalToSizedBuffer(b []byte) (int, error) {
	close(m.entered)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v.MarshalToSizedBuffer(b)
}

// TestStreamSendEncoderMayWait: an encoder that waits for another stream's
// handler holds up nothing of the connection's. Stream B's encoder waits
// for a mutex that stream A's handler holds across a SendMsg of its own;
// were B's encoder run with the write side held, A's SendMsg could not
// finish and neither stream would.
func TestStreamSendEncoderMayWait(t *testing.T) {
	checkLeaks(t)
	s, path := startServer(t, nil)
	var shared sync.Mutex
	aHolds := make(chan struct{})
	bEncoding := make(chan struct{})
	s.RegisterService("wait", &ServiceDesc{Streams: map[string]Stream{
		"A": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			if err := ss.RecvMsg(&types.Empty{}); err != nil {
				return nil, err
			}
			if err := ss.SendMsg(&types.BytesValue{Value: []byte("a0")}); err != nil {
				return nil, err
			}
			shared.Lock()
			close(aHolds)
			select {
			case <-bEncoding:
			case <-ctx.Done():
			}
			err := ss.SendMsg(&types.BytesValue{Value: []byte("a1")})
			shared.Unlock()
			return nil, err
		}},
		"B": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			if err := ss.RecvMsg(&types.Empty{}); err != nil {
				return nil, err
			}
			if err := ss.SendMsg(&types.BytesValue{Value: []byte("b0")}); err != nil {
				return nil, err
			}
			<-aHolds
			return nil, ss.SendMsg(&lockedMsg{mu: &shared, entered: bEncoding, v: types.BytesValue{Value: []byte("b1")}})
		}},
	}})
	c := dial(t, path)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for _, name := range []string{"A", "B"} {
		name := name
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.NewStream(ctx, serverStreamDesc, "wait", name, &types.Empty{})
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < 2; i++ {
				var m types.BytesValue
				if err := st.RecvMsg(&m); err != nil {
					t.Errorf("stream %s message %d: %v", name, i, err)
					return
				}
			}
			if err := st.RecvMsg(&types.BytesValue{}); err != io.EOF {
				t.Errorf("stream %s end: %v", name, err)
			}
		}()
	}
	wg.Wait()
}
