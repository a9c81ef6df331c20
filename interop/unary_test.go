package interop

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
)

// Scenario 1: metadata. The server echoes the metadata its handler saw; the
// keys and all values of multi-valued keys arrive in order, and a call
// without metadata shows none.

var testMD = ttrpc.MD{
	"key-a":      {"1"},
	"multi":      {"x", "y", "z"},
	"text":       {"héllo wörld", "a=b; c:d"},
	"trace-id":   {"0af7651916cd43dd8448eb211c80319c"},
	"x-repeated": {"same", "same"},
}

func checkMetadataEcho(t *testing.T, withMD, noMD Result) {
	t.Helper()
	if !withMD.OK || withMD.Echo == nil {
		t.Fatalf("call with metadata: %s", withMD)
	}
	if !withMD.Echo.HasMD || !reflect.DeepEqual(map[string][]string(testMD), withMD.Echo.MD) {
		t.Errorf("server saw metadata %v, sent %v", withMD.Echo.MD, testMD)
	}
	if !noMD.OK || noMD.Echo == nil {
		t.Fatalf("call without metadata: %s", noMD)
	}
	if noMD.Echo.HasMD {
		t.Errorf("server saw metadata %v on a call that sent none", noMD.Echo.MD)
	}
}

func TestMetadata(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v *peerVersion) {
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			withMD := ourEcho(t, ttrpc.WithMetadata(ctx, testMD), c, v.kit, "with-md")
			noMD := ourEcho(t, ctx, c, v.kit, "no-md")
			checkMetadataEcho(t, withMD, noMD)
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, v.kit)
			js, err := json.Marshal(testMD)
			if err != nil {
				t.Fatal(err)
			}
			p := startPeerClient(t, v, s.sock, "metadata", string(js))
			withMD := p.step("with-md", 20*time.Second)
			noMD := p.step("no-md", 10*time.Second)
			checkMetadataEcho(t, withMD.Result, noMD.Result)
			p.finish(10 * time.Second)
		})
	})
}

// Scenario 2: deadlines. The handler's context carries the caller's
// deadline (time left within (0, 5s] for a 5s deadline; none without one);
// a caller whose deadline passes while the handler runs gets
// DEADLINE_EXCEEDED promptly (context.DeadlineExceeded from our client).

const (
	shortDeadline = 200 * time.Millisecond
	// promptSlack bounds how late "promptly" may be on a loaded 2-core
	// machine under the race detector.
	promptSlack = time.Second
)

func checkDeadlines(t *testing.T, d5, none, short Result) {
	t.Helper()
	if !d5.OK || d5.Echo == nil {
		t.Fatalf("call with a 5s deadline: %s", d5)
	}
	left := time.Duration(d5.Echo.DeadlineNS)
	if left <= time.Second || left > 5*time.Second {
		t.Errorf("handler saw %v left of a 5s deadline, want within (1s, 5s]", left)
	}
	if !none.OK || none.Echo == nil {
		t.Fatalf("call without deadline: %s", none)
	}
	if none.Echo.DeadlineNS != -1 {
		t.Errorf("handler saw a deadline (%v left) on a call that set none", time.Duration(none.Echo.DeadlineNS))
	}
	if short.OK {
		t.Fatalf("Sleep 1500ms under a %v deadline succeeded: %s", shortDeadline, short)
	}
	if !short.CtxDeadline && short.Code != codes.DeadlineExceeded.String() {
		t.Errorf("Sleep 1500ms under a %v deadline: got %s, want DEADLINE_EXCEEDED", shortDeadline, short)
	}
	if short.elapsed() > shortDeadline+promptSlack {
		t.Errorf("the call with a %v deadline returned after %v", shortDeadline, short.elapsed())
	}
}

