package ttrpc

// Tests of when the client reads its connection: only while some goroutine
// waits for a frame (client_recv.go). Each turns the idle lease off, so a
// frame that nobody reads stays unread and the test fails on its timeout.

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
)

const gatedService = "ttrpc.test.Gated"

// startGatedUpload serves an Upload stream that waits for gate, then reads
// the client's messages and returns how many bytes it got.
func startGatedUpload(t *testing.T, gate chan struct{}) string {
	t.Helper()
	s, path := startServer(t, nil)
	s.RegisterService(gatedService, &ServiceDesc{
		Streams: map[string]Stream{
			"Upload": {StreamingClient: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
				select {
				case <-gate:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return newStreamService().upload(ctx, ss)
			}},
		},
	})
	return path
}

// TestStreamGrantThatLeavesCreditSpent: a SendMsg waits for a window grant.
// The first grant that arrives covers only the small messages sent before a
// large one, so the credit stays spent and SendMsg keeps waiting; the next
// grant must still be read, though nobody waits for a message. (The idle
// lease, which would read it eventually, is off.)
func TestStreamGrantThatLeavesCreditSpent(t *testing.T) {
	checkLeaks(t)
	gate := make(chan struct{})
	path := startGatedUpload(t, gate)
	c := dial(t, path)
	noLease(c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.NewStream(ctx, clientStreamDesc, gatedService, "Upload", nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := st.(*streamHandle).s
	// Wait for the server's first window frame (flow control on).
	for !cs.acked.Load() {
		if ctx.Err() != nil {
			t.Fatal("no window from the server")
		}
		runtime.Gosched()
	}
	small := make([]byte, 1000)
	total := 0
	for i := 0; i < 70; i++ {
		if err := st.SendMsg(&types.BytesValue{Value: small}); err != nil {
			t.Fatal(err)
		}
		total += len(small)
	}
	big := make([]byte, 1<<20)
	if err := st.SendMsg(&types.BytesValue{Value: big}); err != nil {
		t.Fatal(err)
	}
	total += len(big)
	done := make(chan error, 1)
	go func() {
		done <- st.SendMsg(&types.BytesValue{Value: small})
	}()
	// Let the SendMsg wait for its grant before the server reads.
	for !cs.waits[waitGrant].Load() {
		select {
		case err := <-done:
			t.Fatalf("SendMsg returned before waiting: %v", err)
		default:
		}
		runtime.Gosched()
	}
	total += len(small)
	close(gate)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SendMsg after the grants: %v", err)
		}
	case <-time.After(3 * time.Second):
		o, _ := c.readOwner()
		t.Fatalf("SendMsg still waiting after 3s: credit available %v, read owner %d (0 none), waiting %d, waits[grant] %v", cs.credit.Available(), o, c.rd.waiting.Load(), cs.waits[waitGrant].Load())
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var out types.Int64Value
	if err := st.RecvMsg(&out); err != nil {
		t.Fatal(err)
	}
	if out.Value != int64(total) {
		t.Fatalf("server got %d, want %d", out.Value, total)
	}
}

// noLease turns the idle lease off: a frame nobody reads stays unread.
func noLease(c *Client) {
	c.mu.Lock()
	c.rd.watch = time.Hour
	c.mu.Unlock()
}

// TestStreamUploadWhileServerWriteBlocked: streams whose messages the client
// has not read yet fill the server's write queue; a refused request then
// stops the server's reader (a refusal waits for queue space), and an
// upload fills the client's write queue. The SendMsg that waits for queue
// space must make the client read, or both ends wait on full sockets.
func TestStreamUploadWhileServerWriteBlocked(t *testing.T) {
	checkLeaks(t)
	svc, _, path := startStreamServer(t)
	c := dial(t, path)
	noLease(c)
	echo(t, c, []byte("x")) // the read side is now nobody's
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var downs []ClientStream
	for i := 0; i < 8; i++ {
		s, err := c.NewStream(ctx, serverStreamDesc, testService, "Download", &types.StringValue{Value: "300 1000"})
		if err != nil {
			t.Fatal(err)
		}
		downs = append(downs, s)
	}
	// Let the server queue what the client's windows allow.
	for svc.sent.Load() < 800 {
		if ctx.Err() != nil {
			t.Fatalf("server sent only %d", svc.sent.Load())
		}
		runtime.Gosched()
	}
	if _, err := c.NewStream(ctx, clientStreamDesc, testService, "Nope", nil); err != nil {
		t.Fatal(err)
	}
	up, err := c.NewStream(ctx, clientStreamDesc, testService, "Upload", nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 64<<10)
	for i := 0; i < 64; i++ {
		if err := up.SendMsg(&types.BytesValue{Value: msg}); err != nil {
			o, _ := c.readOwner()
			t.Fatalf("upload message %d: %v (read owner %d, waiting %d)", i, err, o, c.rd.waiting.Load())
		}
	}
	up.CloseSend()
	if err := up.RecvMsg(&types.Int64Value{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range downs {
		for {
			if err := s.RecvMsg(&types.BytesValue{}); err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				break
			}
		}
	}
}

// lendProbe is a message whose Unmarshal notes whether the frame it decodes
// was lent (its RecvMsg holds the read side while decoding it where it lies
// in the reader's buffer) and then panics.
type lendProbe struct {
	c    *Client
	lent bool
}

// MarshalToSizedBuffer makes the probe look gogo-generated, so that its
// frames are lent (decodesInPlace); it is never called.
func (m *lendProbe) MarshalToSizedBuffer([]byte) (int, error) { return 0, nil }

func (m *lendProbe) Unmarshal([]byte) error {
	m.c.mu.Lock()
	m.lent = m.c.rd.owner == readerCaller
	m.c.mu.Unlock()
	panic("lendProbe")
}

// TestStreamLentMessageDecodePanics: a stream read as fast as it arrives
// decodes its messages from the reader's buffer while holding the read
// side. An Unmarshal that panics there must not keep the read side: the
// stream carries on with its next message, and the connection with other
// calls.
func TestStreamLentMessageDecodePanics(t *testing.T) {
	checkLeaks(t)
	const n = 200
	c, s := openDownload(t, n, 100)
	got, lent := 0, false
	for got < n && !lent {
		probe := &lendProbe{c: c}
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			s.RecvMsg(probe)
			return false
		}()
		if !panicked {
			t.Fatalf("message %d: the probe's Unmarshal did not run", got)
		}
		got++
		lent = probe.lent
	}
	if !lent {
		t.Fatalf("none of %d messages was lent", got)
	}
	for ; got < n; got++ {
		recvDownloaded(t, s, got, 100)
	}
	wantEOF(t, s)
	var resp types.BytesValue
	if err := c.Call(testCtx(t), testService, "Echo", &types.BytesValue{Value: []byte("still")}, &resp); err != nil || string(resp.Value) != "still" {
		t.Fatalf("call after the panic: %q, %v", resp.Value, err)
	}
}

// reentrantMessage has a hand-written Unmarshal that makes a call on the
// client whose stream it is decoding for.
type reentrantMessage struct {
	c   *Client
	err error
}

func (m *reentrantMessage) Unmarshal([]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out types.BytesValue
	m.err = m.c.Call(ctx, testService, "Echo", &types.BytesValue{Value: []byte("x")}, &out)
	return nil
}

// TestStreamUnmarshalCallsSameClient: a hand-written Unmarshal may use the
// client it decodes for (here, a unary call), so its messages are never
// decoded while holding the read side, which the call needs.
func TestStreamUnmarshalCallsSameClient(t *testing.T) {
	checkLeaks(t)
	const n = 50
	c, s := openDownload(t, n, 10)
	for i := 0; i < n; i++ {
		m := &reentrantMessage{c: c}
		if err := s.RecvMsg(m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.err != nil {
			t.Fatalf("message %d: the call made by Unmarshal: %v", i, m.err)
		}
	}
	wantEOF(t, s)
}

// scribbler looks generated, so its frames are lent, and appends to its
// input, which writes into the spare capacity of the slice it is given.
type scribbler struct{ lendProbe }

func (m *scribbler) Unmarshal(p []byte) error {
	_ = append(p, make([]byte, 64)...)
	return nil
}

// TestStreamLentFrameHasNoSpareCapacity: a lent frame's data ends where the
// frame does; an Unmarshal that appends to it cannot overwrite the frames
// buffered behind it.
func TestStreamLentFrameHasNoSpareCapacity(t *testing.T) {
	checkLeaks(t)
	const n = 200
	_, s := openDownload(t, n, 10)
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			if err := s.RecvMsg(&scribbler{}); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			continue
		}
		recvDownloaded(t, s, i, 10)
	}
	wantEOF(t, s)
}

// openDownload serves a streamService and opens, on a fresh client to it, a
// Download stream of n messages of size bytes each.
func openDownload(t *testing.T, n, size int) (*Client, ClientStream) {
	t.Helper()
	_, _, path := startStreamServer(t)
	c := dial(t, path)
	s, err := c.NewStream(testCtx(t), serverStreamDesc, testService, "Download", &types.StringValue{Value: fmt.Sprintf("%d %d", n, size)})
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// recvDownloaded receives message i of a Download stream of size-byte
// messages and checks its contents.
func recvDownloaded(t *testing.T, s ClientStream, i, size int) {
	t.Helper()
	var m types.BytesValue
	if err := s.RecvMsg(&m); err != nil {
		t.Fatalf("message %d: %v", i, err)
	}
	if want := fmt.Sprintf("%d:%s", i, strings.Repeat("x", size)); string(m.Value) != want {
		t.Fatalf("message %d: %.20q (%d bytes), want %.20q", i, m.Value, len(m.Value), want)
	}
}

// wantEOF checks that a stream has ended cleanly.
func wantEOF(t *testing.T, s ClientStream) {
	t.Helper()
	if err := s.RecvMsg(&types.BytesValue{}); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}
