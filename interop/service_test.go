package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	gogotypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// This file is our side of the test service that peers/*/main.go serve and
// call (service "interop.Test"; the method list is in their package doc).

const serviceName = "interop.Test"

// kit makes and reads the two message types of the test service in one
// protobuf world. Our library takes either world per message; each peer's
// codec takes one, and the tests use that one on our side too.
type kit interface {
	str(s string) interface{}
	newStr() interface{}
	strOf(m interface{}) string
	bytes(b []byte) interface{}
	newBytes() interface{}
	bytesOf(m interface{}) []byte
}

// gogoKit: gogo's well-known types, as v1.0.2 and containerd 1.5-era code use.
type gogoKit struct{}

func (gogoKit) str(s string) interface{}     { return &gogotypes.StringValue{Value: s} }
func (gogoKit) newStr() interface{}          { return &gogotypes.StringValue{} }
func (gogoKit) strOf(m interface{}) string   { return m.(*gogotypes.StringValue).Value }
func (gogoKit) bytes(b []byte) interface{}   { return &gogotypes.BytesValue{Value: b} }
func (gogoKit) newBytes() interface{}        { return &gogotypes.BytesValue{} }
func (gogoKit) bytesOf(m interface{}) []byte { return m.(*gogotypes.BytesValue).Value }

// apiv2Kit: google.golang.org/protobuf's well-known types, as the 1.2 line uses.
type apiv2Kit struct{}

func (apiv2Kit) str(s string) interface{}     { return wrapperspb.String(s) }
func (apiv2Kit) newStr() interface{}          { return &wrapperspb.StringValue{} }
func (apiv2Kit) strOf(m interface{}) string   { return m.(*wrapperspb.StringValue).GetValue() }
func (apiv2Kit) bytes(b []byte) interface{}   { return wrapperspb.Bytes(b) }
func (apiv2Kit) newBytes() interface{}        { return &wrapperspb.BytesValue{} }
func (apiv2Kit) bytesOf(m interface{}) []byte { return m.(*wrapperspb.BytesValue).GetValue() }

// unmarshalStr decodes a request into a new string message of k.
func unmarshalStr(k kit, u func(interface{}) error) (interface{}, error) {
	m := k.newStr()
	return m, u(m)
}

const maxSleep = 10 * time.Second

// pattern is the content of Big replies and of the tests' Sum requests.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return fmt.Sprintf("%d:%s", len(b), hex.EncodeToString(h[:]))
}

// failDetails are the details Fail(msg) attaches, as Detail values: type URL
// and the encoding of the message, written out by hand.
func failDetails(msg string) []Detail {
	sv := append([]byte{0x0a, byte(len("detail:" + msg))}, "detail:"+msg...)
	return []Detail{
		{TypeURL: "type.googleapis.com/google.protobuf.StringValue", ValueHex: hex.EncodeToString(sv)},
		{TypeURL: "type.googleapis.com/google.protobuf.BytesValue", ValueHex: "0a040001feff"},
	}
}

// ourService is the test service on our server.
type ourService struct {
	k            kit
	sleepStarted chan string   // a value per Sleep that began
	events       chan Result   // what the stream handlers report (stream_service_test.go)
	stop         chan struct{} // closed at the end of the test: Sleep returns
}

func (s *ourService) methods() map[string]ttrpc.Method {
	k := s.k
	return map[string]ttrpc.Method{
		"Ping": func(ctx context.Context, u func(interface{}) error) (interface{}, error) {
			in, err := unmarshalStr(k, u)
			if err != nil {
				return nil, err
			}
			return k.str(k.strOf(in)), nil
		},
		"Echo": func(ctx context.Context, u func(interface{}) error) (interface{}, error) {
			in, err := unmarshalStr(k, u)
			if err != nil {
				return nil, err
			}
			r := EchoReply{Value: k.strOf(in), DeadlineNS: -1}
			if md, ok := ttrpc.GetMetadata(ctx); ok {
				r.MD, r.HasMD = md, true
			}
			if dl, ok := ctx.Deadline(); ok {
				r.DeadlineNS = int64(time.Until(dl))
			}
			b, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			return k.str(string(b)), nil
		},
		"Sleep": func(ctx context.Context, u func(interface{}) error) (interface{}, error) {
			in, err := unmarshalStr(k, u)
			if err != nil {
				return nil, err
			}
			d, err := time.ParseDuration(k.strOf(in))
			if err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			if d > maxSleep {
				d = maxSleep
			}
			select {
			case s.sleepStarted <- k.strOf(in):
			default:
			}
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-s.stop:
			}
			return k.str("slept " + k.strOf(in)), nil
		},
		"Fail": func(ctx context.Context, u func(interface{}) error) (interface{}, error) {
			in, err := unmarshalStr(k, u)
			if err != nil {
				return nil, err
			}
			msg := k.strOf(in)
			st, err := status.New(codes.NotFound, msg).WithDetails(
				wrapperspb.String("detail:"+msg),
				wrapperspb.Bytes([]byte{0x00, 0x01, 0xfe, 0xff}),
			)
			if err != nil {
				return nil, err
			}
			return nil, st.Err()
		},
		"Sum": func(ctx context.Context, u func(interface{}) error) (interface{}, error) {
			in := k.newBytes()
			if err := u(in); err != nil {
				return nil, err
			}
			return k.str(sumOf(k.bytesOf(in))), nil
		},
		"Big": func(ctx context.Context, u func(interface{}) error) (interface{}, error) {
			in, err := unmarshalStr(k, u)
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(k.strOf(in))
			if err != nil || n < 0 || n > 64<<20 {
				return nil, status.Errorf(codes.InvalidArgument, "bad size %q", k.strOf(in))
			}
			return k.bytes(pattern(n)), nil
		},
	}
}

