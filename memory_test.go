package ttrpc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc/internal/faultconn"
	"github.com/gogo/protobuf/types"
)

// Memory figures. Run with -v to see them; docs/memory.md records them:
//
//	go test -run 'TestMemory' -count=1 -v .

// liveMemory is the heap in use plus goroutine stacks, after collecting
// garbage (three cycles, so sync.Pool's victim cache is empty too).
func liveMemory() (heap, stack uint64) {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// TestMemoryStalledLargeFrames: many peers each announce a 4 MiB frame, send
// a few bytes of it and stall. The server commits a first chunk per
// connection, not 4 MiB.
func TestMemoryStalledLargeFrames(t *testing.T) {
	relCheckLeaks(t)
	const conns = 64
	l := faultconn.NewPipeListener()
	s := relServe(t, l, map[string]Method{"Echo": relEcho})

	heap0, stack0 := liveMemory()
	peers := make([]net.Conn, 0, conns)
	defer func() {
		for _, p := range peers {
			p.Close()
		}
		relWaitConns(t, s, 0, 10*time.Second)
	}()
	for i := 0; i < conns; i++ {
		p, err := l.Dial()
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
		// net.Pipe is synchronous: when a write returns, the server has
		// read it. The second write returns only once the server's reader
		// is inside the frame's data, its buffer allocated.
		if _, err := p.Write(fzJoin(fzHeaderOnly(1, messageTypeRequest, messageLengthMax), make([]byte, 100))); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Write([]byte{0}); err != nil {
			t.Fatal(err)
		}
	}
	heap1, stack1 := liveMemory()
	perConn := (int64(heap1) - int64(heap0) + int64(stack1) - int64(stack0)) / conns
	t.Logf("%d connections stalled inside a 4 MiB frame: heap +%d KiB, stacks +%d KiB, %d KiB per connection",
		conns, (int64(heap1)-int64(heap0))>>10, (int64(stack1)-int64(stack0))>>10, perConn>>10)
	if perConn > 256<<10 {
		t.Errorf("a stalled 4 MiB frame costs %d KiB per connection, want well under 4 MiB", perConn>>10)
	}
}

// TestMemoryGrowthFollowsData: a peer that has sent part of a large frame
// costs memory in proportion to what it sent (the buffer grows by 8x steps
// as data arrives), not the announced size.
func TestMemoryGrowthFollowsData(t *testing.T) {
	relCheckLeaks(t)
	l := faultconn.NewPipeListener()
	s := relServe(t, l, map[string]Method{"Echo": relEcho})
	const conns = 16
	for _, sent := range []int{1 << 10, 100 << 10, 600 << 10} {
		heap0, _ := liveMemory()
		var peers []net.Conn
		for i := 0; i < conns; i++ {
			p, err := l.Dial()
			if err != nil {
				t.Fatal(err)
			}
			peers = append(peers, p)
			if _, err := p.Write(fzJoin(fzHeaderOnly(1, messageTypeRequest, messageLengthMax), make([]byte, sent))); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Write([]byte{0}); err != nil {
				t.Fatal(err)
			}
		}
		heap1, _ := liveMemory()
		perConn := (int64(heap1) - int64(heap0)) / conns
		t.Logf("stalled after %d KiB of a 4 MiB frame: %d KiB per connection", sent>>10, perConn>>10)
		limit := int64(128<<10) + 8*int64(sent) + 64<<10
		if perConn > limit {
			t.Errorf("after %d KiB sent: %d KiB per connection, want <= %d KiB", sent>>10, perConn>>10, limit>>10)
		}
		for _, p := range peers {
			p.Close()
		}
		relWaitConns(t, s, 0, 10*time.Second)
	}
}

// TestMemoryBurstReturnsToBaseline: after a burst of large messages on many
// connections (concurrent calls, then one lone call per connection) the
// pooled buffers do not pin the heap, whether the connections are closed or
// left open and idle.
func TestMemoryBurstReturnsToBaseline(t *testing.T) {
	for _, tr := range stressTransports {
		tr := tr
		t.Run(tr.name, func(t *testing.T) {
			relCheckLeaks(t)
			l, dial := tr.listen(t)
			s := relServe(t, l, map[string]Method{"Echo": relEcho})
			payload := bytes.Repeat([]byte{'m'}, 3<<20)
			heap0, _ := liveMemory()

			const conns, perConn = 4, 4
			clients := make([]*Client, conns)
			for i := range clients {
				conn, err := dial()
				if err != nil {
					t.Fatal(err)
				}
				clients[i] = NewClient(conn)
			}
			var wg sync.WaitGroup
			errs := make(chan error, conns*perConn)
			for _, c := range clients {
				for j := 0; j < perConn; j++ {
					wg.Add(1)
					go func(c *Client) {
						defer wg.Done()
						got, err := relCall(c, payload, 30*time.Second)
						if err == nil && !bytes.Equal(got, payload) {
							err = errors.New("wrong echo")
						}
						errs <- err
					}(c)
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("burst call: %v", err)
				}
			}
			for _, c := range clients {
				if got, err := relCall(c, payload, 30*time.Second); err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("lone call: %v", err)
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak := ms.HeapAlloc

			relWaitIdle(t, s, 10*time.Second)
			heapIdle, _ := liveMemory()
			for _, c := range clients {
				c.Close()
			}
			relWaitConns(t, s, 0, 10*time.Second)
			heapClosed, _ := liveMemory()
			t.Logf("%s: burst of %d x 3 MiB echoes: heap before %d KiB, at the end of the burst %d KiB (garbage included), idle connections open %d KiB, closed %d KiB",
				tr.name, conns*(perConn+1), heap0>>10, peak>>10, heapIdle>>10, heapClosed>>10)
			if int64(heapIdle)-int64(heap0) > 2<<20 {
				t.Errorf("idle connections pin %d KiB after the burst", (int64(heapIdle)-int64(heap0))>>10)
			}
			if int64(heapClosed)-int64(heap0) > 1<<20 {
				t.Errorf("closed connections leave %d KiB after the burst", (int64(heapClosed)-int64(heap0))>>10)
			}
			runtime.KeepAlive(payload)
		})
	}
}

// TestMemoryOneCall measures one in-flight call of the largest payload: the
// live heap while its handler runs, and what the round trip allocates once
// the pools are warm.
func TestMemoryOneCall(t *testing.T) {
	relCheckLeaks(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	l, path := relUnixListener(t)
	s := relServe(t, l, map[string]Method{
		"Echo": relEcho,
		"Hold": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var v types.BytesValue
			if err := unmarshal(&v); err != nil {
				return nil, err
			}
			entered <- struct{}{}
			<-release
			return &v, nil
		},
	})
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn)
	defer c.Close()
	n := maxStressValue()
	payload := stressBlock[:n]

	// Warm the pools, then count what one more round trip allocates.
	for i := 0; i < 2; i++ {
		if got, err := relCall(c, payload, 30*time.Second); err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("warm-up: %v", err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := relCall(c, payload, 30*time.Second)
	runtime.ReadMemStats(&after)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	got = nil

	relWaitIdle(t, s, 10*time.Second)
	heap0, _ := liveMemory()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- c.Call(ctx, relService, "Hold", &types.BytesValue{Value: payload}, &types.BytesValue{})
	}()
	relWait(t, entered, 30*time.Second, "the handler")
	heap1, _ := liveMemory()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	held := int64(heap1) - int64(heap0)
	t.Logf("one %d-byte echo: %d KiB allocated per round trip with warm pools; %d KiB live while its handler runs",
		n, alloc>>10, held>>10)
	if held > 3*messageLengthMax {
		t.Errorf("one in-flight 4 MiB call holds %d KiB", held>>10)
	}
}

// TestMemoryIdleConnection measures an idle connection, both ends, after
// one small call: buffered reader and writer state, goroutines and their
// stacks.
func TestMemoryIdleConnection(t *testing.T) {
	relCheckLeaks(t)
	l := faultconn.NewPipeListener()
	s := relServe(t, l, map[string]Method{"Echo": relEcho})
	const conns = 64
	heap0, stack0 := liveMemory()
	clients := make([]*Client, conns)
	for i := range clients {
		conn, err := l.Dial()
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = NewClient(conn)
		if _, err := relCall(clients[i], []byte("x"), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	relWaitIdle(t, s, 10*time.Second)
	heap1, stack1 := liveMemory()
	dh, ds := int64(heap1)-int64(heap0), int64(stack1)-int64(stack0)
	t.Logf("idle connection after one call, client and server ends: heap %d KiB + stacks %d KiB = %d KiB",
		dh/conns>>10, ds/conns>>10, (dh+ds)/conns>>10)
	if (dh+ds)/conns > 128<<10 {
		t.Errorf("an idle connection costs %d KiB", (dh+ds)/conns>>10)
	}
	for _, c := range clients {
		c.Close()
	}
	relWaitConns(t, s, 0, 10*time.Second)
}
