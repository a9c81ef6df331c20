package ttrpc

// Fuzz targets of the reliability work (issue 4). Run one for a bounded time
// with, for example:
//
//	go test -run '^$' -fuzz '^FuzzFrameReader$' -fuzztime 20s .
//
// .ci/fuzz.sh runs them all. Their seed corpora live in testdata/fuzz/ and
// run as ordinary tests in every `go test`.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc/internal/bufpool"
	"github.com/containerd/ttrpc/internal/faultconn"
	"github.com/containerd/ttrpc/internal/wire"
	gogoproto "github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ---------------------------------------------------------------------------
// Helpers shared by the fuzz targets.

// fzFrame builds one frame.
func fzFrame(id uint32, typ messageType, flags uint8, data []byte) []byte {
	b := make([]byte, messageHeaderLength, messageHeaderLength+len(data))
	putHeader(b, messageHeader{Length: uint32(len(data)), StreamID: streamID(id), Type: typ, Flags: flags})
	return append(b, data...)
}

// fzHeaderOnly builds a header announcing n bytes, without the data.
func fzHeaderOnly(id uint32, typ messageType, n uint32) []byte {
	b := make([]byte, messageHeaderLength)
	putHeader(b, messageHeader{Length: n, StreamID: streamID(id), Type: typ})
	return b
}

func fzMarshal(m gogoproto.Message) []byte {
	b, err := gogoproto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func fzRequest(id uint32, service, method string, payload []byte) []byte {
	r := &Request{Service: service, Method: method, Payload: payload}
	b, _ := r.Marshal()
	return fzFrame(id, messageTypeRequest, 0, b)
}

func fzEchoRequest(id uint32, v []byte) []byte {
	return fzRequest(id, "fz.Svc", "Echo", fzMarshal(&types.BytesValue{Value: v}))
}

func fzJoin(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// refFrame is one frame as the reference model parses it.
type refFrame struct {
	h        messageHeader
	data     []byte
	oversize bool
}

// refParse is an independent model of the frame layer: a header, then the
// data, and a frame over the limit skipped whole. It returns the complete
// frames and whether the input ended exactly at a frame boundary.
func refParse(b []byte) (frames []refFrame, clean bool) {
	for {
		if len(b) == 0 {
			return frames, true
		}
		if len(b) < messageHeaderLength {
			return frames, false
		}
		h := messageHeader{
			Length:   binary.BigEndian.Uint32(b[0:4]),
			StreamID: streamID(binary.BigEndian.Uint32(b[4:8])),
			Type:     messageType(b[8]),
			Flags:    b[9],
		}
		b = b[messageHeaderLength:]
		if uint64(h.Length) > uint64(len(b)) {
			return frames, false
		}
		f := refFrame{h: h, oversize: h.Length > messageLengthMax}
		if !f.oversize {
			f.data = b[:h.Length]
		}
		frames = append(frames, f)
		b = b[h.Length:]
	}
}

// fzWaitGoroutines waits until the number of goroutines is at most n, for a
// bounded time, and reports whether it got there. Goroutines exit
// asynchronously after the events a test waits on, so a bounded poll is the
// only way to observe it (goleak does the same).
func fzWaitGoroutines(n int, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for {
		if runtime.NumGoroutine() <= n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
		time.Sleep(200 * time.Microsecond)
	}
}

func fzStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// ---------------------------------------------------------------------------
// FuzzFrameReader: the frame reader against the reference model.

func FuzzFrameReader(f *testing.F) {
	for _, s := range fzFrameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, clean := refParse(in)
		r := &frameReader{br: bufio.NewReaderSize(bytes.NewReader(in), 16<<10)}
		for i := 0; ; i++ {
			h, p, err := r.read()
			if i < len(want) {
				w := want[i]
				if w.oversize {
					var tl *OversizedMessageErr
					if !errors.As(err, &tl) || tl.length != int(w.h.Length) || h != w.h {
						t.Fatalf("frame %d: got %v %+v, want oversize error for %+v", i, err, h, w.h)
					}
					if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted {
						t.Fatalf("oversize error has code %v", st.Code())
					}
					continue
				}
				if err != nil {
					t.Fatalf("frame %d: unexpected error %v", i, err)
				}
				if h != w.h || !bytes.Equal(*p, w.data) {
					t.Fatalf("frame %d: got %+v %x, want %+v %x", i, h, *p, w.h, w.data)
				}
				continue
			}
			switch {
			case clean && err != io.EOF:
				t.Fatalf("after %d frames at a boundary: got %v, want io.EOF", i, err)
			case !clean && (err == nil || err == io.EOF):
				t.Fatalf("after %d frames in a torn frame: got %v, want an error other than EOF", i, err)
			}
			return
		}
	})
}

