package ttrpc

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	gogoproto "github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Byte vectors recorded from the established implementation (SPEC §3).
const (
	vecRequestHeader  = "00 00 00 0e 00 00 00 01 01 00"
	vecRequestData    = "0a 03 73 76 63 12 01 4d 1a 04 0a 02 68 69"
	vecReplyHeader    = "00 00 00 06 00 00 00 01 02 00"
	vecReplyData      = "12 04 0a 02 68 69"
	vecUnknownData    = "0a 03 73 76 63 12 01 58"
	vecUnknownHeader  = "00 00 00 0e 00 00 00 03 02 00"
	vecUnknownRespDat = "0a 0c 08 05 12 08 6d 65 74 68 6f 64 20 58"
)

func TestRequestEncodingMatchesVector(t *testing.T) {
	payload, err := (codec{}).Marshal(&types.StringValue{Value: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Service: "svc", Method: "M", Payload: payload}
	got, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, vecRequestData); !bytes.Equal(got, want) {
		t.Fatalf("Request encodes to % x, want % x", got, want)
	}
	// gogo's reflection codec agrees, and decodes our bytes to the same value.
	viaGogo, err := gogoproto.Marshal(req)
	if err != nil || !bytes.Equal(viaGogo, got) {
		t.Fatalf("gogo proto.Marshal gives % x (%v)", viaGogo, err)
	}
	var back Request
	if err := gogoproto.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back.Service != "svc" || back.Method != "M" || !bytes.Equal(back.Payload, payload) {
		t.Fatalf("decoded %v", &back)
	}

	// The in-place frame builder of the client produces the same frame.
	frame, start, err := encodeRequestFrame("svc", "M", &types.StringValue{Value: "hi"}, 0, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := (*frame)[start:]
	b[7] = 1 // stream id is filled in at send time
	if want := unhex(t, vecRequestHeader+vecRequestData); !bytes.Equal(b, want) {
		t.Fatalf("request frame % x, want % x", b, want)
	}
}

func TestResponseEncodingMatchesVector(t *testing.T) {
	payload, _ := (codec{}).Marshal(&types.StringValue{Value: "hi"})
	ok := &Response{Payload: payload}
	if got, _ := ok.Marshal(); !bytes.Equal(got, unhex(t, vecReplyData)) {
		t.Fatalf("success response % x", got)
	}
	notFound := &Response{Status: &spb.Status{Code: int32(codes.NotFound), Message: "method X"}}
	got, _ := notFound.Marshal()
	if !bytes.Equal(got, unhex(t, vecUnknownRespDat)) {
		t.Fatalf("error response % x", got)
	}
	var back Response
	if err := back.Unmarshal(got); err != nil {
		t.Fatal(err)
	}
	if back.Status.Code != 5 || back.Status.Message != "method X" || back.Payload != nil {
		t.Fatalf("decoded %v", &back)
	}
	// Negative codes are sign-extended like any int32 field.
	neg := &Response{Status: &spb.Status{Code: -1}}
	enc, _ := neg.Marshal()
	if want := unhex(t, "0a 0b 08 ff ff ff ff ff ff ff ff ff 01"); !bytes.Equal(enc, want) {
		t.Fatalf("negative code % x, want % x", enc, want)
	}
}

// readFrame reads one raw frame for tests.
func readFrame(t *testing.T, conn net.Conn) (messageHeader, []byte) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	var hb [messageHeaderLength]byte
	if _, err := io.ReadFull(conn, hb[:]); err != nil {
		t.Fatalf("reading header: %v", err)
	}
	h := readHeader(hb[:])
	data := make([]byte, h.Length)
	if _, err := io.ReadFull(conn, data); err != nil {
		t.Fatalf("reading data: %v", err)
	}
	return h, data
}

