package ttrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gogo/protobuf/types"
)

// rawFrame builds a frame with the given header fields and data.
func rawFrame(id streamID, typ messageType, flags uint8, data []byte) []byte {
	b := make([]byte, messageHeaderLength+len(data))
	putHeader(b, messageHeader{Length: uint32(len(data)), StreamID: id, Type: typ, Flags: flags})
	copy(b[messageHeaderLength:], data)
	return b
}

// TestClientWriteFailsAfterServerLeft: a server that sends a stream's
// messages and end and then closes the connection loses none of them when
// the client's next write fails (EPIPE) before it has read them. The client
// reads what is buffered, then ends: the call whose request could not be
// written fails with ErrClosed, the stream gives every message and io.EOF,
// and the client shuts down by itself. Before, the failed write closed the
// client at once and the messages were lost.
func TestClientWriteFailsAfterServerLeft(t *testing.T) {
	checkLeaks(t)
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		served <- func() error {
			conn, err := l.Accept()
			if err != nil {
				return err
			}
			defer conn.Close()
			hdr := make([]byte, messageHeaderLength)
			if _, err := io.ReadFull(conn, hdr); err != nil {
				return err
			}
			h := readHeader(hdr)
			if _, err := io.ReadFull(conn, make([]byte, h.Length)); err != nil {
				return err
			}
			// Accept flow control (so that the client need not read as
			// the messages come), send three messages and the end.
			var out []byte
			out = append(out, rawFrame(h.StreamID, messageTypeWindow, 0, []byte{0})...)
			for i := 0; i < 3; i++ {
				m, _ := (&types.BytesValue{Value: []byte(fmt.Sprint("m", i))}).Marshal()
				out = append(out, rawFrame(h.StreamID, messageTypeData, 0, m)...)
			}
			out = append(out, rawFrame(h.StreamID, messageTypeData, flagRemoteClosed|flagNoData, nil)...)
			_, err = conn.Write(out)
			return err
		}()
	}()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn)
	defer c.Close()
	ctx := testCtx(t)
	st, err := c.NewStream(ctx, serverStreamDesc, "svc", "Watch", &types.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	// The server has written everything and closed: this request cannot
	// be written.
	err = c.Call(ctx, "svc", "Echo", &types.BytesValue{}, &types.BytesValue{})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("call after the server left: %v, want ErrClosed", err)
	}
	for i := 0; i < 3; i++ {
		var m types.BytesValue
		if err := st.RecvMsg(&m); err != nil || string(m.Value) != fmt.Sprint("m", i) {
			t.Fatalf("message %d: %v, %q", i, err, m.Value)
		}
	}
	if err := st.RecvMsg(&types.BytesValue{}); err != io.EOF {
		t.Fatalf("end of stream: %v, want io.EOF", err)
	}
	if err := c.UserOnCloseWait(ctx); err != nil {
		t.Fatalf("client did not shut down after the server left: %v", err)
	}
	if err := c.Call(ctx, "svc", "Echo", &types.BytesValue{}, &types.BytesValue{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after shutdown: %v, want ErrClosed", err)
	}
}

// TestShutdownWhileStreamingLosesNothing: Server.Shutdown while server
// streams are under way lets each finish, and the client receives every
// message and each stream's result, although its window grants may hit the
// connection the server has just closed. (Found by a review helper: before
// writeFailed, the failed grant closed the client with replies unread, in
// about half the runs.)
func TestShutdownWhileStreamingLosesNothing(t *testing.T) {
	checkLeaks(t)
	const count = 300
	payload := func(stream, i int) []byte {
		size := []int{0, 3, 40, 1000, 9000, 16000, 16400, 70000}[(i+stream)%8]
		b := bytes.Repeat([]byte{byte(i)}, size+16)
		copy(b, fmt.Sprintf("%03d:%07d:", stream, i))
		return b
	}
	s, path := startServer(t, nil)
	s.RegisterService("down", &ServiceDesc{Streams: map[string]Stream{
		"Down": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			var req types.Int64Value
			if err := ss.RecvMsg(&req); err != nil {
				return nil, err
			}
			for i := 0; i < count; i++ {
				if err := ss.SendMsg(&types.BytesValue{Value: payload(int(req.Value), i)}); err != nil {
					return nil, err
				}
			}
			return &types.BytesValue{Value: []byte("last")}, nil
		}},
	}})
	c := dial(t, path)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	started := make(chan struct{}, 4)
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		g := g
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := func() error {
				st, err := c.NewStream(ctx, serverStreamDesc, "down", "Down", &types.Int64Value{Value: int64(g)})
				if err != nil {
					started <- struct{}{}
					return err
				}
				for i := 0; i < count; i++ {
					var m types.BytesValue
					err := st.RecvMsg(&m)
					if i == 0 {
						started <- struct{}{}
					}
					if err != nil {
						return fmt.Errorf("stream %d message %d: %v", g, i, err)
					}
					if !bytes.Equal(m.Value, payload(g, i)) {
						return fmt.Errorf("stream %d message %d corrupt", g, i)
					}
				}
				var m types.BytesValue
				if err := st.RecvMsg(&m); err != nil || string(m.Value) != "last" {
					return fmt.Errorf("stream %d result: %v %q", g, err, m.Value)
				}
				if err := st.RecvMsg(&m); err != io.EOF {
					return fmt.Errorf("stream %d end: %v", g, err)
				}
				return nil
			}()
			if err != nil {
				errs <- err
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-started
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