func fzFrameSeeds() [][]byte {
	return [][]byte{
		{},
		fzEchoRequest(1, []byte("hi")),
		fzJoin(fzEchoRequest(1, nil), fzFrame(2, messageTypeResponse, 0, []byte{0x12, 0}), fzFrame(3, 9, 0xff, nil)),
		fzHeaderOnly(1, messageTypeRequest, messageLengthMax+1),
		fzJoin(fzHeaderOnly(1, messageTypeRequest, 5), []byte{1, 2}),
		fzJoin(fzHeaderOnly(1, messageTypeRequest, 65600), bytes.Repeat([]byte{'a'}, 65600)),
		fzJoin(fzHeaderOnly(5, messageTypeRequest, 200000), bytes.Repeat([]byte{'a'}, 66000)),
		fzFrame(7, messageTypeData, flagRemoteClosed|flagNoData, nil),
		{0, 0, 0},
	}
}

// ---------------------------------------------------------------------------
// FuzzRequestCodec and FuzzResponseCodec: the hand-written codecs against
// gogo's reflection-based codec. The mirror types carry the same protobuf
// struct tags as the real ones but no codec methods, so gogo falls back to
// reflection for them, as the established library did for its envelope.

type mirrorKeyValue struct {
	Key   string `protobuf:"bytes,1,opt,name=key,proto3"`
	Value string `protobuf:"bytes,2,opt,name=value,proto3"`
}

func (m *mirrorKeyValue) Reset()         { *m = mirrorKeyValue{} }
func (m *mirrorKeyValue) String() string { return fmt.Sprintf("%+v", *m) }
func (*mirrorKeyValue) ProtoMessage()    {}

type mirrorRequest struct {
	Service     string            `protobuf:"bytes,1,opt,name=service,proto3"`
	Method      string            `protobuf:"bytes,2,opt,name=method,proto3"`
	Payload     []byte            `protobuf:"bytes,3,opt,name=payload,proto3"`
	TimeoutNano int64             `protobuf:"varint,4,opt,name=timeout_nano,json=timeoutNano,proto3"`
	Metadata    []*mirrorKeyValue `protobuf:"bytes,5,rep,name=metadata,proto3"`
}

func (m *mirrorRequest) Reset()         { *m = mirrorRequest{} }
func (m *mirrorRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*mirrorRequest) ProtoMessage()    {}

type mirrorAny struct {
	TypeUrl string `protobuf:"bytes,1,opt,name=type_url,json=typeUrl,proto3"`
	Value   []byte `protobuf:"bytes,2,opt,name=value,proto3"`
}

func (m *mirrorAny) Reset()         { *m = mirrorAny{} }
func (m *mirrorAny) String() string { return fmt.Sprintf("%+v", *m) }
func (*mirrorAny) ProtoMessage()    {}

type mirrorStatus struct {
	Code    int32        `protobuf:"varint,1,opt,name=code,proto3"`
	Message string       `protobuf:"bytes,2,opt,name=message,proto3"`
	Details []*mirrorAny `protobuf:"bytes,3,rep,name=details,proto3"`
}

func (m *mirrorStatus) Reset()         { *m = mirrorStatus{} }
func (m *mirrorStatus) String() string { return fmt.Sprintf("%+v", *m) }
func (*mirrorStatus) ProtoMessage()    {}

type mirrorResponse struct {
	Status  *mirrorStatus `protobuf:"bytes,1,opt,name=status,proto3"`
	Payload []byte        `protobuf:"bytes,2,opt,name=payload,proto3"`
}

func (m *mirrorResponse) Reset()         { *m = mirrorResponse{} }
func (m *mirrorResponse) String() string { return fmt.Sprintf("%+v", *m) }
func (*mirrorResponse) ProtoMessage()    {}

