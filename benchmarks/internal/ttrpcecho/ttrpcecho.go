// The echo service both libraries serve in the comparison: one unary method,
// Echo, that returns the payload it was sent. ttrpc's side is echo.proto
// compiled by this repository's protoc-gen-gogottrpc (echo.pb.go, exactly
// what a ttrpc user gets, XXX_ methods and registration included); grpc-go's
// side uses the APIv2 wrapperspb types that grpc-go users get from
// protoc-gen-go. The bytes on the wire are the same. The two live in
// separate packages so that each minimal server links only its own library.

// Package ttrpcecho serves and calls the echo service with ttrpc.
package ttrpcecho

//go:generate bash generate.sh

import (
	"context"
	"net"

	"github.com/containerd/ttrpc"
)

// Service and Method name the echo call on the wire.
const (
	Service = "bench.Echo"
	Method  = "Echo"
)

type echoServer struct{}

func (echoServer) Echo(_ context.Context, req *Payload) (*Payload, error) { return req, nil }

// NewTTRPCServer returns a ttrpc server with the echo service registered.
func NewTTRPCServer() (*ttrpc.Server, error) {
	s, err := ttrpc.NewServer()
	if err != nil {
		return nil, err
	}
	RegisterEchoService(s, echoServer{})
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

// TTRPCCall makes one echo call. It calls the client directly rather than
// through the generated NewEchoClient, whose stub allocates a fresh response
// per call, so that both libraries decode into a reused response.
func TTRPCCall(ctx context.Context, c *ttrpc.Client, req, resp *Payload) error {
	return c.Call(ctx, Service, Method, req, resp)
}
