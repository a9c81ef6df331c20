package ttrpc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
)

// TestRejectedFramesKeepAccounting (SPEC §6.4): refused frames of every kind,
// sent while one call is in flight, leave the in-flight count exact: Shutdown
// waits for the real call only, then completes.
func TestRejectedFramesKeepAccounting(t *testing.T) {
	checkLeaks(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	s, path := startServer(t, map[string]Method{
		"Echo": echoMethod,
		"Hold": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			entered <- struct{}{}
			<-release
			return &types.Empty{}, nil
		},
	})
	conn := dialRaw(t, path)
	hold, _ := (&Request{Service: testService, Method: "Hold"}).Marshal()
	writeFrame(t, conn, 1, messageTypeRequest, 0, hold)
	waitFor(t, entered, "held call")

	writeFrame(t, conn, 2, messageTypeRequest, 0, goodRequest(t, "even"))
	writeFrame(t, conn, 3, messageTypeRequest, 0, []byte{0xff, 0xff})
	writeFrame(t, conn, 5, messageTypeRequest, 0, make([]byte, messageLengthMax+10))
	writeFrame(t, conn, 7, messageTypeData, 0, []byte("data"))
	writeFrame(t, conn, 9, 0x42, 0, nil)
	for i := 0; i < 3; i++ { // even id, bad protobuf, oversize are answered
		if h, _ := readFrame(t, conn); h.StreamID == 1 {
			t.Fatal("held call answered early")
		}
	}

	// Once the refusals are written, exactly the held call is in flight.
	if n := waitActive(t, s, 1); n != 1 {
		t.Fatalf("in-flight count %d after refusals, want 1", n)
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	close(release)
	h, data := readFrame(t, conn)
	if h.StreamID != 1 || replyCode(decodeReply(t, data)) != 0 {
		t.Fatalf("held call's reply: stream %d", h.StreamID)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown never finished: in-flight count is off")
	}
}

// TestHandshakeFinishingAfterShutdown (SPEC §6.6): a connection whose
// handshake completes after Shutdown began is closed, not served.
func TestHandshakeFinishingAfterShutdown(t *testing.T) {
	checkLeaks(t)
	entered := make(chan struct{}, 1)
	proceed := make(chan struct{})
	slow := handshakerFunc(func(ctx context.Context, conn net.Conn) (net.Conn, interface{}, error) {
		entered <- struct{}{}
		<-proceed
		return conn, nil, nil
	})
	s, path := startServer(t, map[string]Method{"Echo": echoMethod}, WithServerHandshaker(slow))
	c := dial(t, path)
	result := make(chan error, 1)
	go func() {
		result <- c.Call(context.Background(), testService, "Echo", &types.BytesValue{}, &types.BytesValue{})
	}()
	waitFor(t, entered, "handshake")
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	select {
	case err := <-result:
		if err != ErrClosed {
			t.Fatalf("call on a connection accepted during shutdown got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("connection accepted during shutdown was served or left open")
	}
	waitNoConns(t, s)
}

// TestClientIgnoresDataFrames (SPEC §6.9): data frames and unknown frame
// types sent to a client are dropped; the pending call still completes.
func TestClientIgnoresDataFrames(t *testing.T) {
	checkLeaks(t)
	cconn, sconn := net.Pipe()
	defer sconn.Close()
	c := NewClient(cconn)
	defer c.Close()
	result := make(chan error, 1)
	var out types.StringValue
	go func() {
		result <- c.Call(context.Background(), "svc", "M", &types.StringValue{Value: "hi"}, &out)
	}()
	readFrame(t, sconn)
	writeFrame(t, sconn, 1, messageTypeData, flagRemoteClosed, []byte("junk"))
	writeFrame(t, sconn, 99, messageTypeData, 0, nil)
	writeFrame(t, sconn, 1, 0x42, 0, []byte("junk"))
	writeFrame(t, sconn, 1, messageTypeRequest, 0, []byte("junk"))
	writeFrame(t, sconn, 77, messageTypeResponse, 0, unhex(t, vecReplyData)) // nobody waits on 77
	writeFrame(t, sconn, 1, messageTypeResponse, 0, unhex(t, vecReplyData))
	if err := <-result; err != nil || out.Value != "hi" {
		t.Fatalf("got %q, %v", out.Value, err)
	}
}

// waitActive polls (bounded) until the server's only connection reports want
// requests in flight, and returns the last count seen.
func waitActive(t *testing.T, s *Server, want int) int {
	t.Helper()
	n := -1
	for i := 0; i < 2000; i++ {
		s.mu.Lock()
		for c := range s.conns {
			c.mu.Lock()
			n = c.active
			c.mu.Unlock()
		}
		s.mu.Unlock()
		if n == want {
			return n
		}
		waitABit()
	}
	return n
}