func fzEqualRequest(a *Request, m *mirrorRequest) error {
	if a.Service != m.Service || a.Method != m.Method || !bytes.Equal(a.Payload, m.Payload) || a.TimeoutNano != m.TimeoutNano {
		return fmt.Errorf("scalar fields differ: ours %v, gogo %v", a, m)
	}
	if len(a.Metadata) != len(m.Metadata) {
		return fmt.Errorf("metadata length: ours %d, gogo %d", len(a.Metadata), len(m.Metadata))
	}
	for i := range a.Metadata {
		x, y := a.Metadata[i], m.Metadata[i]
		if y == nil {
			y = &mirrorKeyValue{}
		}
		if x.Key != y.Key || x.Value != y.Value {
			return fmt.Errorf("metadata %d: ours %v, gogo %v", i, x, y)
		}
	}
	return nil
}

func fzEqualResponse(a *Response, m *mirrorResponse) error {
	if !bytes.Equal(a.Payload, m.Payload) {
		return fmt.Errorf("payload: ours %x, gogo %x", a.Payload, m.Payload)
	}
	if (a.Status == nil) != (m.Status == nil) {
		return fmt.Errorf("status presence: ours %v, gogo %v", a.Status, m.Status)
	}
	if a.Status == nil {
		return nil
	}
	s, ms := a.Status, m.Status
	if s.Code != ms.Code || s.Message != ms.Message || len(s.Details) != len(ms.Details) {
		return fmt.Errorf("status: ours %v, gogo %v", s, ms)
	}
	for i := range s.Details {
		x, y := s.Details[i], ms.Details[i]
		if y == nil {
			y = &mirrorAny{}
		}
		if x.TypeUrl != y.TypeUrl || !bytes.Equal(x.Value, y.Value) {
			return fmt.Errorf("detail %d: ours %v, gogo %v", i, x, y)
		}
	}
	return nil
}

func FuzzRequestCodec(f *testing.F) {
	for _, s := range fzRequestSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var ours Request
		oerr := ours.Unmarshal(in)
		var alias Request
		aerr := alias.decode(in)
		var ref mirrorRequest
		rerr := gogoproto.Unmarshal(in, &ref)
		if (oerr == nil) != (rerr == nil) || (aerr == nil) != (oerr == nil) {
			t.Fatalf("input %x: Unmarshal %v, decode %v, gogo %v", in, oerr, aerr, rerr)
		}
		if oerr != nil {
			return
		}
		if err := fzEqualRequest(&ours, &ref); err != nil {
			t.Fatalf("input %x: %v", in, err)
		}
		if err := fzEqualRequest(&alias, &ref); err != nil {
			t.Fatalf("input %x (aliasing decode): %v", in, err)
		}
		// encode(decode(x)) is the canonical encoding, the one gogo writes,
		// and decodes back to the same message.
		enc, err := ours.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != ours.Size() {
			t.Fatalf("Size %d, Marshal wrote %d", ours.Size(), len(enc))
		}
		renc, err := gogoproto.Marshal(&ref)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, renc) {
			t.Fatalf("input %x: ours encodes %x, gogo %x", in, enc, renc)
		}
		var back Request
		if err := back.Unmarshal(enc); err != nil {
			t.Fatalf("re-decoding %x: %v", enc, err)
		}
		if err := fzEqualRequest(&back, &ref); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		// Unmarshal must not alias its input.
		if len(ours.Payload) > 0 {
			for i := range in {
				in[i] ^= 0xff
			}
			if !bytes.Equal(ours.Payload, ref.Payload) {
				t.Fatal("Unmarshal's payload aliases the input")
			}
		}
	})
}

