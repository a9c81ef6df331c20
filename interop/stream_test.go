package interop

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// Streams (protocol 1.2) against the established v1.2.10, both directions:
// our client with its server, its client with our server. The service's
// streams are described in peers/v1.2.10/streams.go; our server has the same
// (stream_service_test.go). Where the established side behaves differently
// from ours, the tests assert what was measured (README.md, "Streams").

// streamVersions runs f for each established release that has streams.
func streamVersions(t *testing.T, f func(t *testing.T, v *peerVersion)) {
	for _, v := range peerVersions {
		if v.name == "v1.0.2" {
			continue // no streaming API
		}
		t.Run(v.name, func(t *testing.T) { f(t, v) })
	}
}

// StreamResult is a peer's line for a stream step (StreamResult in
// peers/v1.2.10/streams.go); the tests describe our client's streams with it
// too.
type StreamResult struct {
	Result
	Msgs      int     `json:"msgs"`
	Bad       string  `json:"bad,omitempty"`
	EOF       bool    `json:"eof,omitempty"`
	Again     *Result `json:"again,omitempty"`
	SendAfter *Result `json:"send_after,omitempty"`
}

func (r StreamResult) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// streamStep waits for the peer's line for that stream step.
func (p *peerProc) streamStep(name string, d time.Duration) StreamResult {
	p.t.Helper()
	l := p.step(name, d)
	var r StreamResult
	if err := json.Unmarshal([]byte(l.raw), &r); err != nil {
		p.t.Fatalf("peer %s: bad stream result %q: %v", p.what, l.raw, err)
	}
	return r
}

// pending returns the lines the peer has printed so far without waiting.
func (p *peerProc) pending() []line {
	var ls []line
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return ls
			}
			p.t.Logf("%s: %s", p.what, l.raw)
			ls = append(ls, l)
		default:
			return ls
		}
	}
}

// endOf describes err, the error that ended a stream, as step.
func endOf(step string, err error, elapsed time.Duration) StreamResult {
	r := StreamResult{Result: describe(step, err, elapsed)}
	r.EOF = errors.Is(err, io.EOF)
	return r
}

func resultOf(step string, err error) *Result {
	r := describe(step, err, 0)
	return &r
}

// ourReadCount reads Count-style messages of size from s until an error.
func ourReadCount(s ttrpc.ClientStream, k kit, size int) (msgs int, bad string, err error) {
	for {
		m := k.newBytes()
		if err := s.RecvMsg(m); err != nil {
			return msgs, bad, err
		}
		if bad == "" {
			if cerr := checkCount(k.bytesOf(m), msgs, size); cerr != nil {
				bad = cerr.Error()
			}
		}
		msgs++
	}
}

// ourCount runs a Count-style stream (method with request req) on our
// client, reads it to its end, and calls RecvMsg twice more.
func ourCount(t *testing.T, ctx context.Context, c *ttrpc.Client, k kit, step, method string, req interface{}, size int) StreamResult {
	t.Helper()
	start := time.Now()
	s, err := c.NewStream(ctx, serverDesc, serviceName, method, req)
	if err != nil {
		r := endOf(step, err, time.Since(start))
		t.Logf("our client: %s", r)
		return r
	}
	msgs, bad, err := ourReadCount(s, k, size)
	r := endOf(step, err, time.Since(start))
	r.Msgs, r.Bad = msgs, bad
	r.Again = resultOf("again", s.RecvMsg(k.newBytes()))
	if again2 := resultOf("again", s.RecvMsg(k.newBytes())); !reflect.DeepEqual(again2, r.Again) {
		t.Errorf("%s: RecvMsg after the end gave %s, then %s", step, r.Again, again2)
	}
	t.Logf("our client: %s", r)
	return r
}

// checkCleanEnd checks a stream that should have delivered want messages and
// ended with io.EOF; again says whether a RecvMsg after the end must give
// io.EOF too.
func checkCleanEnd(t *testing.T, r StreamResult, want int, again bool) {
	t.Helper()
	if r.Bad != "" {
		t.Errorf("%s: %s", r.Step, r.Bad)
	}
	if r.Msgs != want || !r.EOF {
		t.Errorf("%s: %d messages then %q (%s), want %d then io.EOF", r.Step, r.Msgs, r.Err, r.ErrType, want)
	}
	if again && (r.Again == nil || r.Again.Err != io.EOF.Error()) {
		t.Errorf("%s: RecvMsg after the end: %v, want io.EOF again", r.Step, r.Again)
	}
}

func streamCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ourPing makes a Ping with our client that must succeed.
func ourPing(t *testing.T, ctx context.Context, c *ttrpc.Client, k kit, step string) Result {
	t.Helper()
	resp := k.newStr()
	r := ourCall(ctx, c, step, serviceName, "Ping", k.str(step), resp)
	t.Logf("our client: %s", r)
	if !r.OK || k.strOf(resp) != step {
		t.Errorf("%s: Ping gave %s, reply %q", step, r, k.strOf(resp))
	}
	return r
}

