// The echo service both libraries serve in the comparison: one unary method,
// Echo, that returns the BytesValue it was sent. ttrpc uses the gogo types
// that containerd and its shims use; grpc-go uses the APIv2 wrapperspb types
// that grpc-go users get from protoc-gen-go. The bytes on the wire are the
// same. The two live in separate packages so that each minimal server links
// only its own library.

// Package grpcecho serves and calls the echo service with grpc-go.
package grpcecho

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	Service = "bench.Echo"
	Method  = "Echo"
)

// grpcDesc is what protoc-gen-go-grpc would generate for the service.
var grpcDesc = grpc.ServiceDesc{
	ServiceName: Service,
	HandlerType: (*interface{})(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: Method,
		Handler: func(_ interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
			v := &wrapperspb.BytesValue{}
			if err := dec(v); err != nil {
				return nil, err
			}
			return v, nil
		},
	}},
	Metadata: "echo.proto",
}

// NewGRPCServer returns a grpc-go server with the echo service registered.
func NewGRPCServer() *grpc.Server {
	s := grpc.NewServer()
	s.RegisterService(&grpcDesc, struct{}{})
	return s
}

// ServeGRPC serves the echo service over l until it fails.
func ServeGRPC(l net.Listener) error {
	return NewGRPCServer().Serve(l)
}

// GRPCFullMethod is the method name grpc-go clients invoke.
const GRPCFullMethod = "/" + Service + "/" + Method

// GRPCCall makes one echo call.
func GRPCCall(ctx context.Context, c *grpc.ClientConn, req, resp *wrapperspb.BytesValue) error {
	return c.Invoke(ctx, GRPCFullMethod, req, resp)
}
