// Package codegentest_test calls the code protoc-gen-gogottrpc generated for
// the protos in this directory over real unix-socket connections. The
// generated files are the golden files of cmd/protoc-gen-gogottrpc.
package codegentest_test

import (
	"context"
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/containerd/ttrpc"
	clash "github.com/containerd/ttrpc/internal/codegentest/clash/ttrpc"
	"github.com/containerd/ttrpc/internal/codegentest/common"
	"github.com/containerd/ttrpc/internal/codegentest/multi"
)

// geometry implements multi.GeometryService.
type geometry struct{}

func (geometry) Area(ctx context.Context, s *common.Shape) (*multi.AreaResult, error) {
	if len(s.Points) < 3 {
		return nil, status.Errorf(codes.InvalidArgument, "shape %q has %d points, need 3", s.Name, len(s.Points))
	}
	// Shoelace formula.
	var twice int64
	for i, p := range s.Points {
		q := s.Points[(i+1)%len(s.Points)]
		twice += p.X*q.Y - q.X*p.Y
	}
	if twice < 0 {
		twice = -twice
	}
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return &multi.AreaResult{Area: float64(twice) / 2, ComputedAt: &at}, nil
}

func (geometry) Describe(ctx context.Context, l *common.Shape_Label) (*multi.Outer_Inner, error) {
	return &multi.Outer_Inner{Text: "label " + l.Text, Color: l.Color}, nil
}

func (geometry) Ping(ctx context.Context, _ *types.Empty) (*types.Empty, error) {
	return &types.Empty{}, nil
}