func writeFrame(t *testing.T, conn net.Conn, id uint32, typ messageType, flags uint8, data []byte) {
	t.Helper()
	b := make([]byte, messageHeaderLength+len(data))
	putHeader(b, messageHeader{Length: uint32(len(data)), StreamID: streamID(id), Type: typ, Flags: flags})
	copy(b[messageHeaderLength:], data)
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

func stringEcho(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var v types.StringValue
	if err := unmarshal(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// TestServerWireVectors sends the recorded request frames byte for byte and
// expects the recorded replies byte for byte.
//
// The recorded unknown-method reply is the 1.0 line's NOT_FOUND, which
// WithUnknownMethodCode(codes.NotFound) restores; by default the reply is the
// 1.1+ lines' UNIMPLEMENTED, the same bytes but for the code.
func TestServerWireVectors(t *testing.T) {
	checkLeaks(t)
	s, err := NewServer(WithUnknownMethodCode(codes.NotFound))
	if err != nil {
		t.Fatal(err)
	}
	s.Register("svc", map[string]Method{"M": stringEcho})
	path := serveOn(t, s)
	conn := dialRaw(t, path)

	if _, err := conn.Write(unhex(t, vecRequestHeader+vecRequestData)); err != nil {
		t.Fatal(err)
	}
	h, data := readFrame(t, conn)
	var hb [messageHeaderLength]byte
	putHeader(hb[:], h)
	if got, want := append(hb[:], data...), unhex(t, vecReplyHeader+vecReplyData); !bytes.Equal(got, want) {
		t.Fatalf("reply % x, want % x", got, want)
	}

	writeFrame(t, conn, 3, messageTypeRequest, 0, unhex(t, vecUnknownData))
	h, data = readFrame(t, conn)
	putHeader(hb[:], h)
	if got, want := append(hb[:], data...), unhex(t, vecUnknownHeader+vecUnknownRespDat); !bytes.Equal(got, want) {
		t.Fatalf("reply % x, want % x", got, want)
	}

	d, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	d.Register("svc", map[string]Method{"M": stringEcho})
	conn = dialRaw(t, serveOn(t, d))
	writeFrame(t, conn, 3, messageTypeRequest, 0, unhex(t, vecUnknownData))
	h, data = readFrame(t, conn)
	putHeader(hb[:], h)
	want := unhex(t, vecUnknownHeader+vecUnknownRespDat)
	want[messageHeaderLength+3] = byte(codes.Unimplemented)
	if got := append(hb[:], data...); !bytes.Equal(got, want) {
		t.Fatalf("default reply % x, want % x", got, want)
	}
}

// serveOn serves s on a fresh unix socket until the test ends.
func serveOn(t *testing.T, s *Server) string {
	t.Helper()
	path := t.TempDir() + "/s.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(context.Background(), l) }()
	t.Cleanup(func() { s.Close(); waitDone(t, done, "Serve to return") })
	return path
}

// TestClientWireVector checks the exact bytes a client sends and that it
// understands the recorded reply.
func TestClientWireVector(t *testing.T) {
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
	h, data := readFrame(t, sconn)
	var hb [messageHeaderLength]byte
	putHeader(hb[:], h)
	if got, want := append(hb[:], data...), unhex(t, vecRequestHeader+vecRequestData); !bytes.Equal(got, want) {
		t.Fatalf("client sent % x, want % x", got, want)
	}
	if _, err := sconn.Write(unhex(t, vecReplyHeader+vecReplyData)); err != nil {
		t.Fatal(err)
	}
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	if out.Value != "hi" {
		t.Fatalf("got %q", out.Value)
	}

	// The recorded NOT_FOUND reply becomes a grpc status error.
	go func() {
		result <- c.Call(context.Background(), "svc", "X", &types.StringValue{Value: "hi"}, &out)
	}()
	h, _ = readFrame(t, sconn)
	if h.StreamID != 3 {
		t.Fatalf("second call on stream %d, want 3", h.StreamID)
	}
	if _, err := sconn.Write(unhex(t, vecUnknownHeader+vecUnknownRespDat)); err != nil {
		t.Fatal(err)
	}
	assertCode(t, <-result, codes.NotFound, "method X")
}
