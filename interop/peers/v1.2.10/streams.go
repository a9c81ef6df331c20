// Streams: the 1.2 line's streaming API, served and called by this copy only
// (v1.0.2 has no streams). init adds the streams to the test service, the
// generated service of gen.go to the server, and the stream scenarios to the
// scenarios map; main.go is otherwise the same as ../v1.0.2/main.go.
//
// The service's streams (the interop tests' server has the same ones):
//
//	Count(StringValue "N SIZE [event]") stream BytesValue
//	    server stream: N messages, message i = "i:" + SIZE pattern bytes, then
//	    a clean end. An empty request means "3 0". With "event", prints
//	    "count-start" (Value: the request as seen) and "count-done" events.
//	Upload(stream BytesValue) StringValue
//	    client stream: returns "MSGS:LEN:SHA256HEX" of the concatenation.
//	Chat(stream BytesValue) stream BytesValue
//	    bidi: echoes each message; a message "fail" ends the stream with
//	    NOT_FOUND "chat failed after N" (N messages echoed before) and the
//	    details of Fail. Clean end when the client closes its side.
//	FailAfter(StringValue "N") stream BytesValue
//	    N messages as Count's (SIZE 8), then NOT_FOUND "failed after N" with
//	    the details of Fail.
//	Meta(StringValue) stream StringValue
//	    one message: the JSON EchoReply of Echo (metadata, time left), then a
//	    clean end.
//	Ticker(StringValue "N INTERVAL") stream BytesValue
//	    a message (as Count's, SIZE 8) every INTERVAL until N are sent, SendMsg
//	    fails or the context ends. Prints "ticker-start" and "ticker-end"
//	    (Value: why it ended, Calls: messages sent).
//	Sink(stream BytesValue) StringValue
//	    client stream that prints "sink-start" and "sink-end" (Value: why
//	    it ended, Calls: messages received), and returns the count.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func init() {
	registerService = func(s *ttrpc.Server) {
		s.RegisterService(serviceName, &ttrpc.ServiceDesc{Methods: methods(), Streams: streams()})
		registerGen(s) // gen.go
	}
	for name, sc := range map[string]scenario{
		"stream-server": scenarioStreamServer,
		"stream-client": scenarioStreamClient,
		"stream-bidi":   scenarioStreamBidi,
		"stream-fail":   scenarioStreamFail,
		"stream-meta":   scenarioStreamMeta,
		"stream-slow":   scenarioStreamSlow,
		"stream-cancel": scenarioStreamCancel,
		"stream-mixed":  scenarioStreamMixed,
	} {
		scenarios[name] = sc
	}
}

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

// failStatus is the error of FailAfter and Chat: NOT_FOUND msg with Fail's
// details.
func failStatus(msg string) error {
	st, err := status.New(codes.NotFound, msg).WithDetails(
		str("detail:"+msg),
		byts([]byte{0x00, 0x01, 0xfe, 0xff}),
	)
	if err != nil {
		return err
	}
	return st.Err()
}

