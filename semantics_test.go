package ttrpc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/ttrpc/internal/wire"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestRequestTimeouts sends requests with raw timeout_nano values, as
// established clients do (a 1.2 client sends a negative one for a context
// that has just expired), and checks the context the handler runs under.
func TestRequestTimeouts(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{"Deadline": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		dl, ok := ctx.Deadline()
		switch {
		case !ok:
			return &types.StringValue{Value: "none"}, nil
		case ctx.Err() != nil:
			return &types.StringValue{Value: "expired:" + ctx.Err().Error()}, nil
		default:
			return &types.StringValue{Value: fmt.Sprintf("left:%d", int64(time.Until(dl)))}, nil
		}
	}})
	conn := dialRaw(t, path)
	id := streamID(1)
	for _, tc := range []struct {
		name    string
		timeout *int64 // nil: field absent
		check   func(got string) bool
	}{
		{"absent", nil, func(g string) bool { return g == "none" }},
		{"0", ptr(0), func(g string) bool { return g == "none" }},
		{"1ns", ptr(1), func(g string) bool { return strings.HasPrefix(g, "expired:") || g == "left:0" }},
		{"-1ns", ptr(-1), func(g string) bool { return g == "expired:"+context.DeadlineExceeded.Error() }},
		{"-1s", ptr(-int64(time.Second)), func(g string) bool { return g == "expired:"+context.DeadlineExceeded.Error() }},
		{"captured -19033098", ptr(-19033098), func(g string) bool { return g == "expired:"+context.DeadlineExceeded.Error() }},
		{"MinInt64", ptr(math.MinInt64), func(g string) bool { return g == "expired:"+context.DeadlineExceeded.Error() }},
		{"MaxInt64", ptr(math.MaxInt64), func(g string) bool {
			var left int64
			_, err := fmt.Sscanf(g, "left:%d", &left)
			return err == nil && time.Duration(left) > 50*365*24*time.Hour
		}},
		{"5s", ptr(int64(5 * time.Second)), func(g string) bool {
			var left int64
			_, err := fmt.Sscanf(g, "left:%d", &left)
			return err == nil && left > 0 && time.Duration(left) <= 5*time.Second
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := wire.AppendString(nil, 1, testService)
			b = wire.AppendString(b, 2, "Deadline")
			if tc.timeout != nil {
				b = wire.AppendTag(b, 4, wire.TypeVarint)
				b = wire.AppendVarint(b, uint64(*tc.timeout))
			}
			writeFrame(t, conn, uint32(id), messageTypeRequest, 0, b)
			h, data := readFrame(t, conn)
			if h.StreamID != id || h.Type != messageTypeResponse {
				t.Fatalf("reply header %+v", h)
			}
			id += 2
			var r Response
			if err := r.Unmarshal(data); err != nil {
				t.Fatal(err)
			}
			if r.Status != nil && r.Status.Code != 0 {
				t.Fatalf("status %v", r.Status)
			}
			var got types.StringValue
			if err := got.Unmarshal(r.Payload); err != nil {
				t.Fatal(err)
			}
			if !tc.check(got.Value) {
				t.Fatalf("handler saw %q", got.Value)
			}
		})
	}
}

func ptr(v int64) *int64 { return &v }

// TestNewClientNil: a client made on a nil conn starts no goroutine that
// could crash; its calls fail at once with an error that wraps ErrClosed and
// names the mistake, and its on-close function runs.
func TestNewClientNil(t *testing.T) {
	checkLeaks(t)
	closed := make(chan struct{})
	c := NewClient(nil, WithOnClose(func() { close(closed) }))
	err := c.Call(testCtx(t), testService, "M", &types.Empty{}, &types.Empty{})
	if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "nil net.Conn") {
		t.Fatalf("Call on NewClient(nil): %v", err)
	}
	if _, err := c.NewStream(testCtx(t), &StreamDesc{}, testService, "M", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewStream on NewClient(nil): %v", err)
	}
	if err := c.UserOnCloseWait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitDone(t, closed, "on-close function")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRegisterRefusesNil: registering a nil Method or stream handler panics
// at once, naming it, rather than failing (or panicking a connection's
// goroutine) at the first call.
func TestRegisterRefusesNil(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(fmt.Sprint(r), what) {
				t.Fatalf("recovered %v, want a panic naming %q", r, what)
			}
		}()
		f()
	}
	mustPanic(`"Create"`, func() { s.Register("a", map[string]Method{"Create": nil}) })
	mustPanic(`"Watch"`, func() {
		s.RegisterService("b", &ServiceDesc{Streams: map[string]Stream{"Watch": {StreamingServer: true}}})
	})
	mustPanic(`"c"`, func() { s.RegisterService("c", nil) })
	mustPanic(`"Both"`, func() {
		s.RegisterService("d", &ServiceDesc{
			Methods: map[string]Method{"Both": echoMethod},
			Streams: map[string]Stream{"Both": {Handler: func(context.Context, StreamServer) (interface{}, error) { return nil, nil }}},
		})
	})
	// A refused registration leaves the name free.
	s.Register("a", map[string]Method{"Create": echoMethod})
}

// TestCallRefusesBadResp: a resp nothing can be decoded into is refused
// before the request is sent, so the server never runs the method.
func TestCallRefusesBadResp(t *testing.T) {
	checkLeaks(t)
	var ran atomic.Int32
	_, path := startServer(t, map[string]Method{"Count": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		ran.Add(1)
		return &types.Empty{}, nil
	}})
	c := dial(t, path)
	for _, resp := range []interface{}{nil, types.Empty{}, (*types.Empty)(nil), "text"} {
		err := c.Call(testCtx(t), testService, "Count", &types.Empty{}, resp)
		if err == nil || !strings.Contains(err.Error(), "non-nil pointer") {
			t.Fatalf("resp %#v: %v", resp, err)
		}
	}
	if err := c.Call(testCtx(t), testService, "Count", &types.Empty{}, &types.Empty{}); err != nil {
		t.Fatal(err)
	}
	if n := ran.Load(); n != 1 {
		t.Fatalf("method ran %d times, want 1 (the refused calls must not be sent)", n)
	}
}

// TestWrappedStatusOverTheWire: the example, end to end.
func TestWrappedStatusOverTheWire(t *testing.T) {
	checkLeaks(t)
	detailed, _ := status.New(codes.NotFound, "x").WithDetails(&types.StringValue{Value: "d"})
	_, path := startServer(t, map[string]Method{
		"Plain": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			return nil, fmt.Errorf("create: %w", status.Error(codes.NotFound, "x"))
		},
		"Detailed": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			return nil, fmt.Errorf("create %s: %w", "c1", detailed.Err())
		},
	})
	c := dial(t, path)
	err := c.Call(testCtx(t), testService, "Plain", &types.Empty{}, &types.Empty{})
	assertCode(t, err, codes.NotFound, "create: x")
	err = c.Call(testCtx(t), testService, "Detailed", &types.Empty{}, &types.Empty{})
	assertCode(t, err, codes.NotFound, "create c1: x")
	if d := status.Convert(err).Details(); len(d) != 1 {
		t.Fatalf("details %v", d)
	}
}
