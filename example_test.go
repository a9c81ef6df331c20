package ttrpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A server and a client in one program, over a unix socket. Real services
// register through generated code (RegisterFooService, NewFooClient); here
// the one method is registered by hand.
func Example() {
	dir, err := os.MkdirTemp("", "ttrpc-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "example.sock")

	// Server: one service with one unary method.
	srv, err := ttrpc.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	srv.Register("example.Greeter", map[string]ttrpc.Method{
		"Greet": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req types.StringValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			if req.Value == "" {
				return nil, status.Error(codes.InvalidArgument, "no name")
			}
			who, _ := ttrpc.GetMetadataValue(ctx, "caller")
			return &types.StringValue{Value: "hello " + req.Value + " (from " + who + ")"}, nil
		},
	})
	l, err := net.Listen("unix", socket)
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()

	// Client: one connection, any number of concurrent calls.
	conn, err := net.Dial("unix", socket)
	if err != nil {
		log.Fatal(err)
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()

	ctx := ttrpc.WithMetadata(context.Background(), ttrpc.MD{"caller": {"example"}})
	var resp types.StringValue
	if err := client.Call(ctx, "example.Greeter", "Greet", &types.StringValue{Value: "you"}, &resp); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Value)

	// Errors are grpc status errors.
	err = client.Call(ctx, "example.Greeter", "Greet", &types.StringValue{}, &resp)
	fmt.Println(status.Code(err), status.Convert(err).Message())
	err = client.Call(ctx, "example.Greeter", "Wave", &types.StringValue{}, &resp)
	fmt.Println(status.Code(err))

	// Shutdown waits for calls in flight; Serve then returns ErrServerClosed.
	if err := srv.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(<-served, ttrpc.ErrServerClosed))
	// Output:
	// hello you (from example)
	// InvalidArgument no name
	// Unimplemented
	// true
}

// A server-streaming method and its client. The handler sends any number
// of messages; the client reads them until io.EOF.
func ExampleClient_NewStream() {
	dir, err := os.MkdirTemp("", "ttrpc-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "example.sock")

	srv, err := ttrpc.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.RegisterService("example.Counter", &ttrpc.ServiceDesc{
		Streams: map[string]ttrpc.Stream{
			"Count": {
				StreamingServer: true,
				Handler: func(ctx context.Context, stream ttrpc.StreamServer) (interface{}, error) {
					var upTo types.Int64Value
					if err := stream.RecvMsg(&upTo); err != nil {
						return nil, err
					}
					for i := int64(1); i <= upTo.Value; i++ {
						if err := stream.SendMsg(&types.Int64Value{Value: i}); err != nil {
							return nil, err
						}
					}
					return nil, nil
				},
			},
		},
	})
	l, err := net.Listen("unix", socket)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(context.Background(), l)

	conn, err := net.Dial("unix", socket)
	if err != nil {
		log.Fatal(err)
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()

	stream, err := client.NewStream(context.Background(), &ttrpc.StreamDesc{StreamingServer: true},
		"example.Counter", "Count", &types.Int64Value{Value: 3})
	if err != nil {
		log.Fatal(err)
	}
	var got []string
	for {
		var n types.Int64Value
		err := stream.RecvMsg(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		got = append(got, fmt.Sprint(n.Value))
	}
	fmt.Println(strings.Join(got, " "))
	// Output: 1 2 3
}
