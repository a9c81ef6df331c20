package ttrpc

// Benchmarks of the library in one process: client and server share the
// process, so allocs/op counts both sides of a call.
//
//	go test -run '^$' -bench . -benchmem -count 6 | tee new.txt && benchstat new.txt
//
// CI smoke run (every benchmark once, a few seconds in all):
//
//	go test -run '^$' -bench . -benchtime 1x
//
// BenchmarkRaw* is the floor: the same transport carrying bare 10-byte-header
// echo frames, no protobuf and no multiplexing. BenchmarkVsRaw reports ttrpc's
// serial round trip as a ratio to it, measured interleaved in the same run.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
)

const benchService = "ttrpc.bench.Echo"

var benchSizes = []struct {
	name string
	n    int
}{
	{"0B", 0},
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
	{"1MiB", 1 << 20},
}

func benchEcho(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	v := &types.BytesValue{}
	if err := unmarshal(v); err != nil {
		return nil, err
	}
	return v, nil
}

// pipeListener hands out one end of a net.Pipe per Accept, fed by dial.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case l.conns <- b:
		return a, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// benchTransport gives a listener and a dialer of one kind.
func benchTransport(b *testing.B, kind string) (net.Listener, func() (net.Conn, error)) {
	b.Helper()
	switch kind {
	case "unix":
		dir, err := os.MkdirTemp("", "ttrpc-bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		path := filepath.Join(dir, "s")
		l, err := net.Listen("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		return l, func() (net.Conn, error) { return net.Dial("unix", path) }
	case "pipe":
		l := newPipeListener()
		return l, l.dial
	}
	b.Fatalf("unknown transport %q", kind)
	return nil, nil
}

// benchClient starts an echo server on the transport and returns a client.
func benchClient(b *testing.B, kind string) *Client {
	b.Helper()
	s, err := NewServer()
	if err != nil {
		b.Fatal(err)
	}
	s.Register(benchService, map[string]Method{"Echo": benchEcho})
	l, dial := benchTransport(b, kind)
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), l) }()
	conn, err := dial()
	if err != nil {
		b.Fatal(err)
	}
	c := NewClient(conn)
	b.Cleanup(func() {
		c.Close()
		s.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			b.Errorf("Serve: %v", err)
		}
	})
	return c
}

func benchCall(b *testing.B, c *Client, req, resp *types.BytesValue) {
	if err := c.Call(context.Background(), benchService, "Echo", req, resp); err != nil {
		b.Fatal(err)
	}
	if len(resp.Value) != len(req.Value) {
		b.Fatalf("echo returned %d bytes, sent %d", len(resp.Value), len(req.Value))
	}
}