// ourServer is our library's server with the test service, in this process.
type ourServer struct {
	srv      *ttrpc.Server
	sock     string
	svc      *ourService
	serveErr chan error
}

// startOurServer serves the test service with messages of kit k on a fresh
// socket. At the end of the test it is closed and Serve must have returned.
func startOurServer(t *testing.T, k kit) *ourServer {
	t.Helper()
	s := &ourServer{
		sock:     filepath.Join(shortTempDir(t), "s"),
		svc:      &ourService{k: k, sleepStarted: make(chan string, 16), events: make(chan Result, 256), stop: make(chan struct{})},
		serveErr: make(chan error, 1),
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv
	srv.RegisterService(serviceName, &ttrpc.ServiceDesc{Methods: s.svc.methods(), Streams: s.svc.streams()})
	l, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() { s.serveErr <- srv.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		close(s.svc.stop)
		_ = srv.Close()
		select {
		case err := <-s.serveErr:
			if !errors.Is(err, ttrpc.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve still running 10s after Close")
		}
	})
	return s
}

// waitSleep waits until a Sleep handler of our server has begun.
func (s *ourServer) waitSleep(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-s.svc.sleepStarted:
	case <-time.After(d):
		t.Fatalf("no Sleep began on our server within %v", d)
	}
}

// dialOurs connects our client to sock; it is closed at the end of the test.
func dialOurs(t *testing.T, sock string) *ttrpc.Client {
	t.Helper()
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := ttrpc.NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

// describe reports a call's outcome as a Result, as the peers do.
func describe(step string, err error, elapsed time.Duration) Result {
	r := Result{Step: step, ElapsedMS: float64(elapsed.Microseconds()) / 1000}
	if err == nil {
		r.OK = true
		return r
	}
	r.Err = err.Error()
	r.ErrType = fmt.Sprintf("%T", err)
	r.Closed = errors.Is(err, ttrpc.ErrClosed)
	r.CtxDeadline = errors.Is(err, context.DeadlineExceeded)
	if st, ok := status.FromError(err); ok {
		r.Status = true
		r.Code = st.Code().String()
		r.CodeNum = int(st.Code())
		r.Message = st.Message()
		for _, d := range st.Proto().GetDetails() {
			r.Details = append(r.Details, Detail{TypeURL: d.GetTypeUrl(), ValueHex: hex.EncodeToString(d.GetValue())})
		}
	}
	return r
}

// ourCall makes one call with our client and describes it.
func ourCall(ctx context.Context, c *ttrpc.Client, step, service, method string, req, resp interface{}) Result {
	start := time.Now()
	err := c.Call(ctx, service, method, req, resp)
	return describe(step, err, time.Since(start))
}

// ourEcho calls Echo with our client; a successful reply is decoded into
// the Result's Echo.
func ourEcho(t *testing.T, ctx context.Context, c *ttrpc.Client, k kit, step string) Result {
	t.Helper()
	resp := k.newStr()
	r := ourCall(ctx, c, step, serviceName, "Echo", k.str(step), resp)
	if r.OK {
		var er EchoReply
		if err := json.Unmarshal([]byte(k.strOf(resp)), &er); err != nil {
			t.Fatalf("%s: bad Echo reply %q: %v", step, k.strOf(resp), err)
		}
		r.Echo = &er
	}
	t.Logf("our client: %s", r)
	return r
}

// bounded runs f, failing the test if it has not returned within d; then
// cleanup (e.g. closing the client) is run to unblock it, and bounded waits
// for it to return.
func bounded(t *testing.T, d time.Duration, what string, cleanup func(), f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Errorf("%s: not done within %v", what, d)
		cleanup()
		<-done
	}
}