func checkOK(t *testing.T, r Result) {
	t.Helper()
	if !r.OK {
		t.Errorf("%s: %s", r.Step, r)
	}
}

// a. Server streams: N messages then a clean end; a request that is an
// empty message (zero bytes on the wire), and no request message at all
// (nil), which the server's handler receives as an empty message too.
func TestStreamServerStreaming(t *testing.T) {
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx := streamCtx(t)
			checkCleanEnd(t, ourCount(t, ctx, c, k, "server-stream", "Count", k.str("100 1000"), 1000), 100, true)
			checkCleanEnd(t, ourCount(t, ctx, c, k, "server-stream-empty", "Count", k.newStr(), 0), 3, true)
			checkCleanEnd(t, ourCount(t, ctx, c, k, "server-stream-nil", "Count", nil, 0), 3, true)
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, k)
			p := startPeerClient(t, v, s.sock, "stream-server", "100", "1000")
			checkCleanEnd(t, p.streamStep("server-stream", 20*time.Second), 100, true)
			checkCleanEnd(t, p.streamStep("server-stream-empty", 10*time.Second), 3, true)
			checkCleanEnd(t, p.streamStep("server-stream-nil", 10*time.Second), 3, true)
			p.finish(10 * time.Second)
		})
	})
}

// b. Client streams: N messages, CloseSend, one response; then the end.
func TestStreamClientStreaming(t *testing.T) {
	const n = 200
	var sent [][]byte
	for i := 0; i < n; i++ {
		sent = append(sent, uploadPayload(i))
	}
	want := uploadReply(sent)
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			s, err := c.NewStream(streamCtx(t), clientDesc, serviceName, "Upload", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range sent {
				if err := s.SendMsg(k.bytes(b)); err != nil {
					t.Fatalf("SendMsg: %v", err)
				}
			}
			if err := s.CloseSend(); err != nil {
				t.Fatalf("CloseSend: %v", err)
			}
			resp := k.newStr()
			if err := s.RecvMsg(resp); err != nil {
				t.Fatalf("RecvMsg: %v", err)
			}
			if k.strOf(resp) != want {
				t.Errorf("upload answered %q, want %q", k.strOf(resp), want)
			}
			for i := 0; i < 2; i++ {
				if err := s.RecvMsg(k.newStr()); err != io.EOF {
					t.Errorf("RecvMsg after the response: %v, want io.EOF", err)
				}
			}
			if err := s.SendMsg(k.bytes([]byte("late"))); !errors.Is(err, ttrpc.ErrStreamClosed) {
				t.Errorf("SendMsg after the end: %v, want ErrStreamClosed", err)
			}
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, k)
			p := startPeerClient(t, v, s.sock, "stream-client", fmt.Sprint(n))
			r := p.streamStep("client-stream", 20*time.Second)
			if !r.OK || r.Value != want {
				t.Errorf("client-stream: %s, want the response %q", r, want)
			}
			// Measured: v1.2.10's client gives io.EOF after the
			// response, and ErrStreamClosed ("ttrpc: stream closed") to
			// a SendMsg after CloseSend, as ours.
			if r.Again == nil || r.Again.Err != io.EOF.Error() {
				t.Errorf("client-stream: RecvMsg after the response: %v, want io.EOF", r.Again)
			}
			if r.SendAfter == nil || r.SendAfter.Err != ttrpc.ErrStreamClosed.Error() {
				t.Errorf("client-stream: SendMsg after CloseSend: %v, want %q", r.SendAfter, ttrpc.ErrStreamClosed)
			}
			p.finish(10 * time.Second)
		})
	})
}

// c. Bidirectional echo: one goroutine sends while another receives, and
// in lockstep (each echo read before the next message is sent).
func TestStreamBidi(t *testing.T) {
	const n = 200
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx := streamCtx(t)
			for _, lockstep := range []bool{false, true} {
				s, err := c.NewStream(ctx, bidiDesc, serviceName, "Chat", nil)
				if err != nil {
					t.Fatal(err)
				}
				sendErr := make(chan error, 1)
				if !lockstep {
					go func() {
						for i := 0; i < n; i++ {
							if err := s.SendMsg(k.bytes(uploadPayload(i))); err != nil {
								sendErr <- err
								return
							}
						}
						sendErr <- s.CloseSend()
					}()
				}
				for i := 0; i < n; i++ {
					if lockstep {
						if err := s.SendMsg(k.bytes(uploadPayload(i))); err != nil {
							t.Fatalf("lockstep: SendMsg %d: %v", i, err)
						}
					}
					m := k.newBytes()
					if err := s.RecvMsg(m); err != nil {
						t.Fatalf("lockstep %v: RecvMsg %d: %v", lockstep, i, err)
					}
					if string(k.bytesOf(m)) != string(uploadPayload(i)) {
						t.Fatalf("lockstep %v: echo %d: %d bytes, want %d", lockstep, i, len(k.bytesOf(m)), len(uploadPayload(i)))
					}
				}
				if lockstep {
					if err := s.CloseSend(); err != nil {
						t.Fatal(err)
					}
				} else if err := <-sendErr; err != nil {
					t.Fatalf("sending: %v", err)
				}
				if err := s.RecvMsg(k.newBytes()); err != io.EOF {
					t.Errorf("lockstep %v: after the last echo: %v, want io.EOF", lockstep, err)
				}
			}
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, k)
			p := startPeerClient(t, v, s.sock, "stream-bidi", fmt.Sprint(n))
			checkCleanEnd(t, p.streamStep("bidi", 20*time.Second), n, true)
			checkCleanEnd(t, p.streamStep("bidi-lockstep", 20*time.Second), n, true)
			p.finish(10 * time.Second)
		})
	})
}