// Watch sends the points from p to (p.X+p.Y, 0) along the x axis, then
// fails with OUT_OF_RANGE if p.Y is negative.
func (geometry) Watch(ctx context.Context, p *common.Point, s multi.Geometry_WatchServer) error {
	for x := p.X; x < p.X+abs(p.Y); x++ {
		if err := s.Send(&common.Point{X: x}); err != nil {
			return err
		}
	}
	if p.Y < 0 {
		return status.Errorf(codes.OutOfRange, "negative count %d", p.Y)
	}
	return nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// counter implements multi.CounterService.
type counter struct {
	mu    sync.Mutex
	total int64
}

func (c *counter) Add(ctx context.Context, r *multi.AddRequest) (*multi.AddResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += r.Delta
	return &multi.AddResponse{Total: c.total}, nil
}

func (c *counter) Reset(ctx context.Context, _ *types.Empty) (*types.Empty, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total = 0
	return &types.Empty{}, nil
}

func (c *counter) Old(ctx context.Context, r *multi.AddRequest) (*multi.AddResponse, error) {
	return c.Add(ctx, r)
}

// lower implements multi.LowerServiceService.
type lower struct{}

func (lower) DoThing(ctx context.Context, o *multi.Outer) (*clash.Tag, error) {
	if o.Inner == nil {
		return nil, nil // deliberately broken: no response and no error
	}
	tag := ""
	if o.Tag != nil {
		tag = o.Tag.Value
	}
	return &clash.Tag{Value: o.Inner.Text + "/" + tag}, nil
}

type nothing struct{}

// env is a server with every generated service registered, and a client
// connected to it over a unix socket.
type env struct {
	client *ttrpc.Client
	infos  chan string // FullMethod of each call the interceptor saw
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T) *env {
	t.Helper()
	e := &env{infos: make(chan string, 1024)}
	intercept := func(ctx context.Context, u ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (interface{}, error) {
		e.infos <- info.FullMethod
		return m(ctx, u)
	}
	srv, err := ttrpc.NewServer(
		ttrpc.WithUnaryServerInterceptor(intercept),
	)
	if err != nil {
		t.Fatal(err)
	}
	multi.RegisterGeometryService(srv, geometry{})
	multi.RegisterCounterService(srv, &counter{})
	multi.RegisterNothingService(srv, nothing{})
	multi.RegisterLowerServiceService(srv, lower{})

	dir, err := os.MkdirTemp("", "cgt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()

	conn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	e.client = ttrpc.NewClient(conn)
	t.Cleanup(func() {
		e.client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-served:
			if !errors.Is(err, ttrpc.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-ctx.Done():
			t.Error("Serve did not return after Shutdown")
		}
	})
	return e
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", code)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("got error %v, want code %v", err, code)
	}
}

// TestTypesFromAnotherPackage calls rpcs whose request and response types
// are in other proto packages, nested, and well-known (gogo types.Empty).
func TestTypesFromAnotherPackage(t *testing.T) {
	e := start(t)
	ctx := testContext(t)
	g := multi.NewGeometryClient(e.client)

	res, err := g.Area(ctx, &common.Shape{
		Name:   "square",
		Points: []*common.Point{{X: 0, Y: 0}, {X: 4, Y: 0}, {X: 4, Y: 4}, {X: 0, Y: 4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Area != 16 {
		t.Errorf("area = %v, want 16", res.Area)
	}
	if want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC); res.ComputedAt == nil || !res.ComputedAt.Equal(want) {
		t.Errorf("computed_at = %v, want %v", res.ComputedAt, want)
	}

	inner, err := g.Describe(ctx, &common.Shape_Label{Text: "x", Color: common.Color_COLOR_BLUE})
	if err != nil {
		t.Fatal(err)
	}
	if inner.Text != "label x" || inner.Color != common.Color_COLOR_BLUE {
		t.Errorf("Describe = %+v", inner)
	}

	if _, err := g.Ping(ctx, &types.Empty{}); err != nil {
		t.Fatal(err)
	}

	_, err = g.Area(ctx, &common.Shape{Name: "line", Points: []*common.Point{{}, {X: 1}}})
	wantCode(t, err, codes.InvalidArgument)

	for _, want := range []string{
		"/ttrpc.codegentest.multi.Geometry/Area",
		"/ttrpc.codegentest.multi.Geometry/Describe",
		"/ttrpc.codegentest.multi.Geometry/Ping",
		"/ttrpc.codegentest.multi.Geometry/Area",
	} {
		if got := <-e.infos; got != want {
			t.Errorf("server saw call %q, want %q", got, want)
		}
	}
}

// TestStreamingRPC calls the server-streaming rpc of the gogo code: every
// message arrives in order, then io.EOF or the handler's error; an empty
// request still reaches the handler; the unary rpcs of the same service
// keep working on the same connection.
func TestStreamingRPC(t *testing.T) {
	e := start(t)
	ctx := testContext(t)
	g := multi.NewGeometryClient(e.client)

	for _, tc := range []struct {
		from *common.Point
		want int
		code codes.Code
	}{
		{&common.Point{X: 10, Y: 3}, 3, codes.OK},
		{&common.Point{}, 0, codes.OK},
		{&common.Point{X: 1, Y: -2}, 2, codes.OutOfRange},
	} {
		stream, err := g.Watch(ctx, tc.from)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < tc.want; i++ {
			p, err := stream.Recv()
			if err != nil {
				t.Fatalf("Watch(%v) message %d: %v", tc.from, i, err)
			}
			if p.X != tc.from.X+int64(i) {
				t.Errorf("Watch(%v) message %d = %v", tc.from, i, p)
			}
		}
		_, err = stream.Recv()
		if tc.code == codes.OK {
			if err != io.EOF {
				t.Fatalf("Watch(%v) ended with %v, want io.EOF", tc.from, err)
			}
		} else {
			wantCode(t, err, tc.code)
		}
	}
	if _, err := g.Ping(ctx, &types.Empty{}); err != nil {
		t.Fatal(err)
	}
}

// TestSamePackageTypesAndConcurrency uses the Counter client from many
// goroutines at once; every Add must be counted exactly once.
func TestSamePackageTypesAndConcurrency(t *testing.T) {
	e := start(t)
	ctx := testContext(t)
	c := multi.NewCounterClient(e.client)

	const workers, each = 8, 25
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := c.Add(ctx, &multi.AddRequest{Delta: 1}); err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d Add calls failed", n)
	}
	//lint:ignore SA1019 the deprecated rpc is exercised on purpose
	res, err := c.Old(ctx, &multi.AddRequest{Delta: 0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != workers*each {
		t.Errorf("total = %d, want %d", res.Total, workers*each)
	}
	if _, err := c.Reset(ctx, &types.Empty{}); err != nil {
		t.Fatal(err)
	}
	res, err = c.Add(ctx, &multi.AddRequest{Delta: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 5 {
		t.Errorf("total after Reset+Add(5) = %d, want 5", res.Total)
	}
}

// TestProtoNamesOnTheWire checks that the service and method names sent are
// the proto names (lower_service, do_thing), not the Go names, by calling
// through the generated client and through Client.Call directly.
func TestProtoNamesOnTheWire(t *testing.T) {
	e := start(t)
	ctx := testContext(t)

	tag, err := multi.NewLowerServiceClient(e.client).DoThing(ctx, &multi.Outer{
		Inner: &multi.Outer_Inner{Text: "in"},
		Tag:   &clash.Tag{Value: "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tag.Value != "in/t" {
		t.Errorf("DoThing = %q, want %q", tag.Value, "in/t")
	}
	if got, want := <-e.infos, "/ttrpc.codegentest.multi.lower_service/do_thing"; got != want {
		t.Errorf("server saw %q, want %q", got, want)
	}

	var raw clash.Tag
	req := &multi.Outer{Inner: &multi.Outer_Inner{Text: "raw"}}
	if err := e.client.Call(ctx, "ttrpc.codegentest.multi.lower_service", "do_thing", req, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Value != "raw/" {
		t.Errorf("raw call = %q, want %q", raw.Value, "raw/")
	}
	err = e.client.Call(ctx, "ttrpc.codegentest.multi.LowerService", "DoThing", req, &raw)
	wantCode(t, err, codes.Unimplemented)
}

// TestNilResponseDoesNotBreakServer checks that a service implementation
// returning neither a response nor an error (a typed nil pointer, once the
// generated stub returns it as interface{}) neither crashes the server nor
// disturbs the connection. The call itself yields an error or an empty
// message, as the established implementation does.
func TestNilResponseDoesNotBreakServer(t *testing.T) {
	e := start(t)
	ctx := testContext(t)
	l := multi.NewLowerServiceClient(e.client)
	resp, err := l.DoThing(ctx, &multi.Outer{})
	if err == nil && (resp == nil || resp.Value != "") {
		t.Fatalf("DoThing returned %v; want an error or an empty Tag", resp)
	}
	if _, err := multi.NewGeometryClient(e.client).Ping(ctx, &types.Empty{}); err != nil {
		t.Fatalf("connection unusable after the nil response: %v", err)
	}
}

// TestServiceWithoutMethods checks that the method-less service registers,
// its client constructs, and calls to it are UNIMPLEMENTED (the default
// unknown-method code).
func TestServiceWithoutMethods(t *testing.T) {
	e := start(t)
	ctx := testContext(t)
	var svc multi.NothingService = multi.NewNothingClient(e.client)
	if svc == nil {
		t.Fatal("NewNothingClient returned nil")
	}
	var resp types.Empty
	err := e.client.Call(ctx, "ttrpc.codegentest.multi.Nothing", "Anything", &types.Empty{}, &resp)
	wantCode(t, err, codes.Unimplemented)
}

// TestMetadataAndDeadlineReachHandler checks that metadata and the deadline
// set on the caller's context reach the service implementation through the
// generated stubs.
func TestMetadataAndDeadlineReachHandler(t *testing.T) {
	type seen struct {
		md       ttrpc.MD
		deadline time.Time
		ok       bool
	}
	got := make(chan seen, 1)
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	multi.RegisterCounterService(srv, probe(func(ctx context.Context) {
		md, _ := ttrpc.GetMetadata(ctx)
		dl, ok := ctx.Deadline()
		got <- seen{md, dl, ok}
	}))
	dir, err := os.MkdirTemp("", "cgt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go srv.Serve(context.Background(), l)
	conn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()

	deadline := time.Now().Add(20 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ctx = ttrpc.WithMetadata(ctx, ttrpc.MD{"x-test": {"a", "b"}})
	if _, err := multi.NewCounterClient(client).Add(ctx, &multi.AddRequest{Delta: 1}); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if v, ok := s.md.Get("x-test"); !ok || fmt.Sprint(v) != "[a b]" {
		t.Errorf("handler saw metadata %v, want x-test=[a b]", s.md)
	}
	if !s.ok {
		t.Fatal("handler context has no deadline")
	}
	if d := s.deadline.Sub(deadline); d > time.Second || d < -time.Second {
		t.Errorf("handler deadline %v, caller deadline %v", s.deadline, deadline)
	}
}

// probe is a CounterService whose Add reports its context.
type probe func(ctx context.Context)

func (p probe) Add(ctx context.Context, _ *multi.AddRequest) (*multi.AddResponse, error) {
	p(ctx)
	return &multi.AddResponse{}, nil
}

func (p probe) Reset(ctx context.Context, _ *types.Empty) (*types.Empty, error) {
	return &types.Empty{}, nil
}

func (p probe) Old(ctx context.Context, r *multi.AddRequest) (*multi.AddResponse, error) {
	return p.Add(ctx, r)
}