// BenchmarkRoundTrip: one caller, one call at a time.
func BenchmarkRoundTrip(b *testing.B) {
	for _, kind := range []string{"unix", "pipe"} {
		for _, sz := range benchSizes {
			b.Run(kind+"/"+sz.name, func(b *testing.B) {
				c := benchClient(b, kind)
				req := &types.BytesValue{Value: make([]byte, sz.n)}
				resp := &types.BytesValue{}
				benchCall(b, c, req, resp) // warm up connection and pools
				b.SetBytes(int64(2 * sz.n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					benchCall(b, c, req, resp)
				}
			})
		}
	}
}

// BenchmarkRoundTripDeadline: the serial 1 KiB call with a context that has
// a deadline, as most real calls have: on a unix socket the caller reads its
// own reply and must be interruptible, which costs a context.AfterFunc.
func BenchmarkRoundTripDeadline(b *testing.B) {
	for _, kind := range []string{"unix", "pipe"} {
		b.Run(kind+"/1KiB", func(b *testing.B) {
			c := benchClient(b, kind)
			req := &types.BytesValue{Value: make([]byte, 1<<10)}
			resp := &types.BytesValue{}
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			b.SetBytes(2 << 10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.Call(ctx, benchService, "Echo", req, resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// runCallers makes b.N calls from callers goroutines sharing one client, and
// reports calls/s.
func runCallers(b *testing.B, c *Client, callers, size int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	b.SetBytes(int64(2 * size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < callers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &types.BytesValue{Value: make([]byte, size)}
			resp := &types.BytesValue{}
			for next.Add(1) <= int64(b.N) {
				if err := c.Call(context.Background(), benchService, "Echo", req, resp); err != nil {
					errs <- err
					return
				}
				if len(resp.Value) != size {
					errs <- fmt.Errorf("echo returned %d bytes, sent %d", len(resp.Value), size)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
}

// BenchmarkConcurrent: 1, 8 and 64 callers × 1 KiB on one connection.
func BenchmarkConcurrent(b *testing.B) {
	for _, kind := range []string{"unix", "pipe"} {
		for _, callers := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/callers=%d/1KiB", kind, callers), func(b *testing.B) {
				c := benchClient(b, kind)
				benchCall(b, c, &types.BytesValue{Value: make([]byte, 1024)}, &types.BytesValue{})
				runCallers(b, c, callers, 1<<10)
			})
		}
	}
}

// BenchmarkBulk: 8 callers × 64 KiB and × 1 MiB each way on one connection
// (the 1.0 line deadlocks here).
func BenchmarkBulk(b *testing.B) {
	for _, kind := range []string{"unix", "pipe"} {
		for _, sz := range benchSizes[2:] {
			b.Run(fmt.Sprintf("%s/callers=8/%s", kind, sz.name), func(b *testing.B) {
				c := benchClient(b, kind)
				runCallers(b, c, 8, sz.n)
			})
		}
	}
}

// BenchmarkCodec: the envelope codecs alone.
func BenchmarkCodec(b *testing.B) {
	payload := make([]byte, 1<<10)
	req := &Request{
		Service:     "containerd.task.v2.Task",
		Method:      "State",
		Payload:     payload,
		TimeoutNano: int64(10 * time.Second),
		Metadata:    []*KeyValue{{Key: "containerd-namespace", Value: "k8s.io"}},
	}
	resp := &Response{Payload: payload}
	reqBytes, _ := req.Marshal()
	respBytes, _ := resp.Marshal()
	buf := make([]byte, 0, 4096)

	b.Run("Request/Encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(reqBytes)))
		for i := 0; i < b.N; i++ {
			buf = req.appendTo(buf[:0])
		}
	})
	b.Run("Request/Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(reqBytes)))
		var r Request
		for i := 0; i < b.N; i++ {
			if err := r.Unmarshal(reqBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Request/DecodeServer", func(b *testing.B) {
		// What the server does: fields alias the frame buffer.
		b.ReportAllocs()
		b.SetBytes(int64(len(reqBytes)))
		for i := 0; i < b.N; i++ {
			var r rawRequest
			if err := r.decode(reqBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Response/Encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(respBytes)))
		for i := 0; i < b.N; i++ {
			buf = resp.appendTo(buf[:0])
		}
	})
	b.Run("Response/Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(respBytes)))
		var r Response
		for i := 0; i < b.N; i++ {
			if err := r.Unmarshal(respBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Response/DecodeClient", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(respBytes)))
		for i := 0; i < b.N; i++ {
			var r Response
			if err := r.decode(respBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// rawEcho is the baseline: a peer that echoes bare frames, and a client that
// writes one frame and reads one back. Both sides write a frame with a single
// Write and read through a bufio.Reader, as the library does.
type rawEcho struct {
	conn net.Conn
	br   *bufio.Reader
	buf  []byte
	hdr  [messageHeaderLength]byte
}

func startRawEcho(b *testing.B, kind string) *rawEcho {
	b.Helper()
	l, dial := benchTransport(b, kind)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		br := bufio.NewReaderSize(conn, 16<<10)
		buf := make([]byte, 0, 64<<10)
		for {
			var h [messageHeaderLength]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint32(h[:4]))
			if cap(buf) < messageHeaderLength+n {
				buf = make([]byte, 0, messageHeaderLength+n)
			}
			buf = append(buf[:0], h[:]...)
			buf = buf[:messageHeaderLength+n]
			if _, err := io.ReadFull(br, buf[messageHeaderLength:]); err != nil {
				return
			}
			buf[8] = byte(messageTypeResponse)
			if _, err := conn.Write(buf); err != nil {
				return
			}
		}
	}()
	conn, err := dial()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn.Close()
		l.Close()
		wg.Wait()
	})
	return &rawEcho{conn: conn, br: bufio.NewReaderSize(conn, 16<<10)}
}

func (r *rawEcho) roundTrip(b *testing.B, n int) {
	if cap(r.buf) < messageHeaderLength+n {
		r.buf = make([]byte, messageHeaderLength+n)
	}
	f := r.buf[:messageHeaderLength+n]
	putHeader(f, messageHeader{Length: uint32(n), StreamID: 1, Type: messageTypeRequest})
	if _, err := r.conn.Write(f); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		b.Fatal(err)
	}
	got := int(binary.BigEndian.Uint32(r.hdr[:4]))
	if got != n {
		b.Fatalf("raw echo returned %d bytes, sent %d", got, n)
	}
	if _, err := io.ReadFull(r.br, f[messageHeaderLength:]); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRaw: the floor for a serial round trip on each transport.
func BenchmarkRaw(b *testing.B) {
	for _, kind := range []string{"unix", "pipe"} {
		for _, sz := range benchSizes {
			b.Run(kind+"/"+sz.name, func(b *testing.B) {
				r := startRawEcho(b, kind)
				r.roundTrip(b, sz.n)
				b.SetBytes(int64(2 * sz.n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r.roundTrip(b, sz.n)
				}
			})
		}
	}
}

// BenchmarkVsRaw runs ttrpc and raw serial round trips interleaved in small
// chunks, so that both see the same machine load, and reports ttrpc's time
// per call, the raw time per call and their ratio ("x-raw", lower is better).
func BenchmarkVsRaw(b *testing.B) {
	for _, kind := range []string{"unix", "pipe"} {
		for _, sz := range benchSizes {
			b.Run(kind+"/"+sz.name, func(b *testing.B) {
				c := benchClient(b, kind)
				r := startRawEcho(b, kind)
				req := &types.BytesValue{Value: make([]byte, sz.n)}
				resp := &types.BytesValue{}
				benchCall(b, c, req, resp)
				r.roundTrip(b, sz.n)
				var tRPC, tRaw time.Duration
				b.ResetTimer()
				for done := 0; done < b.N; {
					chunk := 64
					if b.N-done < chunk {
						chunk = b.N - done
					}
					t0 := time.Now()
					for i := 0; i < chunk; i++ {
						r.roundTrip(b, sz.n)
					}
					t1 := time.Now()
					for i := 0; i < chunk; i++ {
						benchCall(b, c, req, resp)
					}
					tRPC += time.Since(t1)
					tRaw += t1.Sub(t0)
					done += chunk
				}
				b.StopTimer()
				b.ReportMetric(float64(tRPC.Nanoseconds())/float64(b.N), "ttrpc-ns/op")
				b.ReportMetric(float64(tRaw.Nanoseconds())/float64(b.N), "raw-ns/op")
				b.ReportMetric(float64(tRPC)/float64(tRaw), "x-raw")
			})
		}
	}
}
