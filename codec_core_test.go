package ttrpc

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	gogoproto "github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"
	//lint:ignore SA1019 the codec uses golang/protobuf; the test checks its version
	golangproto "github.com/golang/protobuf/proto"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// reflectOnly is a gogo message with no generated codec methods, so gogo's
// reflection codec handles it.
type reflectOnly struct {
	Name  string `protobuf:"bytes,1,opt,name=name,proto3" json:"name,omitempty"`
	Count int64  `protobuf:"varint,2,opt,name=count,proto3" json:"count,omitempty"`
}

func (m *reflectOnly) Reset()         { *m = reflectOnly{} }
func (m *reflectOnly) String() string { return gogoproto.CompactTextString(m) }
func (*reflectOnly) ProtoMessage()    {}

func init() { gogoproto.RegisterType((*reflectOnly)(nil), "ttrpc.test.ReflectOnly") }

// apiv2Usable reports whether this build's golang/protobuf is 1.4 or later,
// which APIv2 messages need (the codec reaches them through it). Under
// containerd 1.5's pins (.ci/oldpins.sh) it is 1.3.5, whose registry does
// not know APIv2 messages.
func apiv2Usable(t *testing.T) bool {
	t.Helper()
	//lint:ignore SA1019 the registry lookup is the version test
	return golangproto.MessageName(&wrapperspb.StringValue{}) == "google.protobuf.StringValue"
}

// TestCodecWorlds: every kind of message encodes to the same protobuf bytes
// and decodes back, whichever runtime it belongs to.
func TestCodecWorlds(t *testing.T) {
	c := codec{}
	want := []byte{0x0a, 0x02, 'h', 'i'}
	msgs := []interface{}{
		&types.StringValue{Value: "hi"},   // gogo, generated fast path
		&reflectOnly{Name: "hi"},          // gogo reflection
		&spb.Status{Code: 0, Message: ""}, // golang/protobuf 1.3-era generated
	}
	if apiv2Usable(t) {
		msgs = append(msgs, &wrapperspb.StringValue{Value: "hi"}) // APIv2
	} else {
		// An older golang/protobuf forced into the build cannot encode
		// APIv2 messages: a clear error, never a crash.
		_, err := c.Marshal(&wrapperspb.StringValue{Value: "hi"})
		if err == nil || !strings.Contains(err.Error(), "need github.com/golang/protobuf v1.4") {
			t.Fatalf("APIv2 message with golang/protobuf < 1.4: %v", err)
		}
		err = c.Unmarshal(want, &wrapperspb.StringValue{})
		if err == nil || !strings.Contains(err.Error(), "need github.com/golang/protobuf v1.4") {
			t.Fatalf("APIv2 decode with golang/protobuf < 1.4: %v", err)
		}
	}
	for _, m := range msgs {
		got, err := c.Marshal(m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if _, ok := m.(*spb.Status); ok {
			if len(got) != 0 {
				t.Fatalf("empty status encodes to % x", got)
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%T encodes to % x", m, got)
		}
	}
	st := &spb.Status{Code: 5, Message: "m"}
	b, err := c.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back spb.Status
	if err := c.Unmarshal(b, &back); err != nil || back.Code != 5 || back.Message != "m" {
		t.Fatalf("status round trip: %v %v", &back, err)
	}
	var ro reflectOnly
	if err := c.Unmarshal(want, &ro); err != nil || ro.Name != "hi" {
		t.Fatalf("reflection decode: %v %v", ro, err)
	}
	if apiv2Usable(t) {
		v2 := &wrapperspb.StringValue{}
		if err := c.Unmarshal(want, v2); err != nil || v2.Value != "hi" {
			t.Fatalf("APIv2 decode: %v %v", v2, err)
		}
	}
	// Decoding replaces, it does not merge.
	gv := &types.StringValue{Value: "old"}
	if err := c.Unmarshal(nil, gv); err != nil || gv.Value != "" {
		t.Fatalf("decode into used message kept %q", gv.Value)
	}

	for _, bad := range []interface{}{nil, "string", 42, struct{}{}} {
		if _, err := c.Marshal(bad); err == nil || !strings.Contains(err.Error(), "cannot marshal unknown type") {
			t.Fatalf("Marshal(%T) = %v", bad, err)
		}
		if err := c.Unmarshal(want, bad); err == nil {
			t.Fatalf("Unmarshal into %T succeeded", bad)
		}
	}
}

// TestCrossWorldCall: a client speaking APIv2 messages talks to a handler
// using gogo messages over a real connection, and back.
func TestCrossWorldCall(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{
		"Gogo": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			var v types.StringValue
			if err := un(&v); err != nil {
				return nil, err
			}
			return &types.StringValue{Value: v.Value + " via gogo"}, nil
		},
		"V2": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			var v wrapperspb.StringValue
			if err := un(&v); err != nil {
				return nil, err
			}
			return &wrapperspb.StringValue{Value: v.Value + " via v2"}, nil
		},
	})
	c := dial(t, path)
	var rout reflectOnly
	if err := c.Call(testCtx(t), testService, "Gogo", &reflectOnly{Name: "reflect caller"}, &rout); err != nil || rout.Name != "reflect caller via gogo" {
		t.Fatalf("%q %v", rout.Name, err)
	}
	if !apiv2Usable(t) {
		// See TestCodecWorlds: APIv2 messages need golang/protobuf 1.4+.
		err := c.Call(testCtx(t), testService, "Gogo", &wrapperspb.StringValue{Value: "v2 caller"}, &types.StringValue{})
		if err == nil || !strings.Contains(err.Error(), "need github.com/golang/protobuf v1.4") {
			t.Fatalf("APIv2 call with golang/protobuf < 1.4: %v", err)
		}
		return
	}
	var out wrapperspb.StringValue
	if err := c.Call(testCtx(t), testService, "Gogo", &wrapperspb.StringValue{Value: "v2 caller"}, &out); err != nil || out.Value != "v2 caller via gogo" {
		t.Fatalf("%q %v", out.Value, err)
	}
	var gout types.StringValue
	if err := c.Call(testCtx(t), testService, "V2", &types.StringValue{Value: "gogo caller"}, &gout); err != nil || gout.Value != "gogo caller via v2" {
		t.Fatalf("%q %v", gout.Value, err)
	}
}