func fzRequestSeeds() [][]byte {
	full, _ := (&Request{
		Service: "svc", Method: "M", Payload: []byte{0x0a, 0x02, 'h', 'i'}, TimeoutNano: 1e9,
		Metadata: []*KeyValue{{Key: "k", Value: "v"}, {Key: "a"}},
	}).Marshal()
	return [][]byte{
		{},
		{0x0a, 0x03, 's', 'v', 'c', 0x12, 0x01, 'M', 0x1a, 0x04, 0x0a, 0x02, 'h', 'i'},
		full,
		{0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // timeout -1
		{0x08, 0x01, 0x0a, 0x00},             // field 1 with a varint wire type
		{0x2a, 0x02, 0x0a, 0xff},             // truncated metadata key
		{0x0b, 0x08, 0x01, 0x0c, 0x12, 0x00}, // a group
		{0x0a, 0x02, 0xc3, 0x28},             // invalid UTF-8 service
		{0x1a, 0x00, 0x1a, 0x01, 0x00},       // repeated payload: last wins
		{0x2d, 0x00, 0x00, 0x00, 0x00},       // metadata as fixed32
	}
}

func FuzzResponseCodec(f *testing.F) {
	for _, s := range fzResponseSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var ours Response
		oerr := ours.Unmarshal(in)
		var alias Response
		aerr := alias.decode(in)
		var ref mirrorResponse
		rerr := gogoproto.Unmarshal(in, &ref)
		if (oerr == nil) != (rerr == nil) || (aerr == nil) != (oerr == nil) {
			t.Fatalf("input %x: Unmarshal %v, decode %v, gogo %v", in, oerr, aerr, rerr)
		}
		if oerr != nil {
			return
		}
		if err := fzEqualResponse(&ours, &ref); err != nil {
			t.Fatalf("input %x: %v", in, err)
		}
		if err := fzEqualResponse(&alias, &ref); err != nil {
			t.Fatalf("input %x (aliasing decode): %v", in, err)
		}
		enc, err := ours.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != ours.Size() {
			t.Fatalf("Size %d, Marshal wrote %d", ours.Size(), len(enc))
		}
		renc, err := gogoproto.Marshal(&ref)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, renc) {
			t.Fatalf("input %x: ours encodes %x, gogo %x", in, enc, renc)
		}
		var back Response
		if err := back.Unmarshal(enc); err != nil {
			t.Fatalf("re-decoding %x: %v", enc, err)
		}
		if err := fzEqualResponse(&back, &ref); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func fzResponseSeeds() [][]byte {
	return [][]byte{
		{},
		{0x12, 0x04, 0x0a, 0x02, 'h', 'i'},
		{0x0a, 0x0c, 0x08, 0x05, 0x12, 0x08, 'm', 'e', 't', 'h', 'o', 'd', ' ', 'X'},
		{0x0a, 0x00}, // empty status
		{0x0a, 0x02, 0x08, 0x01, 0x0a, 0x02, 0x12, 0x00},                               // two status fields merge
		{0x0a, 0x06, 0x1a, 0x04, 0x0a, 0x01, 'u', 0x12, 0x00},                          // detail with empty value
		{0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // code -1
		{0x0a, 0x03, 0x1a, 0x01, 0x00},                                                 // bad detail
		{0x12, 0x05, 0x00},                                                             // truncated payload
	}
}

// ---------------------------------------------------------------------------
// FuzzServerConn: a served connection fed arbitrary bytes.

var (
	fzServerOnce sync.Once
	fzServer     *Server
	fzListener   *faultconn.PipeListener
)

// fzSharedServer is one server for all iterations of a fuzz process: a new
// server per input would make the target too slow to find anything.
func fzSharedServer() (*Server, *faultconn.PipeListener) {
	fzServerOnce.Do(func() {
		s, err := NewServer()
		if err != nil {
			panic(err)
		}
		s.Register("fz.Svc", map[string]Method{
			"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
				var v types.BytesValue
				if err := unmarshal(&v); err != nil {
					return nil, err
				}
				return &v, nil
			},
			"Fail": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
				return nil, status.Error(codes.Aborted, "fail")
			},
			"Nil": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
				return nil, nil
			},
		})
		// Streams of every kind, for the stream state machine.
		s.RegisterService("fz.Stream", &ServiceDesc{Streams: map[string]Stream{
			"Chat": {StreamingClient: true, StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
				for {
					var v types.BytesValue
					if err := ss.RecvMsg(&v); err != nil {
						if err == io.EOF {
							return nil, nil
						}
						return nil, err
					}
					if err := ss.SendMsg(&v); err != nil {
						return nil, err
					}
				}
			}},
			"Down": {StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
				var v types.BytesValue
				if err := ss.RecvMsg(&v); err != nil {
					return nil, err
				}
				for i := 0; i < 3; i++ {
					if err := ss.SendMsg(&v); err != nil {
						return nil, err
					}
				}
				return &v, nil
			}},
			"Up": {StreamingClient: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
				n := 0
				for {
					var v types.BytesValue
					if err := ss.RecvMsg(&v); err == io.EOF {
						return &types.Int64Value{Value: int64(n)}, nil
					} else if err != nil {
						return nil, err
					}
					n++
				}
			}},
			"Hang": {StreamingClient: true, StreamingServer: true, Handler: func(ctx context.Context, ss StreamServer) (interface{}, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}},
		}})
		l := faultconn.NewPipeListener()
		go s.Serve(context.Background(), l)
		fzServer, fzListener = s, l
	})
	return fzServer, fzListener
}

