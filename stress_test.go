package ttrpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/ttrpc/internal/faultconn"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The stress test's one method, "Do", takes a BytesValue whose first five
// bytes say what to do: an op byte and a big-endian uint32 parameter.
const (
	opEcho  = iota // reply with the argument
	opError        // fail with status code param
	opDelay        // wait param ms (or until the ctx ends), then echo
	opLarge        // reply with param bytes of stressBlock
	opCount
)

// stressBlock is the source of every payload: slices of it at random
// offsets, so that no call allocates its own random data.
var stressBlock []byte

var stressBlockOnce sync.Once

// initStressBlock fills stressBlock; it is not done at package init so that
// test binaries re-executed as helper processes start fast.
func initStressBlock() {
	stressBlockOnce.Do(func() {
		b := make([]byte, 2*messageLengthMax)
		rand.New(rand.NewSource(1)).Read(b)
		stressBlock = b
	})
}

func stressDo(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var v types.BytesValue
	if err := unmarshal(&v); err != nil {
		return nil, err
	}
	if len(v.Value) < 5 {
		return &v, nil
	}
	param := binary.BigEndian.Uint32(v.Value[1:5])
	switch v.Value[0] {
	case opError:
		return nil, status.Errorf(codes.Code(param), "op error %d", param)
	case opDelay:
		t := time.NewTimer(time.Duration(param) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case opLarge:
		return &types.BytesValue{Value: stressBlock[:param]}, nil
	}
	return &v, nil
}

// bytesValueSize is the encoded size of a BytesValue holding n bytes.
func bytesValueSize(n int) int {
	if n == 0 {
		return 0
	}
	return 1 + wireSizeVarint(n) + n
}

func wireSizeVarint(n int) int {
	s := 1
	for ; n >= 0x80; n >>= 7 {
		s++
	}
	return s
}

// maxStressValue is the largest BytesValue payload whose request (with a
// deadline) and reply frames both fit the 4 MiB limit.
func maxStressValue() int {
	initStressBlock()
	for n := messageLengthMax; n > 0; n-- {
		v := stressBlock[:bytesValueSize(n)]
		req := &Request{Service: relService, Method: "Do", Payload: v, TimeoutNano: 1 << 62}
		resp := &Response{Payload: v}
		if req.Size() <= messageLengthMax && resp.Size() <= messageLengthMax {
			return n
		}
	}
	return 0
}

var maxReply = sync.OnceValue(func() int {
	initStressBlock()
	for n := messageLengthMax; ; n-- {
		if (&Response{Payload: stressBlock[:bytesValueSize(n)]}).Size() <= messageLengthMax {
			return n
		}
	}
})

// maxReplyValue is the largest BytesValue payload whose reply frame fits the
// limit; requests carry more envelope, so it is larger than maxStressValue.
func maxReplyValue() int { return maxReply() }

// stressStats are the totals a stress run reports.
type stressStats struct {
	calls, bytes atomic.Int64
	mu           sync.Mutex
	kinds        map[string]int
}

func (s *stressStats) count(kind string) {
	s.mu.Lock()
	if s.kinds == nil {
		s.kinds = map[string]int{}
	}
	s.kinds[kind]++
	s.mu.Unlock()
}

func (s *stressStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.kinds))
	for k := range s.kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, s.kinds[k])
	}
	return fmt.Sprintf("calls=%d bytes=%d outcomes:%s", s.calls.Load(), s.bytes.Load(), b.String())
}