func streams() map[string]ttrpc.Stream {
	return map[string]ttrpc.Stream{
		"Count": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (any, error) {
			var in strMsg
			if err := ss.RecvMsg(&in); err != nil {
				out.emit(Result{Event: "count-recv-error", Err: err.Error()})
				return nil, err
			}
			n, size, event := 3, 0, false
			if in.Value != "" {
				f := strings.Fields(in.Value)
				if len(f) < 2 {
					return nil, status.Errorf(codes.InvalidArgument, "bad Count request %q", in.Value)
				}
				var err1, err2 error
				n, err1 = strconv.Atoi(f[0])
				size, err2 = strconv.Atoi(f[1])
				if err1 != nil || err2 != nil {
					return nil, status.Errorf(codes.InvalidArgument, "bad Count request %q", in.Value)
				}
				event = len(f) > 2 && f[2] == "event"
			}
			if event {
				out.emit(Result{Event: "count-start", OK: true, Value: in.Value})
			}
			start := time.Now()
			for i := 0; i < n; i++ {
				if err := ss.SendMsg(byts(countMsg(i, size))); err != nil {
					if event {
						out.emit(Result{Event: "count-done", Calls: i, Err: err.Error(), ElapsedMS: ms(time.Since(start))})
					}
					return nil, err
				}
			}
			if event {
				out.emit(Result{Event: "count-done", OK: true, Calls: n, ElapsedMS: ms(time.Since(start))})
			}
			return nil, nil
		}},
		"Upload": {StreamingClient: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (any, error) {
			h := sha256.New()
			msgs, n := 0, 0
			for {
				var m bytesMsg
				err := ss.RecvMsg(&m)
				if err == io.EOF {
					return str(fmt.Sprintf("%d:%d:%x", msgs, n, h.Sum(nil))), nil
				}
				if err != nil {
					return nil, err
				}
				h.Write(m.Value)
				msgs++
				n += len(m.Value)
			}
		}},
		"Chat": {StreamingClient: true, StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (any, error) {
			for n := 0; ; n++ {
				var m bytesMsg
				err := ss.RecvMsg(&m)
				if err == io.EOF {
					return nil, nil
				}
				if err != nil {
					return nil, err
				}
				if string(m.Value) == "fail" {
					return nil, failStatus(fmt.Sprintf("chat failed after %d", n))
				}
				if err := ss.SendMsg(&m); err != nil {
					return nil, err
				}
			}
		}},
		"FailAfter": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (any, error) {
			var in strMsg
			if err := ss.RecvMsg(&in); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(in.Value)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "bad FailAfter request %q", in.Value)
			}
			for i := 0; i < n; i++ {
				if err := ss.SendMsg(byts(countMsg(i, 8))); err != nil {
					return nil, err
				}
			}
			return nil, failStatus(fmt.Sprintf("failed after %d", n))
		}},
		"Meta": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (any, error) {
			var in strMsg
			if err := ss.RecvMsg(&in); err != nil {
				return nil, err
			}
			r := EchoReply{Value: in.Value, DeadlineNS: -1}
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
			return nil, ss.SendMsg(str(string(b)))
		}},
		"Ticker": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (any, error) {
			var in strMsg
			if err := ss.RecvMsg(&in); err != nil {
				return nil, err
			}
			var (
				n        int
				interval time.Duration
			)
			if f := strings.Fields(in.Value); len(f) == 2 {
				n, _ = strconv.Atoi(f[0])
				interval, _ = time.ParseDuration(f[1])
			}
			if n <= 0 || interval <= 0 {
				return nil, status.Errorf(codes.InvalidArgument, "bad Ticker request %q", in.Value)
			}
			out.emit(Result{Event: "ticker-start", OK: true, Value: in.Value})
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
				case <-tick.C:
				}
				if err = ss.SendMsg(byts(countMsg(sent, 8))); err != nil {
					why = "send: " + err.Error()
					break
				}
				sent++
			}
			out.emit(Result{Event: "ticker-end", OK: true, Value: why, Calls: sent})
			return nil, err
		}},
		"Sink": {StreamingClient: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (any, error) {
			out.emit(Result{Event: "sink-start", OK: true})
			for n := 0; ; n++ {
				var m bytesMsg
				err := ss.RecvMsg(&m)
				if err == io.EOF {
					out.emit(Result{Event: "sink-end", OK: true, Value: "EOF", Calls: n})
					return str(strconv.Itoa(n)), nil
				}
				if err != nil {
					out.emit(Result{Event: "sink-end", OK: true, Value: "recv: " + err.Error(), Calls: n})
					return nil, err
				}
			}
		}},
	}
}

// ---- stream client scenarios ----

// StreamResult is the output line of a stream step: Result's fields, and
// what the stream delivered.
type StreamResult struct {
	Result
	Msgs int    `json:"msgs"`          // messages received
	Bad  string `json:"bad,omitempty"` // the first message that was not the one expected
	EOF  bool   `json:"eof,omitempty"` // the end was io.EOF
	// Again describes a further RecvMsg after the end; SendAfter a SendMsg
	// after it (streams that send).
	Again     *Result `json:"again,omitempty"`
	SendAfter *Result `json:"send_after,omitempty"`
}

func (r StreamResult) emit() {
	out.mu.Lock()
	defer out.mu.Unlock()
	_ = out.enc.Encode(r)
}

// describeEnd fills r's Result with the error that ended a stream.
func describeEnd(r *StreamResult, err error, elapsed time.Duration) {
	describe(&r.Result, err, elapsed)
	r.EOF = errors.Is(err, io.EOF)
}

func describeErr(step string, err error) *Result {
	r := &Result{Step: step}
	describe(r, err, 0)
	return r
}