// checkStreamFail checks the error that ended a stream: NOT_FOUND msg with
// the details of Fail.
func checkStreamFail(t *testing.T, r Result, msg string) {
	t.Helper()
	if r.OK || !r.Status || r.Code != codes.NotFound.String() || r.Message != msg {
		t.Errorf("%s: got %s, want status NotFound %q", r.Step, r, msg)
		return
	}
	if want := failDetails(msg); !reflect.DeepEqual(r.Details, want) {
		t.Errorf("%s: details\n got %v\nwant %v", r.Step, r.Details, want)
	}
}

// d. A handler's error after some messages: the status (code, message,
// details) reaches the client after the messages; our client's RecvMsg
// gives the same error again. Server stream (FailAfter) and bidi (Chat
// failing on "fail").
func TestStreamHandlerError(t *testing.T) {
	const n = 5
	afterN := fmt.Sprintf("failed after %d", n)
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx := streamCtx(t)
			r := ourCount(t, ctx, c, k, "fail-after", "FailAfter", k.str(fmt.Sprint(n)), 8)
			if r.Msgs != n || r.Bad != "" {
				t.Errorf("fail-after: %d messages (%s), want %d", r.Msgs, r.Bad, n)
			}
			checkStreamFail(t, r.Result, afterN)
			checkStreamFail(t, *r.Again, afterN)

			s, err := c.NewStream(ctx, bidiDesc, serviceName, "Chat", nil)
			if err != nil {
				t.Fatal(err)
			}
			var end error
			echoed := 0
			for _, m := range []string{"a", "b", "fail"} {
				if end = s.SendMsg(k.bytes([]byte(m))); end != nil {
					break
				}
				got := k.newBytes()
				if end = s.RecvMsg(got); end != nil {
					break
				}
				if string(k.bytesOf(got)) != m {
					t.Errorf("bidi-fail: echo %q of %q", k.bytesOf(got), m)
				}
				echoed++
			}
			if echoed != 2 {
				t.Errorf("bidi-fail: %d echoes before the error, want 2", echoed)
			}
			checkStreamFail(t, describe("bidi-fail", end, 0), "chat failed after 2")
			checkStreamFail(t, describe("bidi-fail again", s.RecvMsg(k.newBytes()), 0), "chat failed after 2")
			if err := s.SendMsg(k.bytes([]byte("late"))); !errors.Is(err, ttrpc.ErrStreamClosed) {
				t.Errorf("bidi-fail: SendMsg after the error: %v, want ErrStreamClosed", err)
			}
			ourPing(t, ctx, c, k, "ping-after")
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, k)
			p := startPeerClient(t, v, s.sock, "stream-fail", fmt.Sprint(n))
			r := p.streamStep("fail-after", 20*time.Second)
			if r.Msgs != n || r.Bad != "" {
				t.Errorf("fail-after: %d messages (%s), want %d", r.Msgs, r.Bad, n)
			}
			checkStreamFail(t, r.Result, afterN)
			// Measured: v1.2.10's client does not keep a stream's error:
			// a RecvMsg after it blocks until the connection closes
			// (then ErrClosed), where ours returns the error again.
			if r.Again == nil || r.Again.ErrType != "blocked" {
				t.Errorf("fail-after: RecvMsg after the error: %v; v1.2.10's client blocked there when measured", r.Again)
			}
			r = p.streamStep("bidi-fail", 10*time.Second)
			if r.Msgs != 2 || r.Bad != "" {
				t.Errorf("bidi-fail: %d echoes (%s), want 2", r.Msgs, r.Bad)
			}
			checkStreamFail(t, r.Result, "chat failed after 2")
			if r.Again == nil || r.Again.ErrType != "blocked" {
				t.Errorf("bidi-fail: RecvMsg after the error: %v; v1.2.10's client blocked there when measured", r.Again)
			}
			// Measured: its SendMsg after the server's error succeeds,
			// putting a data frame for a finished stream on the wire,
			// which our server drops; the connection carries on.
			if r.SendAfter == nil || !r.SendAfter.OK {
				t.Errorf("bidi-fail: SendMsg after the error: %v; it succeeded when measured", r.SendAfter)
			}
			checkOK(t, p.step("ping-after", 10*time.Second).Result)
			p.finish(10 * time.Second)
		})
	})
}