// stressCall makes one random call and checks its outcome against what it
// deserves. It returns a description of a wrong outcome, or "".
func stressCall(c *Client, rng *rand.Rand, maxValue int, st *stressStats) string {
	initStressBlock()
	op := rng.Intn(opCount)
	var size int
	switch r := rng.Intn(100); {
	case r < 75:
		size = 5 + rng.Intn(4<<10)
	case r < 97:
		size = 5 + rng.Intn(128<<10)
	case r < 99:
		size = 5 + rng.Intn(maxValue-5)
	default:
		size = maxValue // the largest that fits, both ways
	}
	if op == opError || op == opLarge {
		size = 5 + rng.Intn(64)
	}
	off := rng.Intn(len(stressBlock) - size)
	value := make([]byte, size)
	copy(value, stressBlock[off:off+size])
	value[0] = byte(op)
	var param uint32
	var want []byte
	wantCode := codes.OK
	switch op {
	case opEcho:
		want = value
	case opError:
		param = uint32(1 + rng.Intn(16))
		wantCode = codes.Code(param)
	case opDelay:
		param = uint32(rng.Intn(20))
		want = value
	case opLarge:
		switch r := rng.Intn(20); {
		case r < 17:
			param = uint32(rng.Intn(256 << 10))
		case r < 19:
			param = uint32(maxValue)
		default:
			param = uint32(maxReplyValue() + 1 + rng.Intn(1000)) // too big to send back
			wantCode = codes.ResourceExhausted
		}
		want = stressBlock[:param]
	}
	binary.BigEndian.PutUint32(value[1:5], param)

	// A third of the calls get a deadline, a tenth are cancelled at a
	// random moment; both may or may not win against the reply.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	limited := false
	switch r := rng.Intn(30); {
	case r < 10:
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, time.Duration(rng.Intn(30))*time.Millisecond)
		defer c2()
		limited = true
	case r < 13:
		t := time.AfterFunc(time.Duration(rng.Intn(20))*time.Millisecond, cancel)
		defer t.Stop()
		limited = true
	}

	var out types.BytesValue
	err := c.Call(ctx, relService, "Do", &types.BytesValue{Value: value}, &out)
	st.calls.Add(1)
	st.bytes.Add(int64(len(value) + len(out.Value)))

	switch {
	case err == nil:
		st.count("ok")
		if wantCode != codes.OK {
			return fmt.Sprintf("op %d: succeeded, want %v", op, wantCode)
		}
		if !bytes.Equal(out.Value, want) {
			return fmt.Sprintf("op %d: reply of %d bytes differs from the %d expected", op, len(out.Value), len(want))
		}
		return ""
	case limited && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
		st.count("ctx:" + err.Error())
		return ""
	case limited && status.Code(err) == codes.DeadlineExceeded:
		// The server's copy of the deadline fired first.
		st.count("status:DeadlineExceeded")
		return ""
	}
	s, ok := status.FromError(err)
	if !ok || s.Code() != wantCode || wantCode == codes.OK {
		return fmt.Sprintf("op %d (param %d, %d bytes): got %v, want code %v", op, param, size, err, wantCode)
	}
	st.count("status:" + s.Code().String())
	return ""
}

// stressTransport is how the stress test connects: the listener to serve
// and a dialer for clients.
type stressTransport struct {
	name   string
	listen func(t *testing.T) (net.Listener, func() (net.Conn, error))
}

var stressTransports = []stressTransport{
	{"unix", func(t *testing.T) (net.Listener, func() (net.Conn, error)) {
		l, path := relUnixListener(t)
		return l, func() (net.Conn, error) { return net.Dial("unix", path) }
	}},
	{"pipe", func(t *testing.T) (net.Listener, func() (net.Conn, error)) {
		l := faultconn.NewPipeListener()
		return l, l.Dial
	}},
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC() // sync.Pool needs two cycles to drop idle buffers
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestStress runs many clients with many goroutines each against one
// server, over unix sockets and over net.Pipe, with payloads from 0 B to
// just under 4 MiB, random deadlines and cancellations, and handlers that
// fail, delay or return large replies. Every call must return what it
// deserves, none may hang, and goroutines and heap return to baseline.
// TTRPC_SOAK=5m turns it into a soak run of that length per transport.
func TestStress(t *testing.T) {
	soak, _ := time.ParseDuration(os.Getenv("TTRPC_SOAK"))
	maxValue := maxStressValue()
	for _, tr := range stressTransports {
		tr := tr
		t.Run(tr.name, func(t *testing.T) {
			relCheckLeaks(t)
			heapBefore := heapAlloc()
			goBefore := runtime.NumGoroutine()

			var st stressStats
			var maxGo atomic.Int64
			stopSampling := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					if n := int64(runtime.NumGoroutine()); n > maxGo.Load() {
						maxGo.Store(n)
					}
					select {
					case <-tick.C:
					case <-stopSampling:
						return
					}
				}
			}()

			func() {
				l, dial := tr.listen(t)
				s, err := NewServer()
				if err != nil {
					t.Fatal(err)
				}
				s.Register(relService, map[string]Method{"Do": stressDo})
				served := make(chan error, 1)
				go func() { served <- s.Serve(context.Background(), l) }()
				defer func() {
					if err := s.Close(); err != nil {
						t.Error(err)
					}
					if err := <-served; !errors.Is(err, ErrServerClosed) {
						t.Errorf("Serve: %v", err)
					}
				}()

				const conns, perConn = 4, 6
				calls := 40
				if testing.Short() {
					calls = 10
				}
				deadline := time.Now().Add(soak)
				var wg sync.WaitGroup
				var failures atomic.Int64
				var firstFailure atomic.Value
				clients := make([]*Client, conns)
				for i := range clients {
					conn, err := dial()
					if err != nil {
						t.Fatal(err)
					}
					clients[i] = NewClient(conn)
				}
				for i := 0; i < conns; i++ {
					for j := 0; j < perConn; j++ {
						wg.Add(1)
						go func(c *Client, seed int64) {
							defer wg.Done()
							rng := rand.New(rand.NewSource(seed))
							for k := 0; k < calls || time.Now().Before(deadline); k++ {
								if msg := stressCall(c, rng, maxValue, &st); msg != "" {
									if failures.Add(1) == 1 {
										firstFailure.Store(msg)
									}
									return
								}
							}
						}(clients[i], int64(i*100+j))
					}
				}
				done := make(chan struct{})
				go func() { wg.Wait(); close(done) }()
				bound := 60*time.Second + 2*soak
				relWait(t, done, bound, "stress callers (a call hung)")
				if n := failures.Load(); n > 0 {
					t.Errorf("%d callers saw a wrong outcome; first: %v", n, firstFailure.Load())
				}
				for _, c := range clients {
					c.Close()
				}
				relWaitConns(t, s, 0, 10*time.Second)
			}()

			close(stopSampling)
			<-sampled
			if !fzWaitGoroutines(goBefore, 10*time.Second) {
				t.Errorf("goroutines did not return to baseline: %d, before %d", runtime.NumGoroutine(), goBefore)
			}
			heapAfter := heapAlloc()
			t.Logf("%s: %v; goroutines before=%d max=%d after=%d; heap before=%d KiB after=%d KiB",
				tr.name, &st, goBefore, maxGo.Load(), runtime.NumGoroutine(), heapBefore>>10, heapAfter>>10)
			if heapAfter > heapBefore+8<<20 {
				t.Errorf("heap did not return to baseline: %d KiB after, %d KiB before", heapAfter>>10, heapBefore>>10)
			}
		})
	}
}