// TestCallReturnsWhileWriteBlocked (SPEC §6.7): the peer stops reading, so a
// large request's write blocks. The call still returns at its deadline; a
// second request queued behind it is dropped unsent; when the peer reads
// again it finds the first frame complete, followed by the next call's frame,
// and the stream is in sync.
func TestCallReturnsWhileWriteBlocked(t *testing.T) {
	checkLeaks(t)
	for _, transport := range []string{"pipe", "unix"} {
		t.Run(transport, func(t *testing.T) {
			var cconn, sconn net.Conn
			if transport == "pipe" {
				cconn, sconn = net.Pipe() // unbuffered: every write waits for a read
			} else {
				// A real socket: a 1 MiB frame overflows its buffer, so a
				// direct write from the caller is cut short and handed on.
				cconn, sconn = unixPair(t)
			}
			callWhileWriteBlocked(t, cconn, sconn)
		})
	}
}

// unixPair returns both ends of a connected unix socket.
func unixPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("unix", t.TempDir()+"/pair.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	cconn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sconn, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	return cconn, sconn
}

func callWhileWriteBlocked(t *testing.T, cconn, sconn net.Conn) {
	defer sconn.Close()
	c := NewClient(cconn)
	defer c.Close()

	big := bytes.Repeat([]byte{'b'}, 1<<20)
	ctxA, cancelA := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelA()
	start := time.Now()
	err := c.Call(ctxA, "svc", "A", &types.BytesValue{Value: big}, &types.BytesValue{})
	if err != context.DeadlineExceeded {
		t.Fatalf("blocked call got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("blocked call took %v to return", d)
	}
	// B waits behind A's unfinished write and gives up before it is sent.
	ctxB, cancelB := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelB()
	if err := c.Call(ctxB, "svc", "B", &types.StringValue{Value: "b"}, &types.StringValue{}); err != context.DeadlineExceeded {
		t.Fatalf("queued call got %v", err)
	}
	// C is sent once the peer reads again.
	result := make(chan error, 1)
	var out types.StringValue
	go func() {
		result <- c.Call(context.Background(), "svc", "C", &types.StringValue{Value: "c"}, &out)
	}()

	h, data := readFrame(t, sconn)
	var r Request
	if err := r.Unmarshal(data); err != nil || r.Method != "A" || h.StreamID != 1 {
		t.Fatalf("first frame: stream %d, %v, %v", h.StreamID, &r, err)
	}
	h, data = readFrame(t, sconn)
	if err := r.Unmarshal(data); err != nil || r.Method != "C" {
		t.Fatalf("second frame is %v (%v), want C: B must be skipped", &r, err)
	}
	// A late reply for A is dropped; C's reply is delivered.
	writeFrame(t, sconn, 1, messageTypeResponse, 0, nil)
	reply, _ := (&Response{Payload: mustMarshal(t, &types.StringValue{Value: "for c"})}).Marshal()
	writeFrame(t, sconn, uint32(h.StreamID), messageTypeResponse, 0, reply)
	select {
	case err := <-result:
		if err != nil || out.Value != "for c" {
			t.Fatalf("C got %q, %v", out.Value, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("C never completed")
	}
}

func mustMarshal(t *testing.T, m interface{}) []byte {
	t.Helper()
	b, err := (codec{}).Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
