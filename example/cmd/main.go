// Command cmd runs the example ttrpc service of package example.
//
// Usage:
//
//	go run ./example/cmd                     # server and client in one process
//	go run ./example/cmd server SOCKET       # serve on SOCKET until interrupted
//	go run ./example/cmd client SOCKET greet NAME
//	go run ./example/cmd client SOCKET put KEY VALUE
//	go run ./example/cmd client SOCKET get KEY
//	go run ./example/cmd client SOCKET list [PREFIX]
//
// With no arguments it starts a server on a temporary unix socket, calls it
// through the generated client with metadata and a deadline, prints the
// responses, one error and a server stream, shuts the server down gracefully
// and exits 0. On Linux the server accepts only peers running as the same
// user (elsewhere the socket's directory permissions do that job; see
// peer_other.go); it logs each call and stream with its metadata on standard
// error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/containerd/ttrpc"
	"github.com/containerd/ttrpc/example"
)

// callTimeout bounds every call the client makes.
const callTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  cmd                                run a server and a client in one process
  cmd server SOCKET                  serve on SOCKET until interrupted
  cmd client SOCKET greet NAME       call Greet
  cmd client SOCKET put KEY VALUE    call Put
  cmd client SOCKET get KEY          call Get
  cmd client SOCKET list [PREFIX]    call the List stream