// blockedFor bounds the calls that may block: a RecvMsg after a stream's
// error (the 1.2 line's client then waits until the connection closes).
const blockedFor = 300 * time.Millisecond

// bounded describes f's error as step, or reports ErrType "blocked" if f
// has not returned within blockedFor (it is left running).
func bounded(step string, f func() error) *Result {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return describeErr(step, err)
	case <-time.After(blockedFor):
		return &Result{Step: step, Err: fmt.Sprintf("no return within %v", blockedFor), ErrType: "blocked"}
	}
}

var (
	serverDesc = &ttrpc.StreamDesc{StreamingServer: true}
	clientDesc = &ttrpc.StreamDesc{StreamingClient: true}
	bidiDesc   = &ttrpc.StreamDesc{StreamingClient: true, StreamingServer: true}
)

// readCount reads Count-style messages of size until an error, and returns
// the end's description.
func readCount(s ttrpc.ClientStream, r *StreamResult, size int, start time.Time) error {
	for {
		var m bytesMsg
		err := s.RecvMsg(&m)
		if err != nil {
			describeEnd(r, err, time.Since(start))
			return err
		}
		if r.Bad == "" {
			if cerr := checkCount(m.Value, r.Msgs, size); cerr != nil {
				r.Bad = cerr.Error()
			}
		}
		r.Msgs++
	}
}

// countStream runs one Count stream with request req (nil: none) and
// reports it as step; want is the number of messages expected of size.
func (e *env) countStream(ctx context.Context, step string, req any, want, size int) error {
	start := time.Now()
	r := StreamResult{Result: Result{Step: step}}
	s, err := e.client.NewStream(ctx, serverDesc, serviceName, "Count", req)
	if err != nil {
		describeEnd(&r, err, time.Since(start))
		r.emit()
		return nil
	}
	readCount(s, &r, size, start)
	r.Again = bounded("again", func() error { return s.RecvMsg(&bytesMsg{}) })
	r.emit()
	if r.Bad != "" {
		return fmt.Errorf("%s: %s", step, r.Bad)
	}
	if r.EOF && r.Msgs != want {
		return fmt.Errorf("%s: %d messages, want %d", step, r.Msgs, want)
	}
	return nil
}

func twoInts(args []string, a, b int) (int, int, error) {
	var err error
	if len(args) > 0 {
		if a, err = strconv.Atoi(args[0]); err != nil {
			return 0, 0, err
		}
	}
	if len(args) > 1 {
		if b, err = strconv.Atoi(args[1]); err != nil {
			return 0, 0, err
		}
	}
	return a, b, nil
}

// scenarioStreamServer N SIZE: steps "server-stream" (Count N SIZE),
// "server-stream-empty" (an empty StringValue: 3 messages) and
// "server-stream-nil" (no request message).
func scenarioStreamServer(e *env, args []string) error {
	n, size, err := twoInts(args, 100, 1000)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.countStream(ctx, "server-stream", str(fmt.Sprintf("%d %d", n, size)), n, size); err != nil {
		return err
	}
	if err := e.countStream(ctx, "server-stream-empty", &strMsg{}, 3, 0); err != nil {
		return err
	}
	return e.countStream(ctx, "server-stream-nil", nil, 3, 0)
}

// uploadPayload is message i of the client-stream scenarios.
func uploadPayload(i int) []byte { return pattern((i * 37) % 1500) }

// scenarioStreamClient N: step "client-stream": Upload of N messages,
// CloseSend, the response (Value), then Again and SendAfter.
func scenarioStreamClient(e *env, args []string) error {
	n, _, err := twoInts(args, 200, 0)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	r := StreamResult{Result: Result{Step: "client-stream"}}
	s, err := e.client.NewStream(ctx, clientDesc, serviceName, "Upload", nil)
	if err != nil {
		describeEnd(&r, err, time.Since(start))
		r.emit()
		return err
	}
	h := sha256.New()
	total := 0
	for i := 0; i < n; i++ {
		b := uploadPayload(i)
		h.Write(b)
		total += len(b)
		if err := s.SendMsg(byts(b)); err != nil {
			describeEnd(&r, err, time.Since(start))
			r.emit()
			return err
		}
	}
	if err := s.CloseSend(); err != nil {
		describeEnd(&r, err, time.Since(start))
		r.emit()
		return err
	}
	var resp strMsg
	err = s.RecvMsg(&resp)
	describeEnd(&r, err, time.Since(start))
	r.Value = resp.Value
	r.Again = bounded("again", func() error { return s.RecvMsg(&strMsg{}) })
	r.SendAfter = bounded("send-after", func() error { return s.SendMsg(byts([]byte("late"))) })
	r.emit()
	if want := fmt.Sprintf("%d:%d:%x", n, total, h.Sum(nil)); err == nil && resp.Value != want {
		return fmt.Errorf("client-stream: response %q, want %q", resp.Value, want)
	}
	return nil
}