// TestStressSizeBoundaries pins the edges the random stress run only
// visits now and then: 0 B, the largest payload that fits both ways, and one
// byte more, which fails the call with RESOURCE_EXHAUSTED on the client
// without touching the connection.
func TestStressSizeBoundaries(t *testing.T) {
	relCheckLeaks(t)
	maxValue := maxStressValue()
	for _, tr := range stressTransports {
		tr := tr
		t.Run(tr.name, func(t *testing.T) {
			l, dial := tr.listen(t)
			relServe(t, l, map[string]Method{"Do": stressDo})
			conn, err := dial()
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient(conn)
			defer c.Close()
			for _, n := range []int{0, 1, maxValue} {
				v := stressBlock[len(stressBlock)-n:]
				if n >= 5 {
					v = append([]byte{opEcho, 0, 0, 0, 0}, stressBlock[:n-5]...)
				}
				var out types.BytesValue
				if err := c.Call(context.Background(), relService, "Do", &types.BytesValue{Value: v}, &out); err != nil || !bytes.Equal(out.Value, v) {
					t.Fatalf("echo of %d bytes: %d bytes back, %v", n, len(out.Value), err)
				}
			}
			err = c.Call(context.Background(), relService, "Do", &types.BytesValue{Value: stressBlock[:minOversizeValue()]}, &types.BytesValue{})
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("request one byte over: %v, want RESOURCE_EXHAUSTED", err)
			}
			// Replies: the largest that fits arrives whole, one byte more
			// fails that call with RESOURCE_EXHAUSTED from the server.
			for _, n := range []int{maxReplyValue(), maxReplyValue() + 1} {
				v := []byte{opLarge, 0, 0, 0, 0}
				binary.BigEndian.PutUint32(v[1:], uint32(n))
				got, err := relCallDo(c, v)
				if n == maxReplyValue() && (err != nil || !bytes.Equal(got, stressBlock[:n])) {
					t.Fatalf("largest reply (%d bytes): %d bytes, %v", n, len(got), err)
				}
				if n > maxReplyValue() && status.Code(err) != codes.ResourceExhausted {
					t.Fatalf("reply one byte over: %v, want RESOURCE_EXHAUSTED", err)
				}
			}
			if got, err := relCallDo(c, []byte{opEcho, 0, 0, 0, 0, 'k'}); err != nil || string(got) != "\x00\x00\x00\x00\x00k" {
				t.Fatalf("connection after an oversized request: %q, %v", got, err)
			}
		})
	}
}

// minOversizeValue is the smallest BytesValue payload whose request (with
// no deadline) is over the frame limit.
func minOversizeValue() int {
	initStressBlock()
	for n := messageLengthMax - 64; ; n++ {
		v := stressBlock[:bytesValueSize(n)]
		if (&Request{Service: relService, Method: "Do", Payload: v}).Size() > messageLengthMax {
			return n
		}
	}
}

func relCallDo(c *Client, v []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out types.BytesValue
	err := c.Call(ctx, relService, "Do", &types.BytesValue{Value: v}, &out)
	return out.Value, err
}