// e. Metadata and deadlines on streams. Our client sends both in the stream's
// request, and v1.2.10's server applies them: its handler sees the metadata
// and the deadline, and its context ends at the deadline. v1.2.10's client
// sends neither (SPEC §7): our handler sees none even though its caller's
// context had both.
func TestStreamMetadataDeadline(t *testing.T) {
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			p, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			meta := func(ctx context.Context, step string) (*EchoReply, error) {
				s, err := c.NewStream(ctx, serverDesc, serviceName, "Meta", k.str(step))
				if err != nil {
					return nil, err
				}
				m := k.newStr()
				if err := s.RecvMsg(m); err != nil {
					return nil, fmt.Errorf("%s: %v", step, err)
				}
				var er EchoReply
				if err := json.Unmarshal([]byte(k.strOf(m)), &er); err != nil {
					return nil, fmt.Errorf("%s: bad reply %q: %v", step, k.strOf(m), err)
				}
				if err := s.RecvMsg(k.newStr()); err != io.EOF {
					return nil, fmt.Errorf("%s: after the reply: %v, want io.EOF", step, err)
				}
				t.Logf("their handler saw: %+v", er)
				return &er, nil
			}
			ctx, cancel := context.WithTimeout(ttrpc.WithMetadata(context.Background(), testMD), 5*time.Second)
			withMD, err := meta(ctx, "stream-md")
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// No deadline on the stream's context: bounded instead.
			var (
				none    *EchoReply
				noneErr error
			)
			bounded(t, 10*time.Second, "Meta without deadline", func() { c.Close() }, func() {
				none, noneErr = meta(context.Background(), "stream-no-md")
			})
			if noneErr != nil {
				t.Fatal(noneErr)
			}
			if !withMD.HasMD || !reflect.DeepEqual(map[string][]string(testMD), withMD.MD) {
				t.Errorf("their handler saw metadata %v, sent %v", withMD.MD, testMD)
			}
			if left := time.Duration(withMD.DeadlineNS); left <= time.Second || left > 5*time.Second {
				t.Errorf("their handler saw %v left of a 5s deadline, want within (1s, 5s]", left)
			}
			if none != nil && (none.HasMD || none.DeadlineNS != -1) {
				t.Errorf("their handler saw metadata %v / %v left on a stream that sent neither", none.MD, time.Duration(none.DeadlineNS))
			}

			// The deadline is applied: a Ticker of 200 × 5 ms under a
			// 300 ms deadline ends on both sides at the deadline.
			dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer dcancel()
			start := time.Now()
			s, err := c.NewStream(dctx, serverDesc, serviceName, "Ticker", k.str("200 5ms"))
			if err != nil {
				t.Fatal(err)
			}
			msgs, bad, end := ourReadCount(s, k, 8)
			elapsed := time.Since(start)
			t.Logf("our client: %d messages, then %v after %v", msgs, end, elapsed)
			// Whichever deadline fires first ends it: ours (our client
			// cancels the stream: the context's error), or the one their
			// server derived from timeout_nano (its handler fails: a
			// DEADLINE_EXCEEDED status), as for unary calls.
			if bad != "" || msgs == 0 || !errors.Is(end, context.DeadlineExceeded) && status.Code(end) != codes.DeadlineExceeded {
				t.Errorf("ticker under a 300ms deadline: %d messages (%s), then %v; want some, then DEADLINE_EXCEEDED", msgs, bad, end)
			}
			if elapsed > 300*time.Millisecond+promptSlack {
				t.Errorf("the stream with a 300ms deadline ended after %v", elapsed)
			}
			e := p.event("ticker-end", 10*time.Second)
			if e.Value != "ctx: "+context.DeadlineExceeded.Error() || e.Calls >= 200 {
				t.Errorf("their ticker ended with %q after %d messages; want its context's deadline to end it", e.Value, e.Calls)
			}
			ourPing(t, ctx, c, k, "ping-after")
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, k)
			js, err := json.Marshal(testMD)
			if err != nil {
				t.Fatal(err)
			}
			p := startPeerClient(t, v, s.sock, "stream-meta", string(js))
			for _, step := range []string{"stream-md", "stream-no-md"} {
				r := p.streamStep(step, 20*time.Second)
				if r.Echo == nil || r.Msgs != 1 || !r.EOF {
					t.Fatalf("%s: %s", step, r)
				}
				// Measured (SPEC §7): v1.2.10's client sends neither
				// metadata nor timeout on a stream, even from a context
				// that has both ("stream-md").
				if r.Echo.HasMD || r.Echo.DeadlineNS != -1 {
					t.Errorf("%s: our handler saw metadata %v and %v left; v1.2.10's client sent neither when measured",
						step, r.Echo.MD, time.Duration(r.Echo.DeadlineNS))
				}
			}
			p.finish(10 * time.Second)
		})
	})
}