// scenarioStreamBidi N: step "bidi": Chat with N messages sent by one
// goroutine while this one receives; then CloseSend, the end, Again.
// Step "bidi-lockstep": N messages, each received before the next is sent.
func scenarioStreamBidi(e *env, args []string) error {
	n, _, err := twoInts(args, 200, 0)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, lockstep := range []bool{false, true} {
		step := "bidi"
		if lockstep {
			step = "bidi-lockstep"
		}
		start := time.Now()
		r := StreamResult{Result: Result{Step: step}}
		s, err := e.client.NewStream(ctx, bidiDesc, serviceName, "Chat", nil)
		if err != nil {
			describeEnd(&r, err, time.Since(start))
			r.emit()
			return err
		}
		sendErr := make(chan error, 1)
		send := func(i int) error { return s.SendMsg(byts(uploadPayload(i))) }
		if !lockstep {
			go func() {
				for i := 0; i < n; i++ {
					if err := send(i); err != nil {
						sendErr <- err
						return
					}
				}
				sendErr <- s.CloseSend()
			}()
		}
		for r.Msgs < n {
			if lockstep {
				if err := send(r.Msgs); err != nil {
					describeEnd(&r, err, time.Since(start))
					break
				}
			}
			var m bytesMsg
			if err := s.RecvMsg(&m); err != nil {
				describeEnd(&r, err, time.Since(start))
				break
			}
			if r.Bad == "" && string(m.Value) != string(uploadPayload(r.Msgs)) {
				r.Bad = fmt.Sprintf("message %d: %d bytes, want %d", r.Msgs, len(m.Value), len(uploadPayload(r.Msgs)))
			}
			r.Msgs++
		}
		if r.Msgs == n {
			if lockstep {
				s.CloseSend()
			} else if err := <-sendErr; err != nil {
				describeEnd(&r, err, time.Since(start))
				r.emit()
				return fmt.Errorf("%s: sending: %v", step, err)
			}
			describeEnd(&r, s.RecvMsg(&bytesMsg{}), time.Since(start))
			r.Again = bounded("again", func() error { return s.RecvMsg(&bytesMsg{}) })
		}
		r.emit()
		if r.Bad != "" {
			return fmt.Errorf("%s: %s", step, r.Bad)
		}
	}
	return nil
}

// scenarioStreamFail N: step "fail-after": FailAfter N (messages, the
// error, Again). Step "bidi-fail": Chat "a", "b", "fail": two echoes, then
// the error, Again and SendAfter. Then a Ping ("ping-after").
func scenarioStreamFail(e *env, args []string) error {
	n, _, err := twoInts(args, 5, 0)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	r := StreamResult{Result: Result{Step: "fail-after"}}
	s, err := e.client.NewStream(ctx, serverDesc, serviceName, "FailAfter", str(strconv.Itoa(n)))
	if err != nil {
		describeEnd(&r, err, time.Since(start))
		r.emit()
		return err
	}
	readCount(s, &r, 8, start)
	r.Again = bounded("again", func() error { return s.RecvMsg(&bytesMsg{}) })
	r.emit()

	start = time.Now()
	r = StreamResult{Result: Result{Step: "bidi-fail"}}
	s, err = e.client.NewStream(ctx, bidiDesc, serviceName, "Chat", nil)
	if err != nil {
		describeEnd(&r, err, time.Since(start))
		r.emit()
		return err
	}
	for _, v := range []string{"a", "b", "fail"} {
		if err := s.SendMsg(byts([]byte(v))); err != nil {
			describeEnd(&r, err, time.Since(start))
			break
		}
		var m bytesMsg
		if err := s.RecvMsg(&m); err != nil {
			describeEnd(&r, err, time.Since(start))
			break
		}
		if string(m.Value) != v && r.Bad == "" {
			r.Bad = fmt.Sprintf("echo %q of %q", m.Value, v)
		}
		r.Msgs++
	}
	r.Again = bounded("again", func() error { return s.RecvMsg(&bytesMsg{}) })
	r.SendAfter = bounded("send-after", func() error { return s.SendMsg(byts([]byte("late"))) })
	r.emit()
	var resp strMsg
	pr, _ := e.call(ctx, "ping-after", serviceName, "Ping", str("after"), &resp)
	out.emit(pr)
	return nil
}

