package ttrpc

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"github.com/gogo/protobuf/types"
)

// The stream vectors of PROTOCOL.md (hex, header then data).
const (
	vecWatchReq12    = "00 00 00 12 00 00 00 01 01 01  0a 03 73 76 63 12 05 57 61 74 63 68 1a 04 0a 02 68 69"
	vecWatchReqOurs  = "00 00 00 17 00 00 00 01 01 01  0a 03 73 76 63 12 05 57 61 74 63 68 1a 04 0a 02 68 69 c0 3e 80 80 20"
	vecWatchAck      = "00 00 00 01 00 00 00 01 04 00  00"
	vecWatchData     = "00 00 00 03 00 00 00 01 03 00  0a 01 61"
	vecWatchEnd      = "00 00 00 00 00 00 00 01 03 05"
	vecUploadReq12   = "00 00 00 0d 00 00 00 03 01 02  0a 03 73 76 63 12 06 55 70 6c 6f 61 64"
	vecUploadReqOurs = "00 00 00 12 00 00 00 03 01 02  0a 03 73 76 63 12 06 55 70 6c 6f 61 64 c0 3e 80 80 20"
	vecUploadGrant   = "00 00 00 03 00 00 00 03 04 00  80 80 20"
	vecUploadData    = "00 00 00 03 00 00 00 03 03 00  0a 01 61"
	vecUploadClose   = "00 00 00 00 00 00 00 03 03 05"
	vecUploadResp    = "00 00 00 06 00 00 00 03 02 00  12 04 0a 02 6f 6b"
	vecReset1        = "00 00 00 00 00 00 00 01 05 00"
)

// readRawFrame reads one whole frame, header included.
func readRawFrame(t *testing.T, conn net.Conn) []byte {
	t.Helper()
	h, data := readFrame(t, conn)
	var hb [messageHeaderLength]byte
	putHeader(hb[:], h)
	return append(hb[:], data...)
}

func expectFrame(t *testing.T, conn net.Conn, want string) {
	t.Helper()
	if got := readRawFrame(t, conn); !bytes.Equal(got, unhex(t, want)) {
		t.Fatalf("frame\n % x\nwant\n % x", got, unhex(t, want))
	}
}

// TestStreamWireClient: this library's client sends the documented frames
// and understands the documented replies.
func TestStreamWireClient(t *testing.T) {
	checkLeaks(t)
	cconn, sconn := net.Pipe()
	defer sconn.Close()
	c := NewClient(cconn)
	defer c.Close()
	// No deadline: the frames carry no timeout_nano, as in PROTOCOL.md.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// A server stream; the server speaks flow control.
	type opened struct {
		s   ClientStream
		err error
	}
	res := make(chan opened, 1)
	go func() {
		s, err := c.NewStream(ctx, &StreamDesc{StreamingServer: true}, "svc", "Watch", &types.StringValue{Value: "hi"})
		res <- opened{s, err}
	}()
	expectFrame(t, sconn, vecWatchReqOurs)
	o := <-res
	if o.err != nil {
		t.Fatal(o.err)
	}
	for _, f := range []string{vecWatchAck, vecWatchData, vecWatchEnd} {
		if _, err := sconn.Write(unhex(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	var m types.StringValue
	if err := o.s.RecvMsg(&m); err != nil || m.Value != "a" {
		t.Fatalf("got %q, %v", m.Value, err)
	}
	if err := o.s.RecvMsg(&m); err != io.EOF {
		t.Fatalf("end: %v", err)
	}

	// A client stream.
	go func() {
		s, err := c.NewStream(ctx, &StreamDesc{StreamingClient: true}, "svc", "Upload", nil)
		if err == nil {
			if err = s.SendMsg(&types.StringValue{Value: "a"}); err == nil {
				err = s.CloseSend()
			}
		}
		res <- opened{s, err}
	}()
	expectFrame(t, sconn, vecUploadReqOurs)
	expectFrame(t, sconn, vecUploadData)
	expectFrame(t, sconn, vecUploadClose)
	o = <-res
	if o.err != nil {
		t.Fatal(o.err)
	}
	if _, err := sconn.Write(unhex(t, vecUploadResp)); err != nil {
		t.Fatal(err)
	}
	if err := o.s.RecvMsg(&m); err != nil || m.Value != "ok" {
		t.Fatalf("response %q, %v", m.Value, err)
	}

	// A stream the client gives up, after the server accepted flow
	// control: it is reset.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		s, err := c.NewStream(cctx, &StreamDesc{StreamingServer: true}, "svc", "Watch", &types.StringValue{Value: "hi"})
		res <- opened{s, err}
	}()
	req := readRawFrame(t, sconn)
	id := readHeader(req).StreamID
	ack := unhex(t, vecWatchAck)
	putStreamID(ack, id)
	if _, err := sconn.Write(ack); err != nil {
		t.Fatal(err)
	}
	if o := <-res; o.err != nil {
		t.Fatal(o.err)
	}
	cancel()
	reset := unhex(t, vecReset1)
	putStreamID(reset, id)
	if got := readRawFrame(t, sconn); !bytes.Equal(got, reset) {
		t.Fatalf("reset % x, want % x", got, reset)
	}
}

// TestStreamWireServer: this library's server answers the documented
// frames of an established 1.2 client, and of this library's client, with
// the documented frames.
func TestStreamWireServer(t *testing.T) {
	checkLeaks(t)
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterService("svc", &ServiceDesc{Streams: map[string]Stream{
		"Watch": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			var req types.StringValue
			if err := ss.RecvMsg(&req); err != nil || req.Value != "hi" {
				return nil, err
			}
			return nil, ss.SendMsg(&types.StringValue{Value: "a"})
		}},
		"Upload": {StreamingClient: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
			var m types.StringValue
			for {
				if err := ss.RecvMsg(&m); err == io.EOF {
					return &types.StringValue{Value: "ok"}, nil
				} else if err != nil {
					return nil, err
				}
			}
		}},
	}})
	path := serveOn(t, s)

	// An established 1.2 client: no flow control.
	conn := dialRaw(t, path)
	for _, f := range []string{vecWatchReq12} {
		if _, err := conn.Write(unhex(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	expectFrame(t, conn, vecWatchData)
	expectFrame(t, conn, vecWatchEnd)
	for _, f := range []string{vecUploadReq12, vecUploadData, vecUploadClose} {
		if _, err := conn.Write(unhex(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	expectFrame(t, conn, vecUploadResp)

	// This library's client: the server accepts flow control first.
	conn = dialRaw(t, path)
	if _, err := conn.Write(unhex(t, vecWatchReqOurs)); err != nil {
		t.Fatal(err)
	}
	expectFrame(t, conn, vecWatchAck)
	expectFrame(t, conn, vecWatchData)
	expectFrame(t, conn, vecWatchEnd)
	if _, err := conn.Write(unhex(t, vecUploadReqOurs)); err != nil {
		t.Fatal(err)
	}
	expectFrame(t, conn, vecUploadGrant)
	for _, f := range []string{vecUploadData, vecUploadClose} {
		if _, err := conn.Write(unhex(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	expectFrame(t, conn, vecUploadResp)
}