func TestDeadline(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v *peerVersion) {
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			d5 := ourEcho(t, ctx, c, v.kit, "deadline-5s")
			cancel()
			var none Result
			bounded(t, 10*time.Second, "call without deadline", func() { c.Close() }, func() {
				none = ourEcho(t, context.Background(), c, v.kit, "no-deadline")
			})
			ctx, cancel = context.WithTimeout(context.Background(), shortDeadline)
			defer cancel()
			short := ourCall(ctx, c, "short-deadline", serviceName, "Sleep", v.kit.str("1500ms"), v.kit.newStr())
			t.Logf("our client: %s", short)
			checkDeadlines(t, d5, none, short)
			if !short.CtxDeadline {
				t.Errorf("our client returned %s (%s), want context.DeadlineExceeded", short.Err, short.ErrType)
			}
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, v.kit)
			p := startPeerClient(t, v, s.sock, "deadline", shortDeadline.String())
			d5 := p.step("deadline-5s", 20*time.Second)
			none := p.step("no-deadline", 10*time.Second)
			short := p.step("short-deadline", 10*time.Second)
			checkDeadlines(t, d5.Result, none.Result, short.Result)
			p.finish(10 * time.Second)
		})
	})
}

// Scenario 3: a status error with details crosses intact: code, message,
// and each detail's type URL and bytes.

const failMessage = "no such thing: x"

func checkFail(t *testing.T, r Result) {
	t.Helper()
	if r.OK || !r.Status {
		t.Fatalf("Fail: got %s, want a status error", r)
	}
	if r.Code != codes.NotFound.String() || r.Message != failMessage {
		t.Errorf("Fail: got code %s message %q, want NotFound %q", r.Code, r.Message, failMessage)
	}
	if want := failDetails(failMessage); !reflect.DeepEqual(r.Details, want) {
		t.Errorf("Fail: details\n got %v\nwant %v", r.Details, want)
	}
}

func TestStatusDetails(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v *peerVersion) {
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r := ourCall(ctx, c, "fail", serviceName, "Fail", v.kit.str(failMessage), v.kit.newStr())
			t.Logf("our client: %s", r)
			checkFail(t, r)
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, v.kit)
			p := startPeerClient(t, v, s.sock, "error", failMessage)
			checkFail(t, p.step("fail", 20*time.Second).Result)
			p.finish(10 * time.Second)
		})
	})
}

// Scenario 7: unknown service or method. v1.0.2's server answers NOT_FOUND,
// the 1.2 line UNIMPLEMENTED (SPEC §7); the message is "service NAME" /
// "method NAME" in all of them.

// ourUnknownCode is what our server should answer for an unknown service or
// method: NOT_FOUND while the library has the 1.0 API, UNIMPLEMENTED once it
// has the 1.2 line's (RegisterService), as the established lines do.
func ourUnknownCode() codes.Code {
	if _, ok := reflect.TypeOf(&ttrpc.Server{}).MethodByName("RegisterService"); ok {
		return codes.Unimplemented
	}
	return codes.NotFound
}

func checkUnknown(t *testing.T, code codes.Code, svc, method Result) {
	t.Helper()
	for _, c := range []struct {
		r   Result
		msg string
	}{{svc, "service interop.Nope"}, {method, "method Nope"}} {
		if c.r.OK || !c.r.Status || c.r.Code != code.String() || c.r.Message != c.msg {
			t.Errorf("%s: got %s, want status %s %q", c.r.Step, c.r, code, c.msg)
		}
	}
}

func TestUnknownServiceMethod(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v *peerVersion) {
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			svc := ourCall(ctx, c, "unknown-service", "interop.Nope", "Ping", v.kit.str("x"), v.kit.newStr())
			method := ourCall(ctx, c, "unknown-method", serviceName, "Nope", v.kit.str("x"), v.kit.newStr())
			t.Logf("our client: %s", svc)
			t.Logf("our client: %s", method)
			checkUnknown(t, v.unknownCode, svc, method)
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, v.kit)
			p := startPeerClient(t, v, s.sock, "unknown")
			svc := p.step("unknown-service", 20*time.Second)
			method := p.step("unknown-method", 10*time.Second)
			checkUnknown(t, ourUnknownCode(), svc.Result, method.Result)
			p.finish(10 * time.Second)
		})
	})
}
