package interop

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// This file is our side of the test service's streams, the same as
// peers/v1.2.10/streams.go serves (its package comment describes them):
// Count, Upload, Chat, FailAfter, Meta, Ticker and Sink. Events that the
// peer prints (count-start, count-done, ticker-start, ticker-end,
// sink-start, sink-end) go to ourService.events here, as Results with the
// same fields.

var (
	serverDesc = &ttrpc.StreamDesc{StreamingServer: true}
	clientDesc = &ttrpc.StreamDesc{StreamingClient: true}
	bidiDesc   = &ttrpc.StreamDesc{StreamingClient: true, StreamingServer: true}
)

// countMsg is message i of Count, FailAfter and Ticker.
func countMsg(i, size int) []byte {
	return append([]byte(strconv.Itoa(i)+":"), pattern(size)...)
}

// checkCount reports whether b is countMsg(i, size).
func checkCount(b []byte, i, size int) error {
	if want := countMsg(i, size); string(b) != string(want) {
		return fmt.Errorf("message %d: got %d bytes %.12q, want %d bytes %.12q", i, len(b), b, len(want), want)
	}
	return nil
}

// uploadPayload is message i of the client and bidi stream scenarios.
func uploadPayload(i int) []byte { return pattern((i * 37) % 1500) }

// uploadReply is what Upload answers for msgs messages.
func uploadReply(msgs [][]byte) string {
	h := sha256.New()
	n := 0
	for _, m := range msgs {
		h.Write(m)
		n += len(m)
	}
	return fmt.Sprintf("%d:%d:%x", len(msgs), n, h.Sum(nil))
}

// failStatus is the error of FailAfter and Chat: NOT_FOUND msg with the
// details of Fail.
func failStatus(msg string) error {
	st, err := status.New(codes.NotFound, msg).WithDetails(
		wrapperspb.String("detail:"+msg),
		wrapperspb.Bytes([]byte{0x00, 0x01, 0xfe, 0xff}),
	)
	if err != nil {
		return err
	}
	return st.Err()
}

// event reports a stream handler's event without ever blocking it.
func (s *ourService) event(r Result) {
	select {
	case s.events <- r:
	default:
	}
}

func (s *ourService) streams() map[string]ttrpc.Stream {
	k := s.k
	return map[string]ttrpc.Stream{
		"Count": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
			in := k.newStr()
			if err := ss.RecvMsg(in); err != nil {
				s.event(Result{Event: "count-recv-error", Err: err.Error()})
				return nil, err
			}
			n, size, event := 3, 0, false
			if v := k.strOf(in); v != "" {
				f := strings.Fields(v)
				var err1, err2 error = errors.New("short"), nil
				if len(f) >= 2 {
					n, err1 = strconv.Atoi(f[0])
					size, err2 = strconv.Atoi(f[1])
				}
				if err1 != nil || err2 != nil {
					return nil, status.Errorf(codes.InvalidArgument, "bad Count request %q", v)
				}
				event = len(f) > 2 && f[2] == "event"
			}
			if event {
				s.event(Result{Event: "count-start", OK: true, Value: k.strOf(in)})
			}
			start := time.Now()
			for i := 0; i < n; i++ {
				if err := ss.SendMsg(k.bytes(countMsg(i, size))); err != nil {
					if event {
						s.event(Result{Event: "count-done", Calls: i, Err: err.Error(), ElapsedMS: ms(time.Since(start))})
					}
					return nil, err
				}
			}
			if event {
				s.event(Result{Event: "count-done", OK: true, Calls: n, ElapsedMS: ms(time.Since(start))})
			}
			return nil, nil
		}},
		"Upload": {StreamingClient: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
			var msgs [][]byte
			for {
				m := k.newBytes()
				err := ss.RecvMsg(m)
				if err == io.EOF {
					return k.str(uploadReply(msgs)), nil
				}
				if err != nil {
					return nil, err
				}
				msgs = append(msgs, k.bytesOf(m))
			}
		}},
		"Chat": {StreamingClient: true, StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
			for n := 0; ; n++ {
				m := k.newBytes()
				err := ss.RecvMsg(m)
				if err == io.EOF {
					return nil, nil
				}
				if err != nil {
					return nil, err
				}
				if string(k.bytesOf(m)) == "fail" {
					return nil, failStatus(fmt.Sprintf("chat failed after %d", n))
				}
				if err := ss.SendMsg(m); err != nil {
					return nil, err
				}
			}
		}},
		"FailAfter": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
			in := k.newStr()
			if err := ss.RecvMsg(in); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(k.strOf(in))
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "bad FailAfter request %q", k.strOf(in))
			}
			for i := 0; i < n; i++ {
				if err := ss.SendMsg(k.bytes(countMsg(i, 8))); err != nil {
					return nil, err
				}
			}
			return nil, failStatus(fmt.Sprintf("failed after %d", n))
		}},
		"Meta": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
			in := k.newStr()
			if err := ss.RecvMsg(in); err != nil {
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
			return nil, ss.SendMsg(k.str(string(b)))
		}},
		"Ticker": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
			in := k.newStr()
			if err := ss.RecvMsg(in); err != nil {
				return nil, err
			}
			var (
				n        int
				interval time.Duration
			)
			if f := strings.Fields(k.strOf(in)); len(f) == 2 {
				n, _ = strconv.Atoi(f[0])
				interval, _ = time.ParseDuration(f[1])
			}
			if n <= 0 || interval <= 0 {
				return nil, status.Errorf(codes.InvalidArgument, "bad Ticker request %q", k.strOf(in))
			}
			s.event(Result{Event: "ticker-start", OK: true, Value: k.strOf(in)})
			tick := time.NewTicker(interval)
			defer tick.Stop()
			sent := 0
			why, err := fmt.Sprintf("sent %d", n), error(nil)
		loop:
			for sent < n {
				select {
				case <-ctx.Done():
					why, err = "ctx: "+ctx.Err().Error(), ctx.Err()
					break loop
				case <-s.stop:
					why, err = "test over", errors.New("test over")
					break loop
				case <-tick.C:
				}
				if err = ss.SendMsg(k.bytes(countMsg(sent, 8))); err != nil {
					why = "send: " + err.Error()
					break
				}
				sent++
			}
			s.event(Result{Event: "ticker-end", OK: true, Value: why, Calls: sent})
			return nil, err
		}},
		"Sink": {StreamingClient: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
			s.event(Result{Event: "sink-start", OK: true})
			for n := 0; ; n++ {
				err := ss.RecvMsg(k.newBytes())
				if err == io.EOF {
					s.event(Result{Event: "sink-end", OK: true, Value: "EOF", Calls: n})
					return k.str(strconv.Itoa(n)), nil
				}
				if err != nil {
					s.event(Result{Event: "sink-end", OK: true, Value: "recv: " + err.Error(), Calls: n})
					return nil, err
				}
			}
		}},
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// waitEvent waits up to d for our server's stream handlers to report the
// event name, skipping others.
func (s *ourServer) waitEvent(t testingT, name string, d time.Duration) Result {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case r := <-s.svc.events:
			t.Logf("our server: %s", r)
			if r.Event == name {
				return r
			}
		case <-timer.C:
			t.Fatalf("our server: no %s event within %v", name, d)
			return Result{}
		}
	}
}

// testingT is the part of *testing.T the helpers use.
type testingT interface {
	Helper()
	Logf(format string, args ...interface{})
	Fatalf(format string, args ...interface{})
}