// f, h. Slow readers. Servers of the established library send without flow
// control. Our client holds what its reader has not taken, within its
// budget (16 MiB by default), without holding up the connection: unary
// calls go on meanwhile. Past the budget (the second subtest, with a 256
// KiB budget) it stops reading the connection until the reader catches up:
// nothing is lost, and calls wait. v1.2.10's client against our server
// (which sends without limit to a client that does not grant windows): see
// TheirClient_OurServer.
func TestStreamSlowReader(t *testing.T) {
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		const size = 1024
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			const n = 8000 // ~8.3 MB on the wire: within the default budget
			p, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx := streamCtx(t)
			s, err := c.NewStream(ctx, serverDesc, serviceName, "Count", k.str(fmt.Sprintf("%d %d event", n, size)))
			if err != nil {
				t.Fatal(err)
			}
			// Their handler has sent everything: every message has been
			// written to the socket, so nearly all are queued in our
			// client (the rest are in the socket's buffers).
			done := p.event("count-done", 30*time.Second)
			if !done.OK || done.Calls != n {
				t.Fatalf("their handler: %s", done)
			}
			var slowest time.Duration
			for i := 0; i < 20; i++ {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				r := ourPing(t, cctx, c, k, fmt.Sprintf("ping-%d", i))
				cancel()
				slowest = max(slowest, r.elapsed())
			}
			t.Logf("20 Pings while %d unread messages were queued: slowest %v", n, slowest)
			msgs, bad, end := ourReadCount(s, k, size)
			if bad != "" || msgs != n || end != io.EOF {
				t.Errorf("slow reader: %d messages (%s), then %v; want %d, then io.EOF", msgs, bad, end, n)
			}
		})
		t.Run("OurClient_TheirServer_OverBudget", func(t *testing.T) {
			const n = 2000 // ~2 MB: eight times the budget
			p, sock := startPeerServer(t, v)
			conn, err := net.DialTimeout("unix", sock, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c := ttrpc.NewClient(conn, ttrpc.WithClientStreamBuffer(256<<10))
			defer c.Close()
			ctx := streamCtx(t)
			s, err := c.NewStream(ctx, serverDesc, serviceName, "Count", k.str(fmt.Sprintf("%d %d event", n, size)))
			if err != nil {
				t.Fatal(err)
			}
			p.event("count-start", 10*time.Second)
			// Until the reader reads, their handler fills the budget and
			// the socket, and then our client stops reading: a Ping
			// waits. Detected by Pings with a short deadline (bounded);
			// a loaded machine may time one out early, which changes
			// nothing below.
			stalled := -1
			for i := 0; i < 20 && stalled < 0; i++ {
				pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
				r := ourCall(pctx, c, "probe", serviceName, "Ping", k.str("probe"), k.newStr())
				cancel()
				if !r.OK {
					stalled = i
				}
			}
			t.Logf("with the reader not reading, Ping %d was the first not answered within 250ms (-1: none)", stalled)
			msgs, bad, end := ourReadCount(s, k, size)
			if bad != "" || msgs != n || end != io.EOF {
				t.Errorf("slow reader over budget: %d messages (%s), then %v; want %d, then io.EOF", msgs, bad, end, n)
			}
			if done := p.event("count-done", 10*time.Second); !done.OK || done.Calls != n {
				t.Errorf("their handler: %s", done)
			}
			ourPing(t, ctx, c, k, "ping-after")
		})
		// The established pair, for comparison: v1.2.10's client drops
		// what its stream cannot buffer whichever server sends it.
		t.Run("TheirClient_TheirServer", func(t *testing.T) {
			const n = 2000
			srv, sock := startPeerServer(t, v)
			p := startPeerClient(t, v, sock, "stream-slow", fmt.Sprint(n), fmt.Sprint(size))
			p.event("stream-opened", 20*time.Second)
			done := srv.event("count-done", 30*time.Second)
			if !done.OK || done.Calls != n {
				t.Fatalf("their handler: %s", done)
			}
			p.event("waiting", 10*time.Second)
			p.send("go")
			r := p.streamStep("slow-read", 30*time.Second)
			t.Logf("v1.2.10's client, reading after its server's handler had sent %d messages: got %d, then %q", n, r.Msgs, r.Err)
			checkOK(t, p.step("ping-after", 10*time.Second).Result)
			checkCleanEnd(t, p.streamStep("stream-after", 10*time.Second), 3, true)
			p.finish(10 * time.Second)
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			const n = 2000
			s := startOurServer(t, k)
			p := startPeerClient(t, v, s.sock, "stream-slow", fmt.Sprint(n), fmt.Sprint(size))
			p.event("stream-opened", 20*time.Second)
			// Our handler sends everything while their client reads
			// nothing: it gets no window from v1.2.10's client, so it is
			// not held back.
			done := s.waitEvent(t, "count-done", 30*time.Second)
			if !done.OK || done.Calls != n {
				t.Fatalf("our handler: %s", done)
			}
			p.event("waiting", 10*time.Second)
			p.send("go")
			r := p.streamStep("slow-read", 30*time.Second)
			t.Logf("v1.2.10's client, reading after our handler had sent %d messages: got %d, then %q", n, r.Msgs, r.Err)
			if r.Bad != "" {
				t.Errorf("slow-read: %s", r.Bad)
			}
			if r.Msgs > n || r.Msgs < 1 {
				t.Errorf("slow-read: %d messages of %d", r.Msgs, n)
			}
			checkOK(t, p.step("ping-after", 10*time.Second).Result)
			checkCleanEnd(t, p.streamStep("stream-after", 10*time.Second), 3, true)
			p.finish(10 * time.Second)
		})
	})
}

