package interop

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// Scenario 5: large messages. 1 MiB and the largest payload whose frame
// just fits the 4 MiB limit, each way; then one byte over the limit each way,
// each followed by a Ping on the same connection.

const maxData = 4 << 20 // the protocol's frame data limit

// bytesValueSize is the size of a BytesValue holding n bytes.
func bytesValueSize(n int) int {
	if n == 0 {
		return 0
	}
	return protowire.SizeTag(1) + protowire.SizeBytes(n)
}

// requestSize is the size of the Request envelope of a call to method with
// an n-byte BytesValue, no deadline and no metadata (SPEC §3 field numbers).
func requestSize(method string, n int) int {
	return protowire.SizeTag(1) + protowire.SizeBytes(len(serviceName)) +
		protowire.SizeTag(2) + protowire.SizeBytes(len(method)) +
		protowire.SizeTag(3) + protowire.SizeBytes(bytesValueSize(n))
}

// responseSize is the size of a successful Response carrying an n-byte
// BytesValue.
func responseSize(n int) int {
	return protowire.SizeTag(2) + protowire.SizeBytes(bytesValueSize(n))
}

// largestFitting returns the largest n for which size(n) <= maxData.
func largestFitting(size func(int) int) int {
	n := maxData
	for size(n) > maxData {
		n--
	}
	return n
}

type largeSizes struct {
	reqMax, respMax int
}

func sizes() largeSizes {
	return largeSizes{
		reqMax:  largestFitting(func(n int) int { return requestSize("Sum", n) }),
		respMax: largestFitting(responseSize),
	}
}

// steps is the step list of scenario 5 (see scenarioSteps in the peers),
// each with its expected outcome: "ok", a status code, or "closed" (the
// client's ErrClosed). overResponse is the expectation for the response
// over the limit, and for the Ping after it.
func (s largeSizes) steps(overResponse string) (steps, want []string) {
	afterOver := "ok"
	if overResponse == "closed" {
		afterOver = "closed"
	}
	for _, sw := range [][2]string{
		{"sum:1048576", "ok"},
		{"sum:" + strconv.Itoa(s.reqMax), "ok"},
		{"big:1048576", "ok"},
		{"big:" + strconv.Itoa(s.respMax), "ok"},
		{"sum:" + strconv.Itoa(s.reqMax+1), "ResourceExhausted"},
		{"ping", "ok"},
		{"big:" + strconv.Itoa(s.respMax+1), overResponse},
		{"ping#2", afterOver},
	} {
		steps = append(steps, sw[0])
		want = append(want, sw[1])
	}
	return steps, want
}

// runOurSteps runs steps with our client, as the peers' "steps" scenario
// does: no deadline (so the envelope sizes are exact), each call bounded.
func runOurSteps(t *testing.T, c *ttrpc.Client, k kit, steps []string) []Result {
	t.Helper()
	var results []Result
	for _, step := range steps {
		var r Result
		bounded(t, 30*time.Second, step, func() { c.Close() }, func() {
			r = ourStep(t, c, k, step)
		})
		t.Logf("our client: %s", r)
		results = append(results, r)
	}
	return results
}

func ourStep(t *testing.T, c *ttrpc.Client, k kit, step string) Result {
	ctx := context.Background()
	spec, _, _ := strings.Cut(step, "#")
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "ping":
		resp := k.newStr()
		r := ourCall(ctx, c, step, serviceName, "Ping", k.str("ping"), resp)
		if r.OK && k.strOf(resp) != "ping" {
			t.Errorf("%s: reply %q", step, k.strOf(resp))
		}
		return r
	case "sum":
		n, _ := strconv.Atoi(arg)
		b := pattern(n)
		resp := k.newStr()
		r := ourCall(ctx, c, step, serviceName, "Sum", k.bytes(b), resp)
		if r.OK {
			if got := k.strOf(resp); got != sumOf(b) {
				t.Errorf("%s: reply %q, want %q", step, got, sumOf(b))
			}
			r.Value, r.Len = k.strOf(resp), n
		}
		return r
	case "big":
		n, _ := strconv.Atoi(arg)
		resp := k.newBytes()
		r := ourCall(ctx, c, step, serviceName, "Big", k.str(arg), resp)
		if r.OK {
			if got := k.bytesOf(resp); sumOf(got) != sumOf(pattern(n)) {
				t.Errorf("%s: got %d bytes, not the %d pattern bytes", step, len(got), n)
			}
			r.Len = n
		}
		return r
	}
	t.Fatalf("unknown step %q", step)
	return Result{}
}