func (s *Server) fzConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) + len(s.pending)
}

func FuzzServerConn(f *testing.F) {
	for _, s := range fzServerSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, l := fzSharedServer()
		base := runtime.NumGoroutine()
		conn, err := l.Dial()
		if err != nil {
			t.Fatal(err)
		}

		// A well-formed request after the input is answered if the input
		// ended at a frame boundary. Its id is one no seed uses.
		const probeID = 0x7ffffffd
		probe := []byte("probe")
		_, clean := refParse(in)

		// Read every reply (the pipe is unbuffered: an unread reply would
		// block its handler) and watch for the probe's.
		answered := make(chan error, 1)
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			r := newFrameReader(conn)
			found := false
			for {
				h, p, err := r.read()
				if err != nil {
					if !found {
						answered <- err
					}
					return
				}
				if h.StreamID == probeID && !found {
					var resp Response
					var v types.BytesValue
					if err := resp.Unmarshal(*p); err != nil {
						answered <- err
					} else if resp.Status != nil && resp.Status.Code != 0 {
						answered <- fmt.Errorf("probe answered %v", resp.Status)
					} else if err := v.Unmarshal(resp.Payload); err != nil || !bytes.Equal(v.Value, probe) {
						answered <- fmt.Errorf("probe echoed %q (%v)", v.Value, err)
					} else {
						found = true
						answered <- nil
					}
				}
			}
		}()

		writeErr := make(chan error, 1)
		go func() {
			_, err := conn.Write(in)
			if err == nil && clean {
				_, err = conn.Write(fzEchoRequest(probeID, probe))
			}
			writeErr <- err
		}()
		if clean {
			select {
			case err := <-answered:
				if err != nil {
					t.Fatalf("probe after a well-formed stream: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("probe not answered\n%s", fzStacks())
			}
		}
		conn.Close()
		select {
		case <-readDone:
		case <-time.After(10 * time.Second):
			t.Fatalf("reader did not finish\n%s", fzStacks())
		}
		<-writeErr
		deadline := time.Now().Add(10 * time.Second)
		for s.fzConnCount() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("server connection outlived its peer\n%s", fzStacks())
			}
			time.Sleep(100 * time.Microsecond)
		}
		if !fzWaitGoroutines(base, 10*time.Second) {
			t.Fatalf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), base, fzStacks())
		}
	})
}