// g. Cancelling a stream. Our client sends a reset frame (type 0x05) for a
// stream it gives up; v1.2.10's server ignores the frame type and keeps the
// connection, but its handler is not told: its context stays live, a server
// stream runs to its end (its messages dropped by our client), a client
// stream's handler waits in RecvMsg until the connection closes. Meanwhile
// calls and new streams on that connection work.
func TestStreamCancel(t *testing.T) {
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			p, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			base := streamCtx(t)
			ctx, cancel := context.WithCancel(base)
			s, err := c.NewStream(ctx, serverDesc, serviceName, "Ticker", k.str("200 5ms"))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				m := k.newBytes()
				if err := s.RecvMsg(m); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			cancel()
			// Messages queued before the cancel are dropped with it.
			for i := 0; i < 2; i++ {
				if err := s.RecvMsg(k.newBytes()); !errors.Is(err, context.Canceled) {
					t.Fatalf("RecvMsg after cancelling: %v, want context.Canceled", err)
				}
			}
			ourPing(t, base, c, k, "ping-after-cancel")
			checkCleanEnd(t, ourCount(t, base, c, k, "stream-after-cancel", "Count", k.str("5 10"), 10), 5, true)
			// Their handler is not cancelled: it sends all 200.
			e := p.event("ticker-end", 20*time.Second)
			if e.Value != "sent 200" || e.Calls != 200 {
				t.Errorf("their ticker ended with %q after %d messages; it ran to its end when measured", e.Value, e.Calls)
			}
			ourPing(t, base, c, k, "ping-after-ticker")
			checkCleanEnd(t, ourCount(t, base, c, k, "stream-after-ticker", "Count", k.str("5 10"), 10), 5, true)

			// A client stream cancelled mid-way.
			ctx, cancel = context.WithCancel(base)
			defer cancel()
			s, err = c.NewStream(ctx, clientDesc, serviceName, "Sink", nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if err := s.SendMsg(k.bytes([]byte("x"))); err != nil {
					t.Fatal(err)
				}
			}
			p.event("sink-start", 10*time.Second)
			cancel()
			if err := s.RecvMsg(k.newStr()); !errors.Is(err, context.Canceled) {
				t.Errorf("RecvMsg after cancelling: %v, want context.Canceled", err)
			}
			// The reset went out before these, and their server reads
			// frames in order: had it acted on the reset, the handler
			// would have ended by the time both are answered.
			ourPing(t, base, c, k, "ping-after-sink")
			checkCleanEnd(t, ourCount(t, base, c, k, "stream-after-sink", "Count", k.str("5 10"), 10), 5, true)
			for _, l := range p.pending() {
				if l.Event == "sink-end" {
					t.Errorf("their Sink handler ended (%s) while the connection was open; it waited for the connection to close when measured", l.raw)
				}
			}
			c.Close()
			e = p.event("sink-end", 10*time.Second)
			if !strings.HasPrefix(e.Value, "recv: ") || e.Calls != 3 {
				t.Errorf("their Sink handler ended with %q after %d messages, want a receive error after 3", e.Value, e.Calls)
			}
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, k)
			p := startPeerClient(t, v, s.sock, "stream-cancel")
			r := p.streamStep("cancelled", 20*time.Second)
			if r.Msgs < 3 || r.Bad != "" || !strings.Contains(r.Err, context.Canceled.Error()) {
				t.Errorf("cancelled: %s; want 3 or more messages, then context.Canceled", r)
			}
			checkOK(t, p.step("ping-after", 10*time.Second).Result)
			checkCleanEnd(t, p.streamStep("stream-after", 10*time.Second), 5, true)
			p.event("waiting", 10*time.Second)
			// v1.2.10's client tells the server nothing when it gives up
			// a stream: our handler runs to its end.
			e := s.waitEvent(t, "ticker-end", 20*time.Second)
			t.Logf("our handler, after v1.2.10's client cancelled: %s", e)
			if e.Value != "sent 200" {
				t.Errorf("our ticker ended with %q after %d messages; v1.2.10's client sent nothing to end it when measured", e.Value, e.Calls)
			}
			p.send("go")
			last := p.step("ping-last", 10*time.Second)
			checkOK(t, last.Result)
			p.finish(10 * time.Second)
		})
	})
}