`

// run executes the command line args and returns the exit code. Responses go
// to stdout; logs and errors go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var err error
	switch {
	case len(args) == 0:
		err = demo(ctx, stdout, logger)
	case args[0] == "server" && len(args) == 2:
		err = serve(ctx, args[1], stdout, logger)
	case args[0] == "client" && len(args) >= 3:
		err = client(ctx, args[1], args[2:], stdout)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

// service implements example.ExampleService.
type service struct {
	mu     sync.Mutex
	values map[string]string
}

func newService() *service { return &service{values: map[string]string{}} }

func (s *service) Greet(ctx context.Context, req *example.GreetRequest) (*example.GreetResponse, error) {
	if req.Name == "" {
		return nil, status.Error(codes.InvalidArgument, "name is empty")
	}
	resp := &example.GreetResponse{Greeting: "hello, " + req.Name}
	if md, ok := ttrpc.GetMetadata(ctx); ok {
		for k := range md {
			resp.MetadataKeys = append(resp.MetadataKeys, k)
		}
		sort.Strings(resp.MetadataKeys)
	}
	return resp, nil
}

func (s *service) Put(ctx context.Context, req *example.PutRequest) (*types.Empty, error) {
	if req.Key == "" {
		return nil, status.Error(codes.InvalidArgument, "key is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[req.Key] = req.Value
	return &types.Empty{}, nil
}

func (s *service) Get(ctx context.Context, req *example.GetRequest) (*example.GetResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[req.Key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no value for key %q", req.Key)
	}
	return &example.GetResponse{Key: req.Key, Value: v}, nil
}

// List is a server stream: it sends one message per matching key, then
// returns, which ends the stream.
func (s *service) List(ctx context.Context, req *example.ListRequest, stream example.Example_ListServer) error {
	s.mu.Lock()
	var matches []*example.GetResponse
	for k, v := range s.values {
		if strings.HasPrefix(k, req.Prefix) {
			matches = append(matches, &example.GetResponse{Key: k, Value: v})
		}
	}
	s.mu.Unlock()
	sort.Slice(matches, func(i, j int) bool { return matches[i].Key < matches[j].Key })
	for _, m := range matches {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return nil
}

// logCalls is a server interceptor that logs each call's method, metadata,
// duration and outcome.
func logCalls(logger *slog.Logger) ttrpc.UnaryServerInterceptor {
	return func(ctx context.Context, unmarshal ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, method ttrpc.Method) (interface{}, error) {
		start := time.Now()
		resp, err := method(ctx, unmarshal)
		attrs := []any{
			slog.String("method", info.FullMethod),
			slog.String("metadata", formatMD(ctx)),
			slog.Duration("duration", time.Since(start)),
		}
		if dl, ok := ctx.Deadline(); ok {
			attrs = append(attrs, slog.Duration("deadline_in", time.Until(dl).Round(time.Millisecond)))
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		logger.Info("ttrpc call", attrs...)
		return resp, err
	}
}

// logStreams is logCalls for streams.
func logStreams(logger *slog.Logger) ttrpc.StreamServerInterceptor {
	return func(ctx context.Context, ss ttrpc.StreamServer, info *ttrpc.StreamServerInfo, handler ttrpc.StreamHandler) (interface{}, error) {
		start := time.Now()
		resp, err := handler(ctx, ss)
		attrs := []any{
			slog.String("method", info.FullMethod),
			slog.String("metadata", formatMD(ctx)),
			slog.Duration("duration", time.Since(start)),
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		logger.Info("ttrpc stream", attrs...)
		return resp, err
	}
}

// formatMD renders the request's metadata as sorted key=value pairs. It
// only reads the MD: the library may share it.
func formatMD(ctx context.Context) string {
	md, ok := ttrpc.GetMetadata(ctx)
	if !ok {
		return ""
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strings.Join(md[k], ","))
	}
	return strings.Join(parts, " ")
}

// newServer returns a server for the example service that, where the
// platform can tell (see peerCheck), only accepts peers with this process's
// uid and gid.
func newServer(logger *slog.Logger) (*ttrpc.Server, error) {
	opts := append(peerCheck(),
		ttrpc.WithUnaryServerInterceptor(logCalls(logger)),
		ttrpc.WithStreamServerInterceptor(logStreams(logger)))
	srv, err := ttrpc.NewServer(opts...)
	if err != nil {
		return nil, err
	}
	example.RegisterExampleService(srv, newService())
	return srv, nil
}

// serve runs the server on socket until ctx ends, then shuts it down
// gracefully. It prints a line on stdout once it is listening.
func serve(ctx context.Context, socket string, stdout io.Writer, logger *slog.Logger) error {
	srv, err := newServer(logger)
	if err != nil {
		return err
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "listening on", socket)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	return shutdown(srv, served)
}

// shutdown stops srv gracefully, waiting at most 10 seconds, and checks
// that Serve ended as it should.
func shutdown(srv *ttrpc.Server, served <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, ttrpc.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// callContext returns a context with a deadline and the metadata every
// call of this program sends.
func callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	md := ttrpc.MD{}
	md.Set("x-client", "example-cmd")
	md.Set("x-request-id", fmt.Sprintf("req-%d", os.Getpid()))
	return ttrpc.WithMetadata(ctx, md), cancel
}

// dial connects a generated client to socket.
func dial(socket string) (example.ExampleClient, func() error, error) {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return nil, nil, err
	}
	c := ttrpc.NewClient(conn)
	return example.NewExampleClient(c), c.Close, nil
}

// describe renders an error from a call with its status code.
func describe(err error) string {
	if st, ok := status.FromError(err); ok {
		return fmt.Sprintf("%s: %s", st.Code(), st.Message())
	}
	return err.Error()
}

// client runs one call given on the command line.
func client(ctx context.Context, socket string, args []string, stdout io.Writer) error {
	svc, closeClient, err := dial(socket)
	if err != nil {
		return err
	}
	defer closeClient()
	ctx, cancel := callContext(ctx)
	defer cancel()

	switch {
	case args[0] == "greet" && len(args) == 2:
		resp, err := svc.Greet(ctx, &example.GreetRequest{Name: args[1]})
		if err != nil {
			return errors.New(describe(err))
		}
		fmt.Fprintf(stdout, "%s (server saw metadata %s)\n", resp.Greeting, strings.Join(resp.MetadataKeys, ", "))
	case args[0] == "put" && len(args) == 3:
		if _, err := svc.Put(ctx, &example.PutRequest{Key: args[1], Value: args[2]}); err != nil {
			return errors.New(describe(err))
		}
		fmt.Fprintf(stdout, "stored %s\n", args[1])
	case args[0] == "get" && len(args) == 2:
		resp, err := svc.Get(ctx, &example.GetRequest{Key: args[1]})
		if err != nil {
			return errors.New(describe(err))
		}
		fmt.Fprintf(stdout, "%s = %s\n", resp.Key, resp.Value)
	case args[0] == "list" && len(args) <= 2:
		prefix := ""
		if len(args) == 2 {
			prefix = args[1]
		}
		return list(ctx, svc, prefix, stdout, "")
	default:
		return fmt.Errorf("unknown client command %q\n%s", strings.Join(args, " "), usage)
	}
	return nil
}

// demo runs a server on a temporary socket, calls it, and shuts it down.
func demo(ctx context.Context, stdout io.Writer, logger *slog.Logger) error {
	dir, err := os.MkdirTemp("", "ttrpc-example")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "example.sock")

	srv, err := newServer(logger)
	if err != nil {
		return err
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	fmt.Fprintln(stdout, "server listening on", socket)

	callErr := demoCalls(ctx, socket, stdout)
	if err := shutdown(srv, served); err != nil {
		return err
	}
	if callErr != nil {
		return callErr
	}
	fmt.Fprintln(stdout, "server shut down")
	return nil
}

// demoCalls makes the demo's calls: three that succeed and one that fails.
func demoCalls(ctx context.Context, socket string, stdout io.Writer) error {
	svc, closeClient, err := dial(socket)
	if err != nil {
		return err
	}
	defer closeClient()
	ctx, cancel := callContext(ctx)
	defer cancel()

	greeting, err := svc.Greet(ctx, &example.GreetRequest{Name: "ttrpc"})
	if err != nil {
		return fmt.Errorf("Greet: %w", err)
	}
	fmt.Fprintf(stdout, "Greet: %q (server saw metadata %s)\n", greeting.Greeting, strings.Join(greeting.MetadataKeys, ", "))

	if _, err := svc.Put(ctx, &example.PutRequest{Key: "color", Value: "blue"}); err != nil {
		return fmt.Errorf("Put: %w", err)
	}
	fmt.Fprintln(stdout, "Put: stored color")

	got, err := svc.Get(ctx, &example.GetRequest{Key: "color"})
	if err != nil {
		return fmt.Errorf("Get: %w", err)
	}
	fmt.Fprintf(stdout, "Get: %s = %s\n", got.Key, got.Value)

	_, err = svc.Get(ctx, &example.GetRequest{Key: "missing"})
	if status.Code(err) != codes.NotFound {
		return fmt.Errorf("Get of a missing key: got %v, want NotFound", err)
	}
	fmt.Fprintf(stdout, "Get missing: error %s\n", describe(err))

	if _, err := svc.Put(ctx, &example.PutRequest{Key: "colour", Value: "blau"}); err != nil {
		return fmt.Errorf("Put: %w", err)
	}
	return list(ctx, svc, "col", stdout, "List: ")
}

// list calls the List stream and prints each message as it arrives.
func list(ctx context.Context, svc example.ExampleClient, prefix string, stdout io.Writer, label string) error {
	stream, err := svc.List(ctx, &example.ListRequest{Prefix: prefix})
	if err != nil {
		return fmt.Errorf("List: %w", err)
	}
	n := 0
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			fmt.Fprintf(stdout, "%s%d keys\n", label, n)
			return nil
		}
		if err != nil {
			return fmt.Errorf("List: %s", describe(err))
		}
		n++
		fmt.Fprintf(stdout, "%s%s = %s\n", label, m.Key, m.Value)
	}
}
