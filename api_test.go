package ttrpc_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/containerd/ttrpc"
	spb "google.golang.org/genproto/googleapis/rpc/status"
)

// The assignments below fail to compile if any identifier of the 1.0 API
// (SPEC §2) is missing or has a different signature, so code written against
// the established library compiles unchanged against this one.
var (
	_ error = ttrpc.ErrClosed
	_ error = ttrpc.ErrServerClosed

	_ func(...ttrpc.ServerOpt) (*ttrpc.Server, error)                                      = ttrpc.NewServer
	_ func(*ttrpc.Server, string, map[string]ttrpc.Method)                                 = (*ttrpc.Server).Register
	_ func(*ttrpc.Server, context.Context, net.Listener) error                             = (*ttrpc.Server).Serve
	_ func(*ttrpc.Server, context.Context) error                                           = (*ttrpc.Server).Shutdown
	_ func(*ttrpc.Server) error                                                            = (*ttrpc.Server).Close
	_ func(ttrpc.Handshaker) ttrpc.ServerOpt                                               = ttrpc.WithServerHandshaker
	_ func(ttrpc.UnaryServerInterceptor) ttrpc.ServerOpt                                   = ttrpc.WithUnaryServerInterceptor
	_ func(net.Conn, ...ttrpc.ClientOpts) *ttrpc.Client                                    = ttrpc.NewClient
	_ func(*ttrpc.Client, context.Context, string, string, interface{}, interface{}) error = (*ttrpc.Client).Call
	_ func(*ttrpc.Client) error                                                            = (*ttrpc.Client).Close
	_ func(*ttrpc.Client, context.Context) error                                           = (*ttrpc.Client).UserOnCloseWait
	_ func(func()) ttrpc.ClientOpts                                                        = ttrpc.WithOnClose
	_ func(ttrpc.UnaryClientInterceptor) ttrpc.ClientOpts                                  = ttrpc.WithUnaryClientInterceptor
	_ ttrpc.ClientOpts                                                                     = func(c *ttrpc.Client) {}

	_ ttrpc.Method      = func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) { return nil, nil }
	_ ttrpc.Unmarshaler = func(interface{}) error { return nil }
	_ ttrpc.Invoker     = func(context.Context, *ttrpc.Request, *ttrpc.Response) error { return nil }
	_                   = ttrpc.ServiceDesc{Methods: map[string]ttrpc.Method{}}
	_                   = ttrpc.UnaryServerInfo{FullMethod: "/s/m"}
	_                   = ttrpc.UnaryClientInfo{FullMethod: "/s/m"}

	_ ttrpc.UnaryServerInterceptor = func(context.Context, ttrpc.Unmarshaler, *ttrpc.UnaryServerInfo, ttrpc.Method) (interface{}, error) {
		return nil, nil
	}
	_ ttrpc.UnaryClientInterceptor = func(context.Context, *ttrpc.Request, *ttrpc.Response, *ttrpc.UnaryClientInfo, ttrpc.Invoker) error {
		return nil
	}

	_ map[string][]string                             = ttrpc.MD{}
	_ func(ttrpc.MD, string) ([]string, bool)         = ttrpc.MD.Get
	_ func(ttrpc.MD, string, ...string)               = ttrpc.MD.Set
	_ func(ttrpc.MD, string, ...string)               = ttrpc.MD.Append
	_ func(context.Context, ttrpc.MD) context.Context = ttrpc.WithMetadata
	_ func(context.Context) (ttrpc.MD, bool)          = ttrpc.GetMetadata
	_ func(context.Context, string) (string, bool)    = ttrpc.GetMetadataValue

	_ = ttrpc.Request{Service: "", Method: "", Payload: []byte{}, TimeoutNano: 0, Metadata: []*ttrpc.KeyValue{{Key: "", Value: ""}}}
	_ = ttrpc.Response{Status: &spb.Status{}, Payload: []byte{}}
	_ = ttrpc.StringList{List: []string{}}
)

// protoMessage is what gogo's and golang's proto.Marshal require.
type protoMessage interface {
	Reset()
	String() string
	ProtoMessage()
}

var (
	_ protoMessage = (*ttrpc.Request)(nil)
	_ protoMessage = (*ttrpc.Response)(nil)
	_ protoMessage = (*ttrpc.KeyValue)(nil)
	_ protoMessage = (*ttrpc.StringList)(nil)
)

func TestErrorTexts(t *testing.T) {
	if ttrpc.ErrClosed.Error() != "ttrpc: closed" {
		t.Fatalf("ErrClosed says %q", ttrpc.ErrClosed)
	}
	if ttrpc.ErrServerClosed.Error() != "ttrpc: server closed" {
		t.Fatalf("ErrServerClosed says %q", ttrpc.ErrServerClosed)
	}
	if errors.Is(ttrpc.ErrClosed, ttrpc.ErrServerClosed) {
		t.Fatal("the two errors are the same")
	}
}
