// Command shim is written only against the ttrpc 1.0 API, in the style of
// containerd's shim code: a hand-registered service, a peer-credential
// handshake, interceptors, metadata, on-close hooks and ErrClosed checks. The
// swap-in test builds it against this module with a replace directive.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type taskService interface {
	State(ctx context.Context, req *types.StringValue) (*types.StringValue, error)
	Shutdown(ctx context.Context, req *types.Empty) (*types.Empty, error)
}

func registerTaskService(srv *ttrpc.Server, svc taskService) {
	srv.Register("containerd.task.v2.Task", map[string]ttrpc.Method{
		"State": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req types.StringValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return svc.State(ctx, &req)
		},
		"Shutdown": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req types.Empty
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return svc.Shutdown(ctx, &req)
		},
	})
}

type taskClient struct{ client *ttrpc.Client }

func (c *taskClient) State(ctx context.Context, req *types.StringValue) (*types.StringValue, error) {
	var resp types.StringValue
	if err := c.client.Call(ctx, "containerd.task.v2.Task", "State", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

type service struct{}

func (service) State(ctx context.Context, req *types.StringValue) (*types.StringValue, error) {
	ns, _ := ttrpc.GetMetadataValue(ctx, "containerd-namespace")
	if req.Value == "missing" {
		return nil, status.Errorf(codes.NotFound, "task %s not found", req.Value)
	}
	return &types.StringValue{Value: ns + "/" + req.Value + ": running"}, nil
}

func (service) Shutdown(ctx context.Context, req *types.Empty) (*types.Empty, error) {
	return &types.Empty{}, nil
}

func run() error {
	dir, err := os.MkdirTemp("", "shim")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "shim.sock")

	var serverOpts []ttrpc.ServerOpt
	serverOpts = append(serverOpts,
		ttrpc.WithServerHandshaker(ttrpc.UnixSocketRequireSameUser()),
		ttrpc.WithUnaryServerInterceptor(func(ctx context.Context, u ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (interface{}, error) {
			return m(ctx, u)
		}))
	s, err := ttrpc.NewServer(serverOpts...)
	if err != nil {
		return err
	}
	registerTaskService(s, service{})
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(context.Background(), l) }()

	conn, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	closed := make(chan struct{})
	client := ttrpc.NewClient(conn,
		ttrpc.WithOnClose(func() { close(closed) }),
		ttrpc.WithUnaryClientInterceptor(func(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response, info *ttrpc.UnaryClientInfo, invoker ttrpc.Invoker) error {
			return invoker(ctx, req, resp)
		}))
	tasks := &taskClient{client: client}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = ttrpc.WithMetadata(ctx, ttrpc.MD{"containerd-namespace": []string{"default"}})
	resp, err := tasks.State(ctx, &types.StringValue{Value: "t1"})
	if err != nil {
		return err
	}
	fmt.Println(resp.Value)

	_, err = tasks.State(ctx, &types.StringValue{Value: "missing"})
	if st, ok := status.FromError(err); !ok || st.Code() != codes.NotFound {
		return fmt.Errorf("missing task: %v", err)
	}
	fmt.Println("missing:", status.Code(err))

	if err := s.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-serveErr; err != ttrpc.ErrServerClosed {
		return fmt.Errorf("serve: %v", err)
	}
	if err := client.UserOnCloseWait(ctx); err != nil {
		return err
	}
	<-closed
	if _, err := tasks.State(ctx, &types.StringValue{Value: "t1"}); !errors.Is(err, ttrpc.ErrClosed) {
		return fmt.Errorf("call after shutdown: %v", err)
	}
	fmt.Println("closed:", ttrpc.ErrClosed)
	return client.Close()
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shim:", err)
		os.Exit(1)
	}
}