func fzServerSeeds() [][]byte {
	bad := fzFrame(1, messageTypeRequest, 0, []byte{0x0a, 0x05, 'x'})
	return [][]byte{
		{},
		fzEchoRequest(1, []byte("hi")),
		fzJoin(fzEchoRequest(1, []byte("a")), fzEchoRequest(3, []byte("b")), fzEchoRequest(5, nil)),
		fzEchoRequest(2, nil), // even id
		bad,
		fzFrame(9, messageTypeData, flagRemoteClosed, []byte("data")),
		fzFrame(11, 0x7f, 0, nil),
		fzRequest(13, "fz.Svc", "Fail", nil),
		fzRequest(15, "fz.Svc", "Nil", nil),
		fzRequest(17, "nope", "Echo", nil),
		fzRequest(19, "fz.Svc", "Nope", nil),
		fzRequest(21, "fz.Svc", "Echo", []byte{0xff}),
		fzHeaderOnly(23, messageTypeRequest, messageLengthMax+1),
		fzJoin(fzHeaderOnly(25, messageTypeRequest, 100), []byte("torn")),
		fzJoin(fzHeaderOnly(27, messageTypeRequest, 65600), bytes.Repeat([]byte{'a'}, 65600)),
		// Streams: a bidi chat, closed; with the client's window; a
		// server stream; a client stream; abandoned with a reset.
		fzJoin(fzStreamRequest(29, "Chat", flagRemoteOpen, nil, 0), fzData(29, 0, "a"), fzData(29, 0, ""), fzFrame(29, messageTypeData, flagRemoteClosed|flagNoData, nil)),
		fzJoin(fzStreamRequest(31, "Chat", flagRemoteOpen, []byte("first"), 1024), fzData(31, flagRemoteClosed, "last"), fzWindow(31, 4096)),
		fzStreamRequest(33, "Down", flagRemoteClosed, fzMarshal(&types.BytesValue{Value: []byte("d")}), 0),
		fzJoin(fzStreamRequest(35, "Up", flagRemoteOpen, nil, 64), fzData(35, 0, "u"), fzData(35, flagRemoteClosed, "v")),
		fzJoin(fzStreamRequest(37, "Hang", flagRemoteOpen, nil, 0), fzData(37, 0, "x"), fzFrame(37, messageTypeReset, 0, nil)),
		// Odd stream frames: data, window and reset for streams that were
		// never opened; data for a unary call; remote-open to a unary
		// method; both open and closed; flags 0 to a server stream; data
		// after the client closed; a request reusing an open stream's id.
		fzJoin(fzData(39, 0, "x"), fzWindow(41, 1<<62), fzFrame(43, messageTypeReset, 0, nil)),
		fzJoin(fzEchoRequest(45, []byte("e")), fzData(45, 0, "late")),
		fzFrame(47, messageTypeRequest, flagRemoteOpen, fzRequestBody("fz.Svc", "Echo", nil, 0)),
		fzStreamRequest(49, "Chat", flagRemoteOpen|flagRemoteClosed, nil, 0),
		fzStreamRequest(51, "Down", 0, nil, 0),
		fzJoin(fzStreamRequest(53, "Up", flagRemoteOpen, nil, 0), fzData(53, flagRemoteClosed, "a"), fzData(53, 0, "b")),
		fzJoin(fzStreamRequest(55, "Hang", flagRemoteOpen, nil, 0), fzStreamRequest(55, "Hang", flagRemoteOpen, nil, 0)),
		fzJoin(fzStreamRequest(57, "Chat", flagRemoteOpen, nil, 0), fzFrame(57, messageTypeData, flagNoData, nil), fzFrame(57, messageTypeWindow, 0, []byte{0xff})),
	}
}

// fzRequestBody encodes a Request, with the flow-control window field when
// window > 0.
func fzRequestBody(service, method string, payload []byte, window uint64) []byte {
	b, _ := (&Request{Service: service, Method: method, Payload: payload}).Marshal()
	if window > 0 {
		b = wire.AppendTag(b, requestWindowField, wire.TypeVarint)
		b = wire.AppendVarint(b, window)
	}
	return b
}

func fzStreamRequest(id uint32, method string, flags uint8, payload []byte, window uint64) []byte {
	return fzFrame(id, messageTypeRequest, flags, fzRequestBody("fz.Stream", method, payload, window))
}

func fzData(id uint32, flags uint8, v string) []byte {
	return fzFrame(id, messageTypeData, flags, fzMarshal(&types.BytesValue{Value: []byte(v)}))
}

func fzWindow(id uint32, n uint64) []byte {
	return fzFrame(id, messageTypeWindow, 0, wire.AppendVarint(nil, n))
}

// ---------------------------------------------------------------------------
// FuzzClientReplies: a client fed arbitrary reply frames.

func FuzzClientReplies(f *testing.F) {
	for _, s := range fzClientSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// Over net.Pipe the receiver goroutine reads every reply. Over a
		// unix socket, after one answered call, the first of the three
		// calls reads for all of them (client_recv.go).
		fzClientReplies(t, in, false)
		fzClientReplies(t, in, true)
	})
}