// scenarioStreamMeta MDJSON: step "stream-md": Meta under the metadata and
// a 5s deadline; step "stream-no-md": Meta with neither. Each reports the
// EchoReply its handler saw.
func scenarioStreamMeta(e *env, args []string) error {
	if len(args) != 1 {
		return errors.New("stream-meta: want one JSON argument")
	}
	var md ttrpc.MD
	if err := json.Unmarshal([]byte(args[0]), &md); err != nil {
		return err
	}
	for _, withMD := range []bool{true, false} {
		step, ctx, cancel := "stream-no-md", context.Background(), context.CancelFunc(func() {})
		if withMD {
			step = "stream-md"
			ctx, cancel = context.WithTimeout(ttrpc.WithMetadata(ctx, md), 5*time.Second)
		}
		start := time.Now()
		r := StreamResult{Result: Result{Step: step}}
		s, err := e.client.NewStream(ctx, serverDesc, serviceName, "Meta", str(step))
		if err != nil {
			cancel()
			describeEnd(&r, err, time.Since(start))
			r.emit()
			return err
		}
		var m strMsg
		err = s.RecvMsg(&m)
		if err == nil {
			var er EchoReply
			if jerr := json.Unmarshal([]byte(m.Value), &er); jerr != nil {
				cancel()
				return fmt.Errorf("%s: bad reply %q: %w", step, m.Value, jerr)
			}
			r.Echo = &er
			r.Msgs = 1
			err = s.RecvMsg(&strMsg{})
		}
		describeEnd(&r, err, time.Since(start))
		cancel()
		r.emit()
	}
	return nil
}

// scenarioStreamSlow N SIZE: opens Count N SIZE and reports "stream-opened";
// waits; then reads it all (step "slow-read"), and makes a Ping
// ("ping-after") and a Count 3 0 ("stream-after") on the same connection.
func scenarioStreamSlow(e *env, args []string) error {
	n, size, err := twoInts(args, 1000, 1024)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	r := StreamResult{Result: Result{Step: "slow-read"}}
	s, err := e.client.NewStream(ctx, serverDesc, serviceName, "Count", str(fmt.Sprintf("%d %d event", n, size)))
	if err != nil {
		describeEnd(&r, err, time.Since(start))
		r.emit()
		return err
	}
	out.emit(Result{Event: "stream-opened", OK: true})
	if err := e.wait("read"); err != nil {
		return err
	}
	readCount(s, &r, size, start)
	r.Again = bounded("again", func() error { return s.RecvMsg(&bytesMsg{}) })
	r.emit()
	var resp strMsg
	pr, _ := e.call(ctx, "ping-after", serviceName, "Ping", str("after"), &resp)
	out.emit(pr)
	return e.countStream(ctx, "stream-after", str("3 0"), 3, 0)
}

// scenarioStreamCancel: opens Ticker "200 5ms", reads 3 messages, cancels
// its context and reads until an error (step "cancelled": Msgs counts all
// messages, the 3 included); then Ping ("ping-after") and Count 5 10
// ("stream-after"); waits; then Ping again ("ping-last").
func scenarioStreamCancel(e *env, args []string) error {
	base, cancelAll := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelAll()
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	start := time.Now()
	r := StreamResult{Result: Result{Step: "cancelled"}}
	s, err := e.client.NewStream(ctx, serverDesc, serviceName, "Ticker", str("200 5ms"))
	if err != nil {
		describeEnd(&r, err, time.Since(start))
		r.emit()
		return err
	}
	for r.Msgs < 3 {
		var m bytesMsg
		if err := s.RecvMsg(&m); err != nil {
			describeEnd(&r, err, time.Since(start))
			r.emit()
			return fmt.Errorf("before cancelling: %v", err)
		}
		r.Msgs++
	}
	cancel()
	readCount(s, &r, 8, start)
	r.Again = bounded("again", func() error { return s.RecvMsg(&bytesMsg{}) })
	r.emit()
	var resp strMsg
	pr, _ := e.call(base, "ping-after", serviceName, "Ping", str("after"), &resp)
	out.emit(pr)
	if err := e.countStream(base, "stream-after", str("5 10"), 5, 10); err != nil {
		return err
	}
	if err := e.wait("last"); err != nil {
		return err
	}
	pr, _ = e.call(base, "ping-last", serviceName, "Ping", str("last"), &resp)
	out.emit(pr)
	return nil
}

