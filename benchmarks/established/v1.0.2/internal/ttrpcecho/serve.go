// Package ttrpcecho is the echo service of the comparison built against the
// established ttrpc v1.0.2 (or, with go.ours.mod, against this module under
// the same dependency pins). echo.pb.go is a copy of
// benchmarks/internal/ttrpcecho/echo.pb.go: the generated code only uses
// Server.Register and Client.Call, which v1.0.2 has. sync.sh refreshes the
// copies; cmd/compare refuses to run when they are stale.
package ttrpcecho

import (
	"context"
	"net"

	"github.com/containerd/ttrpc"
)

type echoServer struct{}

func (echoServer) Echo(_ context.Context, req *Payload) (*Payload, error) { return req, nil }

// ServeTTRPC serves the echo service over l until it fails, as
// benchmarks/internal/ttrpcecho.ServeTTRPC does.
func ServeTTRPC(l net.Listener) error {
	s, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	RegisterEchoService(s, echoServer{})
	return s.Serve(context.Background(), l)
}
