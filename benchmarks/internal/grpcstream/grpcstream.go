// Package grpcstream is the streaming service of the comparison for grpc-go,
// the same service and workloads as internal/ttrpcstream (see there): the
// bench.Stream service with Download (server stream) and Echo (bidi), on
// wrapperspb.BytesValue.
package grpcstream

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Service names the streams on the wire.
const Service = "bench.Stream"

var desc = grpc.ServiceDesc{
	ServiceName: Service,
	HandlerType: (*interface{})(nil),
	Streams: []grpc.StreamDesc{
		{StreamName: "Download", ServerStreams: true, Handler: func(_ interface{}, ss grpc.ServerStream) error {
			req := &wrapperspb.BytesValue{}
			if err := ss.RecvMsg(req); err != nil {
				return err
			}
			if len(req.Value) != 8 {
				return fmt.Errorf("bad Download request: %d bytes", len(req.Value))
			}
			n := binary.BigEndian.Uint32(req.Value)
			m := &wrapperspb.BytesValue{Value: make([]byte, binary.BigEndian.Uint32(req.Value[4:]))}
			for i := uint32(0); i < n; i++ {
				if err := ss.SendMsg(m); err != nil {
					return err
				}
			}
			return nil
		}},
		{StreamName: "Echo", ServerStreams: true, ClientStreams: true, Handler: func(_ interface{}, ss grpc.ServerStream) error {
			m := &wrapperspb.BytesValue{}
			for {
				err := ss.RecvMsg(m)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := ss.SendMsg(m); err != nil {
					return err
				}
			}
		}},
	},
	Metadata: "stream.proto",
}

// Register adds the bench.Stream service to s.
func Register(s *grpc.Server) { s.RegisterService(&desc, struct{}{}) }

var (
	downloadDesc = &grpc.StreamDesc{StreamName: "Download", ServerStreams: true}
	echoDesc     = &grpc.StreamDesc{StreamName: "Echo", ServerStreams: true, ClientStreams: true}
)

func downloadOnce(ctx context.Context, c *grpc.ClientConn, n, size int) (int, error) {
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req, uint32(n))
	binary.BigEndian.PutUint32(req[4:], uint32(size))
	s, err := c.NewStream(ctx, downloadDesc, "/"+Service+"/Download")
	if err != nil {
		return 0, err
	}
	if err := s.SendMsg(&wrapperspb.BytesValue{Value: req}); err != nil {
		return 0, err
	}
	if err := s.CloseSend(); err != nil {
		return 0, err
	}
	m := &wrapperspb.BytesValue{}
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

// ServerStreams is ttrpcstream.ServerStreams with grpc-go.
func ServerStreams(c *grpc.ClientConn, streams, perStream, size int, d time.Duration) (float64, error) {
	ctx := context.Background()
	if _, err := downloadOnce(ctx, c, 256, size); err != nil {
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

// BidiEcho is ttrpcstream.BidiEcho with grpc-go.
func BidiEcho(c *grpc.ClientConn, size, inflight int, d time.Duration) (float64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.NewStream(ctx, echoDesc, "/"+Service+"/Echo")
	if err != nil {
		return 0, err
	}
	out := &wrapperspb.BytesValue{Value: make([]byte, size)}
	in := &wrapperspb.BytesValue{}
	recv := func() error {
		if err := s.RecvMsg(in); err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		if len(in.Value) != size {
			return fmt.Errorf("echo: echo of %d bytes, sent %d", len(in.Value), size)
		}
		return nil
	}
	for i := 0; i < 100; i++ {
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
		pending := make(chan struct{}, inflight)
		sendErr := make(chan error, 1)
		go func() {
			defer close(pending)
			for time.Now().Before(end) {
				pending <- struct{}{}
				if err := s.SendMsg(out); err != nil {
					sendErr <- err
					cancel()
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

// ShortStreams is ttrpcstream.ShortStreams with grpc-go.
func ShortStreams(c *grpc.ClientConn, size int, d time.Duration) (float64, error) {
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
