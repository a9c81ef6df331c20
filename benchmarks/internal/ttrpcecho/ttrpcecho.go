// The echo service both libraries serve in the comparison: one unary method,
// Echo, that returns the BytesValue it was sent. ttrpc uses the gogo types
// that containerd and its shims use; grpc-go uses the APIv2 wrapperspb types
// that grpc-go users get from protoc-gen-go. The bytes on the wire are the
// same. The two live in separate packages so that each minimal server links
// only its own library.

// Package ttrpcecho serves and calls the echo service with ttrpc.
package ttrpcecho

import (
	"context"
	"net"

	"github.com/containerd/ttrpc"
)

const (
	Service = "bench.Echo"
	Method  = "Echo"
)

// NewTTRPCServer returns a ttrpc server with the echo service registered.
func NewTTRPCServer() (*ttrpc.Server, error) {
	s, err := ttrpc.NewServer()
	if err != nil {
		return nil, err
	}
	s.Register(Service, map[string]ttrpc.Method{
		Method: func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			v := &Payload{}
			if err := unmarshal(v); err != nil {
				return nil, err
			}
			return v, nil
		},
	})
	return s, nil
}

// ServeTTRPC serves the echo service over l until it fails.
func ServeTTRPC(l net.Listener) error {
	s, err := NewTTRPCServer()
	if err != nil {
		return err
	}
	return s.Serve(context.Background(), l)
}

// TTRPCCall makes one echo call.
func TTRPCCall(ctx context.Context, c *ttrpc.Client, req, resp *Payload) error {
	return c.Call(ctx, Service, Method, req, resp)
}
