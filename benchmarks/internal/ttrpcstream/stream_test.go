package ttrpcstream

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/containerd/ttrpc"
)

// In-process benchmarks of the stream workloads (client and server in this
// process, over a unix socket), for profiling:
//
//	go test -run '^$' -bench . -cpuprofile cpu.out ./internal/ttrpcstream
//
// One op is one message (BenchmarkShortStream: one stream). cmd/compare
// measures the same workloads with the client and the server in separate
// processes. To profile the client alone against a server in another
// process, start one (go run ./cmd/compare -serve ttrpc -sock PATH, which
// prints "ready") and set TTRPCSTREAM_SOCK=PATH.

func startServer(b *testing.B) *ttrpc.Client {
	b.Helper()
	if sock := os.Getenv("TTRPCSTREAM_SOCK"); sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		c := ttrpc.NewClient(conn)
		b.Cleanup(func() { c.Close() })
		return c
	}
	dir, err := os.MkdirTemp("", "tsb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	s, err := ttrpc.NewServer()
	if err != nil {
		b.Fatal(err)
	}
	Register(s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(context.Background(), l)
	}()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	c := ttrpc.NewClient(conn)
	b.Cleanup(func() {
		c.Close()
		s.Close()
		<-done
	})
	return c
}

func BenchmarkServerStream(b *testing.B) {
	c := startServer(b)
	if _, err := downloadOnce(context.Background(), c, 256, 1024); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := downloadOnce(context.Background(), c, b.N, 1024); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkServerStreams8(b *testing.B) {
	c := startServer(b)
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		n := b.N / 8
		if i < b.N%8 {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := downloadOnce(context.Background(), c, n, 1024); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
}

func BenchmarkBidiEcho(b *testing.B) {
	c := startServer(b)
	s, err := c.NewStream(context.Background(), bidiDesc, Service, "Echo", nil)
	if err != nil {
		b.Fatal(err)
	}
	out, in := newPayload(make([]byte, 1024)), newPayload(nil)
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.SendMsg(out); err != nil {
			b.Fatal(err)
		}
		if err := s.RecvMsg(in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.CloseSend()
	s.RecvMsg(in)
}

// BenchmarkShortStream: one op is a stream opened, its one message read and
// its end seen, with nothing else in flight on the connection.
func BenchmarkShortStream(b *testing.B) {
	c := startServer(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := downloadOnce(context.Background(), c, 1, 1024); err != nil {
			b.Fatal(err)
		}
	}
}