func fzClientReplies(t *testing.T, in []byte, unix bool) {
	base := runtime.NumGoroutine()
	var cconn, sconn net.Conn
	if unix {
		cconn, sconn = fzSocketPair(t)
	} else {
		cconn, sconn = net.Pipe()
	}
	c := NewClient(cconn)
	r := newFrameReader(sconn)

	first := streamID(1)
	if unix {
		// One answered call, so that the receiver lets go of the read side.
		done := make(chan error, 1)
		go func() {
			done <- c.Call(context.Background(), "fz.Svc", "Echo", &types.BytesValue{}, &types.BytesValue{})
		}()
		h, p, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		bufpool.Put(p)
		if _, err := sconn.Write(fzFrame(uint32(h.StreamID), messageTypeResponse, 0, nil)); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		first = 3
	}

	// Three calls on consecutive odd streams, started one after the other
	// so that ids are predictable; the fake server reads each request
	// before the next call starts.
	const calls = 3
	results := make([]chan error, calls)
	values := make([]*types.BytesValue, calls)
	for i := 0; i < calls; i++ {
		results[i] = make(chan error, 1)
		values[i] = &types.BytesValue{}
		go func(i int) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			results[i] <- c.Call(ctx, "fz.Svc", "Echo", &types.BytesValue{Value: []byte{byte(i)}}, values[i])
		}(i)
		h, p, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		bufpool.Put(p)
		if h.StreamID != first+streamID(2*i) {
			t.Fatalf("call %d went out on stream %d", i, h.StreamID)
		}
	}

	// Keep reading so that the client's writes never block, then feed
	// the input and hang up. The input's stream ids are shifted so that
	// 1, 3 and 5 always mean the three calls.
	go io.Copy(io.Discard, sconn)
	sconn.Write(fzShiftStreams(in, first-1))
	sconn.Close()

	// What each call deserves: the first complete response frame for
	// its stream decides; without one the call fails with ErrClosed.
	frames, _ := refParse(in)
	for i := 0; i < calls; i++ {
		id := streamID(2*i + 1)
		var err error
		select {
		case err = <-results[i]:
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d hung (unix=%v)\n%s", i, unix, fzStacks())
		}
		var decided *refFrame
		for k := range frames {
			if frames[k].h.StreamID == id && frames[k].h.Type == messageTypeResponse {
				decided = &frames[k]
				break
			}
		}
		if err := fzCheckCall(decided, err, values[i]); err != nil {
			t.Fatalf("call %d (unix=%v): %v", i, unix, err)
		}
	}
	c.Close()
	if err := c.UserOnCloseWait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !fzWaitGoroutines(base, 10*time.Second) {
		t.Fatalf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), base, fzStacks())
	}
}

// fzShiftStreams returns in with the stream id of every frame header increased
// by d (modulo 2^32), walking the frames as the client's reader does.
func fzShiftStreams(in []byte, d streamID) []byte {
	if d == 0 {
		return in
	}
	out := append([]byte(nil), in...)
	for off := 0; off+messageHeaderLength <= len(out); {
		h := readHeader(out[off:])
		h.StreamID += d
		putHeader(out[off:], h)
		// Oversized frames are skipped by the reader, so the walk goes on
		// past them too.
		off += messageHeaderLength + int(h.Length)
	}
	return out
}

// fzSocketPair returns the two ends of a connected unix socket as
// *net.UnixConn.
func fzSocketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	dir, err := os.MkdirTemp("", "fz")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c, s
}