// i. Many concurrent streams of every kind and unary calls on one
// connection. v1.2.10's server refuses a request whose id is not above the
// last one (TestStreamIDOrder shows it does so for stream requests too), so
// every id our client puts out of order fails a call or a stream here.
func TestStreamMixed(t *testing.T) {
	const g, n = 32, 20
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx := streamCtx(t)
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
						if err := ourMixedOne(ctx, c, k, i, j); err != nil {
							mu.Lock()
							failed++
							errs[err.Error()]++
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			t.Logf("%d iterations (a Ping and a stream each) in %v, %d failed", g*n, time.Since(start).Round(time.Millisecond), failed)
			if failed > 0 {
				t.Errorf("FAILURES %d of %d iterations failed against the %s server: %s", failed, g*n, v.name, summary(errs))
			}
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, k)
			p := startPeerClient(t, v, s.sock, "stream-mixed", fmt.Sprint(g), fmt.Sprint(n))
			r := p.step("mixed", 90*time.Second)
			if r.Calls != g*n || r.Failed != 0 {
				t.Errorf("%s client: %d of %d iterations failed: %v", v.name, r.Failed, r.Calls, r.Errors)
			}
			p.finish(10 * time.Second)
		})
	})
}

// ourMixedOne is mixedOne of peers/v1.2.10/streams.go with our client.
func ourMixedOne(ctx context.Context, c *ttrpc.Client, k kit, i, j int) error {
	want := fmt.Sprintf("%d/%d", i, j)
	resp := k.newStr()
	if err := c.Call(ctx, serviceName, "Ping", k.str(want), resp); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if k.strOf(resp) != want {
		return fmt.Errorf("ping: reply %q to %q", k.strOf(resp), want)
	}
	const msgs = 4
	switch (i + j) % 3 {
	case 0:
		s, err := c.NewStream(ctx, serverDesc, serviceName, "Count", k.str(fmt.Sprintf("%d 16", msgs)))
		if err != nil {
			return fmt.Errorf("count: %w", err)
		}
		got, bad, err := ourReadCount(s, k, 16)
		if got != msgs || bad != "" || err != io.EOF {
			return fmt.Errorf("count: %d messages (%s), then %v", got, bad, err)
		}
		return nil
	case 1:
		s, err := c.NewStream(ctx, clientDesc, serviceName, "Upload", nil)
		if err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		var sent [][]byte
		for m := 0; m < msgs; m++ {
			b := []byte(fmt.Sprintf("%s/%d", want, m))
			sent = append(sent, b)
			if err := s.SendMsg(k.bytes(b)); err != nil {
				return fmt.Errorf("upload: send: %w", err)
			}
		}
		if err := s.CloseSend(); err != nil {
			return fmt.Errorf("upload: CloseSend: %w", err)
		}
		r := k.newStr()
		if err := s.RecvMsg(r); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		if w := uploadReply(sent); k.strOf(r) != w {
			return fmt.Errorf("upload: reply %q, want %q", k.strOf(r), w)
		}
		return nil
	default:
		s, err := c.NewStream(ctx, bidiDesc, serviceName, "Chat", nil)
		if err != nil {
			return fmt.Errorf("chat: %w", err)
		}
		for m := 0; m < msgs; m++ {
			b := []byte(fmt.Sprintf("%s/%d", want, m))
			if err := s.SendMsg(k.bytes(b)); err != nil {
				return fmt.Errorf("chat: send: %w", err)
			}
			got := k.newBytes()
			if err := s.RecvMsg(got); err != nil {
				return fmt.Errorf("chat: %w", err)
			}
			if string(k.bytesOf(got)) != string(b) {
				return fmt.Errorf("chat: echo %q of %q", k.bytesOf(got), b)
			}
		}
		if err := s.CloseSend(); err != nil {
			return fmt.Errorf("chat: CloseSend: %w", err)
		}
		if err := s.RecvMsg(k.newBytes()); err != io.EOF {
			return fmt.Errorf("chat: end: %v, want io.EOF", err)
		}
		return nil
	}
}