// checkSteps compares each step's outcome with its expectation.
func checkSteps(t *testing.T, results []Result, want []string) {
	t.Helper()
	if len(results) != len(want) {
		t.Fatalf("%d results for %d steps", len(results), len(want))
	}
	for i, r := range results {
		switch w := want[i]; w {
		case "ok":
			if !r.OK {
				t.Errorf("%s: got %s, want success", r.Step, r)
			}
		case "closed":
			if !r.Closed {
				t.Errorf("%s: got %s, want the client's ErrClosed", r.Step, r)
			}
		default:
			if r.OK || !r.Status || r.Code != w {
				t.Errorf("%s: got %s, want status %s", r.Step, r, w)
			}
		}
	}
}

// TestLargeMessages: what each established version does with the
// messages over the limit was measured (README.md): their v1.2.10 server
// closes the connection instead of sending a reply over 4 MiB, so our client
// sees ErrClosed there; v1.0.2's server sends the oversized frame, which our
// client drops, failing that call with RESOURCE_EXHAUSTED.
func TestLargeMessages(t *testing.T) {
	s := sizes()
	t.Logf("largest request payload %d bytes (frame data %d), largest response payload %d bytes (frame data %d)",
		s.reqMax, requestSize("Sum", s.reqMax), s.respMax, responseSize(s.respMax))
	forEachVersion(t, func(t *testing.T, v *peerVersion) {
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			_, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			steps, want := s.steps(v.overResponse)
			checkSteps(t, runOurSteps(t, c, v.kit, steps), want)
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			srv := startOurServer(t, v.kit)
			steps, want := s.steps("ResourceExhausted")
			p := startPeerClient(t, v, srv.sock, "steps", steps...)
			var results []Result
			for _, step := range steps {
				results = append(results, p.step(step, 30*time.Second).Result)
			}
			p.finish(10 * time.Second)
			checkSteps(t, results, want)
		})
	})
}

// TestOversizedRequestOnTheWire: a request over the limit fails with
// RESOURCE_EXHAUSTED and leaves the connection usable, whichever client sends
// it. The recording server shows who puts it on the wire: v1.0.2's client
// sends the frame (the server discards it and answers RESOURCE_EXHAUSTED);
// ours and v1.2.10's refuse it before sending.
func TestOversizedRequestOnTheWire(t *testing.T) {
	over := "sum:" + strconv.Itoa(sizes().reqMax+1)
	check := func(t *testing.T, rs *rawServer, results []Result, wantSent bool) {
		t.Helper()
		checkSteps(t, results, []string{"ResourceExhausted", "ok"})
		_, _, _, oversized := rs.record()
		if sent := len(oversized) > 0; sent != wantSent {
			t.Errorf("the client sent frames of %v bytes, want oversized frame sent: %v", oversized, wantSent)
		}
	}
	t.Run("OurClient", func(t *testing.T) {
		rs := startRawServer(t)
		c := dialOurs(t, rs.sock)
		check(t, rs, runOurSteps(t, c, apiv2Kit{}, []string{over, "ping"}), false)
	})
	forEachVersion(t, func(t *testing.T, v *peerVersion) {
		rs := startRawServer(t)
		p := startPeerClient(t, v, rs.sock, "steps", over, "ping")
		results := []Result{p.step(over, 30*time.Second).Result, p.step("ping", 10*time.Second).Result}
		p.finish(10 * time.Second)
		check(t, rs, results, v.sendsOversizedRequest)
	})
}
