package ttrpc

import (
	"bytes"
	"testing"

	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
)

// decodeReply parses a raw reply frame's data.
func decodeReply(t *testing.T, data []byte) *Response {
	t.Helper()
	var r Response
	if err := r.Unmarshal(data); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return &r
}

func replyCode(r *Response) codes.Code {
	if r.Status == nil {
		return codes.OK
	}
	return codes.Code(r.Status.Code)
}

// goodRequest is a valid Echo request.
func goodRequest(t *testing.T, payload string) []byte {
	t.Helper()
	p, _ := (codec{}).Marshal(&types.BytesValue{Value: []byte(payload)})
	b, _ := (&Request{Service: testService, Method: "Echo", Payload: p}).Marshal()
	return b
}

// assertEchoed reads a reply on id and checks it echoes payload.
func assertEchoReply(t *testing.T, h messageHeader, data []byte, id uint32, payload string) {
	t.Helper()
	if h.StreamID != streamID(id) || h.Type != messageTypeResponse {
		t.Fatalf("reply header %+v, want response on %d", h, id)
	}
	r := decodeReply(t, data)
	if replyCode(r) != codes.OK {
		t.Fatalf("reply status %v", r.Status)
	}
	var v types.BytesValue
	if err := v.Unmarshal(r.Payload); err != nil || string(v.Value) != payload {
		t.Fatalf("reply payload %q (%v), want %q", v.Value, err, payload)
	}
}

// TestServerOddInput sends each kind of bad frame of SPEC §3 on one raw
// connection and checks the answer and that the connection still serves.
func TestServerOddInput(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{"Echo": echoMethod})
	conn := dialRaw(t, path)

	cases := []struct {
		name    string
		send    func(id uint32)
		code    codes.Code
		msg     string
		answers bool
	}{
		{
			name: "oversized frame",
			send: func(id uint32) {
				writeFrame(t, conn, id, messageTypeRequest, 0, make([]byte, messageLengthMax+1))
			},
			code: codes.ResourceExhausted, msg: "message length 4194305 exceed maximum message size of 4194304", answers: true,
		},
		{
			name: "even stream id",
			send: func(id uint32) { writeFrame(t, conn, id+1, messageTypeRequest, 0, goodRequest(t, "x")) },
			code: codes.InvalidArgument, answers: true,
		},
		{
			name: "invalid protobuf",
			send: func(id uint32) { writeFrame(t, conn, id, messageTypeRequest, 0, []byte{0x0a, 0x05, 'a'}) },
			code: codes.InvalidArgument, answers: true,
		},
		{
			name: "invalid wire type",
			send: func(id uint32) { writeFrame(t, conn, id, messageTypeRequest, 0, []byte{0x0f}) },
			code: codes.InvalidArgument, answers: true,
		},
		{
			name: "unknown service",
			send: func(id uint32) {
				b, _ := (&Request{Service: "nope", Method: "Echo"}).Marshal()
				writeFrame(t, conn, id, messageTypeRequest, 0, b)
			},
			code: codes.Unimplemented, msg: "service nope", answers: true,
		},
		{
			name: "unknown method",
			send: func(id uint32) {
				b, _ := (&Request{Service: testService, Method: "Nope"}).Marshal()
				writeFrame(t, conn, id, messageTypeRequest, 0, b)
			},
			code: codes.Unimplemented, msg: "method Nope", answers: true,
		},
		{
			name: "payload that does not decode",
			send: func(id uint32) {
				b, _ := (&Request{Service: testService, Method: "Echo", Payload: []byte{0xff}}).Marshal()
				writeFrame(t, conn, id, messageTypeRequest, 0, b)
			},
			code: codes.InvalidArgument, answers: true,
		},
		{
			name: "unknown message type",
			send: func(id uint32) { writeFrame(t, conn, id, 0x7f, 0, []byte("junk")) },
		},
		{
			name: "data frame for unknown stream",
			send: func(id uint32) { writeFrame(t, conn, id, messageTypeData, flagRemoteClosed, []byte("junk")) },
		},
		{
			name: "empty response frame sent to server",
			send: func(id uint32) { writeFrame(t, conn, id, messageTypeResponse, 0, nil) },
		},
	}
	id := uint32(1)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.send(id)
			if tc.answers {
				h, data := readFrame(t, conn)
				if h.Type != messageTypeResponse {
					t.Fatalf("answer type %d", h.Type)
				}
				wantID := id
				if tc.name == "even stream id" {
					wantID = id + 1
				}
				if h.StreamID != streamID(wantID) {
					t.Fatalf("answer on stream %d, want %d", h.StreamID, wantID)
				}
				r := decodeReply(t, data)
				if replyCode(r) != tc.code {
					t.Fatalf("code %v (%v), want %v", replyCode(r), r.Status, tc.code)
				}
				if tc.msg != "" && r.Status.Message != tc.msg {
					t.Fatalf("message %q, want %q", r.Status.Message, tc.msg)
				}
			}
			// The connection still serves a well-formed request.
			writeFrame(t, conn, id+2, messageTypeRequest, 0, goodRequest(t, tc.name))
			h, data := readFrame(t, conn)
			assertEchoReply(t, h, data, id+2, tc.name)
		})
		id += 4
	}
}

// TestServerTruncatedFrameEndsConnection: a frame cut short by EOF ends the
// connection, and the server releases it (no goroutine lingers; checked by
// checkLeaks once the server is closed).
func TestServerTruncatedFrameEndsConnection(t *testing.T) {
	checkLeaks(t)
	s, path := startServer(t, map[string]Method{"Echo": echoMethod})
	conn := dialRaw(t, path)
	full := goodRequest(t, "cut")
	b := make([]byte, messageHeaderLength+len(full))
	putHeader(b, messageHeader{Length: uint32(len(full)), StreamID: 1, Type: messageTypeRequest})
	copy(b[messageHeaderLength:], full)
	if _, err := conn.Write(b[:len(b)-3]); err != nil {
		t.Fatal(err)
	}
	conn.(interface{ CloseWrite() error }).CloseWrite()
	var rest bytes.Buffer
	if _, err := rest.ReadFrom(conn); err != nil {
		t.Fatal(err)
	}
	if rest.Len() != 0 {
		t.Fatalf("server answered a truncated frame: % x", rest.Bytes())
	}
	// The server forgot the connection without waiting for Shutdown.
	waitNoConns(t, s)
}

// waitNoConns waits until the server tracks no connection.
func waitNoConns(t *testing.T, s *Server) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		s.mu.Lock()
		n := len(s.conns) + len(s.pending)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		waitABit()
	}
	t.Fatal("server still tracks connections")
}