// mixedOne is iteration j of goroutine i of the mixed scenario: a Ping, and
// a stream of kind (i+j)%3 (Count, Upload, Chat) of a few messages.
func mixedOne(ctx context.Context, c *ttrpc.Client, i, j int) error {
	want := fmt.Sprintf("%d/%d", i, j)
	var resp strMsg
	if err := c.Call(ctx, serviceName, "Ping", str(want), &resp); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if resp.Value != want {
		return fmt.Errorf("ping: reply %q to %q", resp.Value, want)
	}
	const msgs = 4
	switch (i + j) % 3 {
	case 0:
		s, err := c.NewStream(ctx, serverDesc, serviceName, "Count", str(fmt.Sprintf("%d 16", msgs)))
		if err != nil {
			return fmt.Errorf("count: %w", err)
		}
		for k := 0; ; k++ {
			var m bytesMsg
			err := s.RecvMsg(&m)
			if err == io.EOF && k == msgs {
				return nil
			}
			if err != nil {
				return fmt.Errorf("count: after %d messages: %w", k, err)
			}
			if err := checkCount(m.Value, k, 16); err != nil {
				return fmt.Errorf("count: %w", err)
			}
		}
	case 1:
		s, err := c.NewStream(ctx, clientDesc, serviceName, "Upload", nil)
		if err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		h := sha256.New()
		total := 0
		for k := 0; k < msgs; k++ {
			b := []byte(fmt.Sprintf("%s/%d", want, k))
			h.Write(b)
			total += len(b)
			if err := s.SendMsg(byts(b)); err != nil {
				return fmt.Errorf("upload: send: %w", err)
			}
		}
		if err := s.CloseSend(); err != nil {
			return fmt.Errorf("upload: CloseSend: %w", err)
		}
		var resp strMsg
		if err := s.RecvMsg(&resp); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		if w := fmt.Sprintf("%d:%d:%x", msgs, total, h.Sum(nil)); resp.Value != w {
			return fmt.Errorf("upload: reply %q, want %q", resp.Value, w)
		}
		return nil
	default:
		s, err := c.NewStream(ctx, bidiDesc, serviceName, "Chat", nil)
		if err != nil {
			return fmt.Errorf("chat: %w", err)
		}
		for k := 0; k < msgs; k++ {
			b := []byte(fmt.Sprintf("%s/%d", want, k))
			if err := s.SendMsg(byts(b)); err != nil {
				return fmt.Errorf("chat: send: %w", err)
			}
			var m bytesMsg
			if err := s.RecvMsg(&m); err != nil {
				return fmt.Errorf("chat: %w", err)
			}
			if !reflect.DeepEqual(m.Value, b) {
				return fmt.Errorf("chat: echo %q of %q", m.Value, b)
			}
		}
		if err := s.CloseSend(); err != nil {
			return fmt.Errorf("chat: CloseSend: %w", err)
		}
		if err := s.RecvMsg(&bytesMsg{}); err != io.EOF {
			return fmt.Errorf("chat: end: %v, want EOF", err)
		}
		return nil
	}
}

// scenarioStreamMixed G N: G goroutines each run N iterations of a Ping and
// a stream (mixedOne) on the one client; step "mixed" counts the failures.
func scenarioStreamMixed(e *env, args []string) error {
	g, n, err := twoInts(args, 16, 30)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		mu     sync.Mutex
		failed int
		errs   = map[string]int{}
		wg     sync.WaitGroup
	)
	start := time.Now()
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n; j++ {
				if err := mixedOne(ctx, e.client, i, j); err != nil {
					mu.Lock()
					failed++
					errs[err.Error()]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	r := Result{Step: "mixed", OK: failed == 0, Calls: g * n, Failed: failed, ElapsedMS: ms(time.Since(start))}
	if len(errs) > 0 {
		r.Errors = errs
	}
	out.emit(r)
	if failed > 0 {
		return fmt.Errorf("%d of %d iterations failed", failed, g*n)
	}
	return nil
}
