package ttrpc

import (
	"context"
	"strings"
	"testing"

	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestServerInterceptor(t *testing.T) {
	checkLeaks(t)
	infos := make(chan string, 4)
	_, path := startServer(t, map[string]Method{"Echo": echoMethod},
		WithUnaryServerInterceptor(func(ctx context.Context, un Unmarshaler, info *UnaryServerInfo, m Method) (interface{}, error) {
			infos <- info.FullMethod
			if v, _ := GetMetadataValue(ctx, "deny"); v == "yes" {
				return nil, status.Error(codes.PermissionDenied, "denied by interceptor")
			}
			resp, err := m(ctx, un)
			if err != nil {
				return nil, err
			}
			b := resp.(*types.BytesValue)
			b.Value = append(b.Value, "+intercepted"...)
			return b, nil
		}))
	c := dial(t, path)
	var out types.BytesValue
	if err := c.Call(testCtx(t), testService, "Echo", &types.BytesValue{Value: []byte("v")}, &out); err != nil {
		t.Fatal(err)
	}
	if string(out.Value) != "v+intercepted" {
		t.Fatalf("got %q", out.Value)
	}
	if fm := <-infos; fm != "/"+testService+"/Echo" {
		t.Fatalf("FullMethod %q", fm)
	}
	ctx := WithMetadata(testCtx(t), MD{"deny": {"yes"}})
	err := c.Call(ctx, testService, "Echo", &types.BytesValue{Value: []byte("v")}, &out)
	assertCode(t, err, codes.PermissionDenied, "denied by interceptor")
}

func TestClientInterceptor(t *testing.T) {
	checkLeaks(t)
	gotMD := make(chan MD, 1)
	_, path := startServer(t, map[string]Method{"Echo": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		md, _ := GetMetadata(ctx)
		gotMD <- md
		return echoMethod(ctx, un)
	}})
	type seen struct {
		info    string
		service string
		method  string
		payload int
		timeout int64
		md      int
		reply   int
	}
	calls := make(chan seen, 1)
	c := dial(t, path, WithUnaryClientInterceptor(func(ctx context.Context, req *Request, resp *Response, info *UnaryClientInfo, inv Invoker) error {
		req.Metadata = append(req.Metadata, &KeyValue{Key: "added-by", Value: "interceptor"})
		err := inv(ctx, req, resp)
		calls <- seen{info.FullMethod, req.Service, req.Method, len(req.Payload), req.TimeoutNano, len(req.Metadata), len(resp.Payload)}
		return err
	}))
	ctx := WithMetadata(testCtx(t), MD{"k": {"v"}})
	var out types.BytesValue
	if err := c.Call(ctx, testService, "Echo", &types.BytesValue{Value: []byte("abc")}, &out); err != nil {
		t.Fatal(err)
	}
	if string(out.Value) != "abc" {
		t.Fatalf("got %q", out.Value)
	}
	s := <-calls
	if s.info != "/"+testService+"/Echo" || s.service != testService || s.method != "Echo" || s.payload != 5 || s.timeout <= 0 || s.md != 2 || s.reply != 5 {
		t.Fatalf("interceptor saw %+v", s)
	}
	if md := <-gotMD; md["added-by"][0] != "interceptor" || md["k"][0] != "v" {
		t.Fatalf("server saw %v", md)
	}

	// An error status passes through the interceptor path too.
	err := c.Call(testCtx(t), testService, "Missing", &types.Empty{}, &out)
	assertCode(t, err, codes.Unimplemented, "method Missing")
	<-calls
}

func TestOptionsValidated(t *testing.T) {
	noop := func(ctx context.Context, un Unmarshaler, info *UnaryServerInfo, m Method) (interface{}, error) {
		return m(ctx, un)
	}
	if _, err := NewServer(WithUnaryServerInterceptor(noop), WithUnaryServerInterceptor(noop)); err == nil {
		t.Fatal("two interceptors accepted")
	}
	hs := handshakerFunc(noopHandshake)
	if _, err := NewServer(WithServerHandshaker(hs), WithServerHandshaker(hs)); err == nil {
		t.Fatal("two handshakers accepted")
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.Register("svc", map[string]Method{})
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "svc") {
			t.Fatalf("recovered %v", r)
		}
	}()
	s.Register("svc", map[string]Method{})
}