// TestStreamIDOrder: v1.2.10's server checks the id order of stream
// requests as of unary ones, so TestStreamMixed would catch our client
// putting a stream's request out of order. Raw frames: a Ping on id 5, then
// a Count stream request on id 3.
func TestStreamIDOrder(t *testing.T) {
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		_, sock := startPeerServer(t, v)
		conn, err := net.DialTimeout("unix", sock, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		request := func(method string, payload []byte) []byte {
			b := protowire.AppendTag(nil, 1, protowire.BytesType)
			b = protowire.AppendString(b, serviceName)
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendString(b, method)
			b = protowire.AppendTag(b, 3, protowire.BytesType)
			return protowire.AppendBytes(b, payload)
		}
		ping := []byte{0x0a, 0x01, 'p'} // StringValue "p"
		count := []byte{0x0a, 0x03, '1', ' ', '0'}
		write := func(id uint32, flags byte, data []byte) {
			frame := make([]byte, 10+len(data))
			binary.BigEndian.PutUint32(frame[0:4], uint32(len(data)))
			binary.BigEndian.PutUint32(frame[4:8], id)
			frame[8], frame[9] = 1, flags
			copy(frame[10:], data)
			if _, err := conn.Write(frame); err != nil {
				t.Fatal(err)
			}
		}
		read := func() (id uint32, typ, flags byte, data []byte) {
			var hdr [10]byte
			if _, err := io.ReadFull(conn, hdr[:]); err != nil {
				t.Fatal(err)
			}
			data = make([]byte, binary.BigEndian.Uint32(hdr[0:4]))
			if _, err := io.ReadFull(conn, data); err != nil {
				t.Fatal(err)
			}
			return binary.BigEndian.Uint32(hdr[4:8]), hdr[8], hdr[9], data
		}
		write(5, 0, request("Ping", ping))
		if id, typ, _, _ := read(); id != 5 || typ != 2 {
			t.Fatalf("Ping on 5: reply on %d type %d", id, typ)
		}
		write(3, 0x01, request("Count", count)) // remote-closed: a server stream
		id, typ, flags, data := read()
		t.Logf("stream request on 3 after 5: frame on %d, type %d, flags %#x, data %x", id, typ, flags, data)
		var resp ttrpc.Response
		if id != 3 || typ != 2 {
			t.Fatalf("stream request on 3 after 5: got a frame on %d of type %d, want a response on 3", id, typ)
		}
		if err := resp.Unmarshal(data); err != nil {
			t.Fatal(err)
		}
		st := status.FromProto(resp.Status)
		if st.Code() != codes.InvalidArgument || st.Message() != "StreamID cannot be re-used and must increment" {
			t.Errorf("stream request on 3 after 5: %v, want INVALID_ARGUMENT", st)
		}
	})
}

// TestStreamStartLatency: a stream opened on a connection with nothing else
// in flight gets its first message about as soon as a unary call gets its
// reply. Our client lets go of reading the connection when no call is
// waiting (unary callers then read their own replies); a stream's RecvMsg
// must get the connection read too, not wait until the idle watch (10 ms)
// hands reading back to the receiver. Each round is a Ping, then a Count
// stream of one message read to its end; the medians are compared.
func TestStreamStartLatency(t *testing.T) {
	streamVersions(t, func(t *testing.T, v *peerVersion) {
		k := v.kit
		for _, server := range []string{"TheirServer", "OurServer"} {
			t.Run("OurClient_"+server, func(t *testing.T) {
				var sock string
				if server == "OurServer" {
					sock = startOurServer(t, k).sock
				} else {
					_, sock = startPeerServer(t, v)
				}
				c := dialOurs(t, sock)
				ctx := streamCtx(t)
				const rounds = 21
				var pings, starts []time.Duration
				for i := 0; i < rounds; i++ {
					start := time.Now()
					if err := c.Call(ctx, serviceName, "Ping", k.str("p"), k.newStr()); err != nil {
						t.Fatal(err)
					}
					pings = append(pings, time.Since(start))
					start = time.Now()
					s, err := c.NewStream(ctx, serverDesc, serviceName, "Count", k.str("1 0"))
					if err != nil {
						t.Fatal(err)
					}
					if err := s.RecvMsg(k.newBytes()); err != nil {
						t.Fatal(err)
					}
					starts = append(starts, time.Since(start))
					if err := s.RecvMsg(k.newBytes()); err != io.EOF {
						t.Fatalf("after the one message: %v", err)
					}
				}
				sortDurations(pings)
				sortDurations(starts)
				ping, first := pings[rounds/2], starts[rounds/2]
				limit := max(5*time.Millisecond, 10*ping)
				t.Logf("medians: Ping %v, stream open to first message %v (slowest %v)", ping, first, starts[rounds-1])
				if first > limit {
					t.Errorf("a stream opened on an idle connection got its first message after %v (median of %d), a Ping its reply after %v; want under %v",
						first, rounds, ping, limit)
				}
			})
		}
	})
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}