// fzCheckCall checks a call's outcome against the frame that answered it.
func fzCheckCall(f *refFrame, err error, got *types.BytesValue) error {
	if f == nil {
		if err != ErrClosed {
			return fmt.Errorf("unanswered call returned %v, want ErrClosed", err)
		}
		return nil
	}
	if f.oversize {
		if status.Code(err) != codes.ResourceExhausted {
			return fmt.Errorf("oversized reply gave %v, want RESOURCE_EXHAUSTED", err)
		}
		return nil
	}
	var ref mirrorResponse
	if rerr := gogoproto.Unmarshal(f.data, &ref); rerr != nil {
		if status.Code(err) != codes.Internal {
			return fmt.Errorf("undecodable reply gave %v, want INTERNAL", err)
		}
		return nil
	}
	if ref.Status != nil && ref.Status.Code != 0 {
		st, ok := status.FromError(err)
		if !ok || int32(st.Code()) != ref.Status.Code || st.Message() != ref.Status.Message || len(st.Proto().Details) != len(ref.Status.Details) {
			return fmt.Errorf("reply with status %v gave %v", ref.Status, err)
		}
		return nil
	}
	var want types.BytesValue
	if uerr := gogoproto.Unmarshal(ref.Payload, &want); uerr != nil {
		if status.Code(err) != codes.Internal {
			return fmt.Errorf("reply with undecodable payload gave %v, want INTERNAL", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("good reply gave %v", err)
	}
	if !bytes.Equal(got.Value, want.Value) {
		return fmt.Errorf("got %q, want %q", got.Value, want.Value)
	}
	return nil
}

func fzResponse(id uint32, r *Response) []byte {
	b, _ := r.Marshal()
	return fzFrame(id, messageTypeResponse, 0, b)
}

func fzClientSeeds() [][]byte {
	ok := func(id uint32, v string) []byte {
		return fzResponse(id, &Response{Payload: fzMarshal(&types.BytesValue{Value: []byte(v)})})
	}
	st := status.New(codes.NotFound, "gone").Proto()
	return [][]byte{
		{},
		fzJoin(ok(1, "a"), ok(3, "b"), ok(5, "c")),
		fzJoin(ok(5, "c"), ok(3, "b"), ok(1, "a"), ok(1, "again"), ok(7, "unknown")),
		fzJoin(fzResponse(3, &Response{Status: st}), ok(1, "a")),
		fzJoin(fzHeaderOnly(1, messageTypeResponse, messageLengthMax+1)),
		fzJoin(fzFrame(1, messageTypeResponse, 0, []byte{0x0a, 0x05}), ok(3, "b")),
		fzJoin(fzFrame(1, messageTypeRequest, 0, nil), fzFrame(3, messageTypeData, 1, nil), ok(5, "c")),
		fzJoin(ok(1, "a"), fzHeaderOnly(3, messageTypeResponse, 50)),
		fzJoin(fzFrame(1, messageTypeResponse, 0, []byte{0x12, 0x01, 0xff})),
		fzJoin(fzFrame(3, messageTypeResponse, 0, nil)),
	}
}

// ---------------------------------------------------------------------------
// Seed corpus files. The seeds above are also committed as files under
// testdata/fuzz/<Target>/ so that they outlive edits to this file; write
// them again with TTRPC_WRITE_FUZZ_CORPUS=1 go test -run TestWriteFuzzCorpus.

func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("TTRPC_WRITE_FUZZ_CORPUS") == "" {
		// Not a test of the library: a tool, run on demand.
		return
	}
	targets := map[string][][]byte{
		"FuzzFrameReader":   fzFrameSeeds(),
		"FuzzRequestCodec":  fzRequestSeeds(),
		"FuzzResponseCodec": fzResponseSeeds(),
		"FuzzServerConn":    fzServerSeeds(),
		"FuzzClientReplies": fzClientSeeds(),
	}
	for name, seeds := range targets {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			var b strings.Builder
			fmt.Fprintf(&b, "go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestInvalidUTF8Strings covers the divergence FuzzRequestCodec found: proto3
// string fields must be UTF-8. A request naming its service in invalid UTF-8
// is refused as INVALID_ARGUMENT (as the established library, decoding with
// gogo, refused it), and a handler error whose text is not UTF-8 still
// reaches the caller with its code.
func TestInvalidUTF8Strings(t *testing.T) {
	defer fzCheckLeaks(t)()
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.Register("fz.Svc", map[string]Method{
		"Bad": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			return nil, status.Error(codes.NotFound, "no file /tmp/\xff\xfe")
		},
	})
	l := faultconn.NewPipeListener()
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), l) }()
	defer func() { s.Close(); <-served }()

	conn, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	err = c.Call(ctx, "fz.Svc", "Bad", &types.Empty{}, &types.Empty{})
	if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "no file /tmp/\ufffd" {
		t.Fatalf("got %v, want NOT_FOUND with a repaired message", err)
	}
	err = c.Call(ctx, "fz.\xc3", "Bad", &types.Empty{}, &types.Empty{})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid UTF-8 service: got %v, want INVALID_ARGUMENT", err)
	}
}

// fzCheckLeaks returns a function that fails t if goroutines started since
// are still running after a bounded wait.
func fzCheckLeaks(t *testing.T) func() {
	base := runtime.NumGoroutine()
	return func() {
		if !fzWaitGoroutines(base, 10*time.Second) {
			t.Errorf("goroutines leaked: %d, want <= %d\n%s", runtime.NumGoroutine(), base, fzStacks())
		}
	}
}
