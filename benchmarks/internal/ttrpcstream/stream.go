// Package ttrpcstream is the streaming service of the comparison and its
// client workloads, written against the 1.2 streaming API that this module
// and the established ttrpc v1.2.10 share. This file is identical in
// benchmarks/internal/ttrpcstream (this module's ttrpc, gogo-generated
// Payload) and benchmarks/established/v1.2.10/internal/ttrpcstream (ttrpc
// v1.2.10, APIv2 wrapperspb.BytesValue); only payload.go differs.
// established/v1.2.10/sync.sh copies it; cmd/compare refuses to run while
// the copies differ.
//
// The service, "bench.Stream":
//
//	Download(Payload) stream Payload   the request's value is 8 bytes: the
//	                                   count and the size of the messages to
//	                                   send (big-endian uint32 each); the
//	                                   handler sends them, then ends cleanly
//	Echo(stream Payload) stream Payload  echoes every message until the
//	                                   client closes its side
package ttrpcstream

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/ttrpc"
)

// Service names the streams on the wire.
const Service = "bench.Stream"

// Register adds the bench.Stream service to s.
func Register(s *ttrpc.Server) {
	s.RegisterService(Service, &ttrpc.ServiceDesc{
		Streams: map[string]ttrpc.Stream{
			"Download": {StreamingServer: true, Handler: download},
			"Echo":     {StreamingClient: true, StreamingServer: true, Handler: echo},
		},
	})
}

func download(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
	req := newPayload(nil)
	if err := ss.RecvMsg(req); err != nil {
		return nil, err
	}
	if len(req.Value) != 8 {
		return nil, fmt.Errorf("bad Download request: %d bytes", len(req.Value))
	}
	n := binary.BigEndian.Uint32(req.Value)
	m := newPayload(make([]byte, binary.BigEndian.Uint32(req.Value[4:])))
	for i := uint32(0); i < n; i++ {
		if err := ss.SendMsg(m); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func echo(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
	m := newPayload(nil)
	for {
		err := ss.RecvMsg(m)
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if err := ss.SendMsg(m); err != nil {
			return nil, err
		}
	}
}

var (
	serverDesc = &ttrpc.StreamDesc{StreamingServer: true}
	bidiDesc   = &ttrpc.StreamDesc{StreamingClient: true, StreamingServer: true}
)

// download runs one Download stream of n messages of size and returns how
// many arrived.
func downloadOnce(ctx context.Context, c *ttrpc.Client, n, size int) (int, error) {
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req, uint32(n))
	binary.BigEndian.PutUint32(req[4:], uint32(size))
	s, err := c.NewStream(ctx, serverDesc, Service, "Download", newPayload(req))
	if err != nil {
		return 0, err
	}
	m := newPayload(nil)
	for got := 0; ; got++ {
		err := s.RecvMsg(m)
		if err == io.EOF {
			if got != n {
				return got, fmt.Errorf("download: %d messages, asked for %d", got, n)
			}
			return got, nil
		}
		if err != nil {
			return got, fmt.Errorf("download: after %d messages: %w", got, err)
		}
		if len(m.Value) != size {
			return got, fmt.Errorf("download: message of %d bytes, asked for %d", len(m.Value), size)
		}
	}
}

// ServerStreams runs streams goroutines on c, each opening Download streams
// of perStream messages of size one after another, for d; it returns the
// messages received per second, all streams together. Streams in progress
// at d are read to their end and counted.
func ServerStreams(c *ttrpc.Client, streams, perStream, size int, d time.Duration) (float64, error) {
	ctx := context.Background()
	if _, err := downloadOnce(ctx, c, 256, size); err != nil { // warm up
		return 0, err
	}
	var (
		total   atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				n, err := downloadOnce(ctx, c, perStream, size)
				total.Add(int64(n))
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds(), first
}

// BidiEcho runs one Echo stream on c for d with up to inflight messages of
// size sent and not yet echoed (1: each echo is read before the next message
// is sent); it returns the echoes received per second.
func BidiEcho(c *ttrpc.Client, size, inflight int, d time.Duration) (float64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.NewStream(ctx, bidiDesc, Service, "Echo", nil)
	if err != nil {
		return 0, err
	}
	out := newPayload(make([]byte, size))
	in := newPayload(nil)
	recv := func() error {
		if err := s.RecvMsg(in); err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		if len(in.Value) != size {
			return fmt.Errorf("echo: echo of %d bytes, sent %d", len(in.Value), size)
		}
		return nil
	}
	for i := 0; i < 100; i++ { // warm up
		if err := s.SendMsg(out); err != nil {
			return 0, err
		}
		if err := recv(); err != nil {
			return 0, err
		}
	}
	var (
		n     int64
		start = time.Now()
		end   = start.Add(d)
	)
	if inflight <= 1 {
		for time.Now().Before(end) {
			if err := s.SendMsg(out); err != nil {
				return 0, err
			}
			if err := recv(); err != nil {
				return 0, err
			}
			n++
		}
	} else {
		// The sender puts a token in pending before each message; the
		// receiver takes one before each echo. pending holds inflight
		// tokens, so at most inflight+1 messages are unanswered.
		pending := make(chan struct{}, inflight)
		sendErr := make(chan error, 1)
		go func() {
			defer close(pending)
			for time.Now().Before(end) {
				pending <- struct{}{}
				if err := s.SendMsg(out); err != nil {
					sendErr <- err
					cancel() // the receiver waits for an echo that will not come
					return
				}
			}
		}()
		for range pending {
			if err := recv(); err != nil {
				select {
				case serr := <-sendErr:
					return 0, serr
				default:
				}
				return 0, err
			}
			n++
		}
		select {
		case err := <-sendErr:
			return 0, err
		default:
		}
	}
	elapsed := time.Since(start)
	if err := s.CloseSend(); err != nil {
		return 0, err
	}
	if err := s.RecvMsg(in); err != io.EOF {
		return 0, fmt.Errorf("echo: end of stream: %v", err)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// ShortStreams opens Download streams of one message of size one after
// another on c for d, each read to its end before the next is opened, and
// returns the streams per second: the cost of a stream's start and end.
func ShortStreams(c *ttrpc.Client, size int, d time.Duration) (float64, error) {
	ctx := context.Background()
	for i := 0; i < 10; i++ { // warm up
		if _, err := downloadOnce(ctx, c, 1, size); err != nil {
			return 0, err
		}
	}
	var n int64
	start := time.Now()
	for time.Since(start) < d {
		if _, err := downloadOnce(ctx, c, 1, size); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
