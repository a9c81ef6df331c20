package ttrpc

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
)

// fakeServer answers a client's requests by hand, so that a test can decide
// exactly which bytes of a reply are on the wire and when.
type fakeServer struct {
	t    *testing.T
	conn net.Conn
	r    *frameReader
}

// next reads one request frame and returns its stream id and payload.
func (f *fakeServer) next() (streamID, []byte) {
	f.t.Helper()
	h, p, err := f.r.read()
	if err != nil {
		f.t.Fatalf("fake server: reading request: %v", err)
	}
	var req Request
	if err := req.Unmarshal(*p); err != nil {
		f.t.Fatalf("fake server: decoding request: %v", err)
	}
	var v types.BytesValue
	if err := v.Unmarshal(req.Payload); err != nil {
		f.t.Fatalf("fake server: decoding payload: %v", err)
	}
	return h.StreamID, v.Value
}

// reply returns the reply frame that echoes value on stream id.
func (f *fakeServer) reply(id streamID, value []byte) []byte {
	f.t.Helper()
	payload, err := (&types.BytesValue{Value: value}).Marshal()
	if err != nil {
		f.t.Fatal(err)
	}
	p := newFrame(0)
	*p = (&Response{Payload: payload}).appendTo(*p)
	if err := finishFrame(*p, id, messageTypeResponse, 0); err != nil {
		f.t.Fatal(err)
	}
	return *p
}

func (c *Client) readOwner() (int, *clientStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rd.owner, c.rd.call
}

// waitOwner polls, within a bound, until the read side has the given owner.
func waitOwner(t *testing.T, c *Client, owner int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if o, _ := c.readOwner(); o == owner {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		waitABit()
	}
}

// Calls made one at a time on a unix socket read their own replies: the
// receiver lets go of the read side once the call table is empty, and the
// next caller takes it. A caller whose context ends while it is reading, in
// the middle of a reply frame, returns at once; the receiver finishes that
// frame and the stream stays in sync. When the connection then goes idle the
// receiver takes the read side back and notices the peer going away.
func TestClientCallerReadsOwnReply(t *testing.T) {
	checkLeaks(t)
	cconn, sconn := unixPair(t)
	defer sconn.Close()
	srv := &fakeServer{t: t, conn: sconn, r: newFrameReader(sconn)}
	closed := make(chan struct{})
	c := NewClient(cconn, WithOnClose(func() { close(closed) }))
	defer c.Close()

	call := func(ctx context.Context, value string) error {
		var out types.BytesValue
		err := c.Call(ctx, testService, "Echo", &types.BytesValue{Value: []byte(value)}, &out)
		if err == nil && string(out.Value) != value {
			t.Errorf("call %q got %q back", value, out.Value)
		}
		return err
	}
	serveOne := func() {
		id, v := srv.next()
		writeAll(t, sconn, srv.reply(id, v))
	}

	// First call: the receiver was watching the connection and delivers the
	// reply; with nothing else waiting it then lets go of the read side.
	go serveOne()
	if err := call(testCtx(t), "first"); err != nil {
		t.Fatal(err)
	}
	waitOwner(t, c, readerNone, "the receiver to let go of the read side")

	// Second call: its caller reads. Half the reply arrives, then its
	// deadline passes.
	gotRequest := make(chan []byte, 1)
	go func() {
		id, v := srv.next()
		frame := srv.reply(id, v)
		writeAll(t, sconn, frame[:messageHeaderLength+3])
		gotRequest <- frame[messageHeaderLength+3:]
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- call(ctx, "second") }()
	rest := <-gotRequest
	waitOwner(t, c, readerCaller, "the second caller to read for itself")
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a reading caller did not return after its context ended")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancelled call took %v to return", d)
	}
	// The rest of the abandoned reply, then a third call.
	writeAll(t, sconn, rest)
	go serveOne()
	if err := call(testCtx(t), "third"); err != nil {
		t.Fatalf("call after an interrupted read: %v", err)
	}

	// Idle: the receiver takes the read side back and sees the peer close.
	waitOwner(t, c, readerReceiver, "the receiver to take the read side back when idle")
	sconn.Close()
	waitDone(t, closed, "the on-close function after the peer closed an idle connection")
	if err := call(testCtx(t), "late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("call on a closed client: %v, want ErrClosed", err)
	}
}

// Concurrent callers on one connection, some of them reading for the others,
// each get their own reply, including callers that give up while reading.
func TestClientReadSideChangesHandsUnderLoad(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{"Echo": echoMethod})
	c := dial(t, path)
	const workers, calls = 8, 300
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			for i := 0; i < calls; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if i%7 == 3 {
					// Some calls give up at once, often while reading.
					cancel()
				}
				want := []byte{byte(w), byte(i), byte(i >> 8)}
				var out types.BytesValue
				err := c.Call(ctx, testService, "Echo", &types.BytesValue{Value: want}, &out)
				cancel()
				switch {
				case i%7 == 3 && errors.Is(err, context.Canceled):
				case err != nil:
					errc <- err
					return
				case string(out.Value) != string(want):
					errc <- errors.New("a call got another call's reply")
					return
				}
				if w == 0 && i%50 == 0 {
					// Let the connection go idle now and then, so the
					// receiver and callers trade the read side.
					time.Sleep(2 * idleWatch)
				}
			}
			errc <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("workers did not finish")
		}
	}
	echo(t, c, []byte("still in sync"))
}
