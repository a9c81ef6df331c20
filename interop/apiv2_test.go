package interop

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestOursAPIv2CurrentProtobuf: our client and our server alone, over a
// unix socket, with APIv2 messages (wrapperspb) under the
// google.golang.org/protobuf this module requires (v1.36.12), newer than the
// root module's v1.22.0. Newer releases give the generated unmarshal fast
// path a recursion budget (protoiface.UnmarshalInput.Depth); a codec that
// calls it with the zero value fails every decode with "proto: exceeded
// maximum recursion depth", which breaks every call between this library
// and anything built with a current protobuf, established peers included.
func TestOursAPIv2CurrentProtobuf(t *testing.T) {
	sock := filepath.Join(shortTempDir(t), "s")
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	srv.RegisterService("t.S", &ttrpc.ServiceDesc{
		Methods: map[string]ttrpc.Method{
			"Ping": func(ctx context.Context, u func(interface{}) error) (interface{}, error) {
				var in wrapperspb.StringValue
				if err := u(&in); err != nil {
					return nil, err
				}
				return &in, nil
			},
		},
		Streams: map[string]ttrpc.Stream{
			"Two": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				var in wrapperspb.StringValue
				if err := ss.RecvMsg(&in); err != nil {
					return nil, err
				}
				for i := 0; i < 2; i++ {
					if err := ss.SendMsg(&in); err != nil {
						return nil, err
					}
				}
				return nil, nil
			}},
		},
	})
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()
	defer func() {
		srv.Close()
		<-served
	}()
	c := dialOurs(t, sock)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var resp wrapperspb.StringValue
	if err := c.Call(ctx, "t.S", "Ping", wrapperspb.String("hi"), &resp); err != nil || resp.GetValue() != "hi" {
		t.Errorf("unary call with wrapperspb messages: %v, reply %q", err, resp.GetValue())
	}
	s, err := c.NewStream(ctx, &ttrpc.StreamDesc{StreamingServer: true}, "t.S", "Two", wrapperspb.String("hi"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		var m wrapperspb.StringValue
		if err := s.RecvMsg(&m); err != nil || m.GetValue() != "hi" {
			t.Fatalf("stream message %d with wrapperspb: %v, value %q", i, err, m.GetValue())
		}
	}
	if err := s.RecvMsg(&wrapperspb.StringValue{}); err != io.EOF {
		t.Errorf("end of stream: %v, want io.EOF", err)
	}
}
