package ttrpc

import (
	"context"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/gogo/protobuf/types"
)

func TestMDMethods(t *testing.T) {
	md := MD{}
	if _, ok := md.Get("k"); ok {
		t.Fatal("empty MD has k")
	}
	md.Set("Key", "a", "b")
	if v, ok := md.Get("KEY"); !ok || !reflect.DeepEqual(v, []string{"a", "b"}) {
		t.Fatalf("Get after Set: %v %v", v, ok)
	}
	md.Append("key", "c")
	md.Append("KEY")
	if v, _ := md.Get("key"); !reflect.DeepEqual(v, []string{"a", "b", "c"}) {
		t.Fatalf("Get after Append: %v", v)
	}
	md.Append("new", "x")
	if v, _ := md.Get("New"); !reflect.DeepEqual(v, []string{"x"}) {
		t.Fatalf("Append of a new key: %v", v)
	}
	md.Set("key")
	if _, ok := md["key"]; ok {
		t.Fatal("Set with no values kept the key")
	}
	md["empty"] = []string{}
	if _, ok := md.Get("empty"); ok {
		t.Fatal("Get of an empty list reported found")
	}

	// Append never writes into a backing array the caller still holds.
	shared := make([]string, 1, 4)
	shared[0] = "s"
	md.Set("shared", shared...)
	md.Append("shared", "t")
	if shared[:2][1] == "t" {
		t.Fatal("Append wrote into the caller's array")
	}

	ctx := WithMetadata(context.Background(), MD{"k": {"v1", "v2"}})
	if v, ok := GetMetadataValue(ctx, "K"); !ok || v != "v1" {
		t.Fatalf("GetMetadataValue: %q %v", v, ok)
	}
	if _, ok := GetMetadataValue(context.Background(), "k"); ok {
		t.Fatal("value found in a bare context")
	}
	if _, ok := GetMetadata(context.Background()); ok {
		t.Fatal("metadata found in a bare context")
	}
}

// TestMetadataTravels: metadata set by the caller reaches the handler (keys
// lower-cased, every value, in order); without it the handler sees none.
func TestMetadataTravels(t *testing.T) {
	checkLeaks(t)
	type seen struct {
		md MD
		ok bool
	}
	got := make(chan seen, 1)
	_, path := startServer(t, map[string]Method{"MD": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
		md, ok := GetMetadata(ctx)
		got <- seen{md, ok}
		return &types.Empty{}, nil
	}})
	c := dial(t, path)

	md := MD{}
	md.Set("Trace-ID", "abc")
	md.Set("multi", "1", "2", "3")
	ctx := WithMetadata(testCtx(t), md)
	if err := c.Call(ctx, testService, "MD", &types.Empty{}, &types.Empty{}); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if !s.ok || !reflect.DeepEqual(s.md, MD{"trace-id": {"abc"}, "multi": {"1", "2", "3"}}) {
		t.Fatalf("handler saw %v %v", s.md, s.ok)
	}

	if err := c.Call(testCtx(t), testService, "MD", &types.Empty{}, &types.Empty{}); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.ok {
		t.Fatalf("handler saw metadata %v that was not sent", s.md)
	}

	// Upper-case keys put into the map by hand arrive lower-cased.
	ctx = WithMetadata(testCtx(t), MD{"Raw-Key": {"v"}})
	if err := c.Call(ctx, testService, "MD", &types.Empty{}, &types.Empty{}); err != nil {
		t.Fatal(err)
	}
	if s := <-got; !reflect.DeepEqual(s.md, MD{"raw-key": {"v"}}) {
		t.Fatalf("handler saw %v", s.md)
	}
}

// TestSharedMDIsOnlyRead: many goroutines call with one shared MD while the
// server interceptor reads it; the race detector fails the test if the
// library writes to a map it did not create.
func TestSharedMDIsOnlyRead(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{"Echo": echoMethod},
		WithUnaryServerInterceptor(func(ctx context.Context, un Unmarshaler, info *UnaryServerInfo, m Method) (interface{}, error) {
			md, _ := GetMetadata(ctx)
			keys := make([]string, 0, len(md))
			for k := range md {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return m(ctx, un)
		}))
	shared := MD{"a": {"1"}, "b": {"2", "3"}}
	clients := []*Client{
		dial(t, path),
		dial(t, path, WithUnaryClientInterceptor(func(ctx context.Context, req *Request, resp *Response, _ *UnaryClientInfo, inv Invoker) error {
			return inv(ctx, req, resp)
		})),
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(c *Client) {
				defer wg.Done()
				ctx := WithMetadata(context.Background(), shared)
				for i := 0; i < 20; i++ {
					var out types.BytesValue
					if err := c.Call(ctx, testService, "Echo", &types.BytesValue{Value: []byte("x")}, &out); err != nil {
						t.Error(err)
						return
					}
				}
			}(c)
		}
	}
	wg.Wait()
	if !reflect.DeepEqual(shared, MD{"a": {"1"}, "b": {"2", "3"}}) {
		t.Fatalf("shared MD changed: %v", shared)
	}
}

func TestMDClone(t *testing.T) {
	if MD(nil).Clone() != nil {
		t.Fatal("nil MD cloned to non-nil")
	}
	orig := MD{"a": {"1", "2"}, "empty": {}}
	c := orig.Clone()
	c.Append("a", "3")
	c["a"][0] = "changed"
	c.Set("b", "x")
	if len(orig["a"]) != 2 || orig["a"][0] != "1" || orig["b"] != nil {
		t.Fatalf("clone shares state with the original: %v", orig)
	}
	if _, ok := c["empty"]; !ok {
		t.Fatal("empty key lost")
	}
}

func TestAccessorsNilSafe(t *testing.T) {
	var r *Request
	var resp *Response
	var kv *KeyValue
	var l *StringList
	if r.GetService() != "" || r.GetMethod() != "" || r.GetPayload() != nil || r.GetTimeoutNano() != 0 || r.GetMetadata() != nil ||
		resp.GetStatus() != nil || resp.GetPayload() != nil || kv.GetKey() != "" || kv.GetValue() != "" || l.GetList() != nil {
		t.Fatal("accessor on nil returned a value")
	}
	full := &Request{Service: "s", Method: "m", Payload: []byte{1}, TimeoutNano: 5, Metadata: []*KeyValue{{Key: "k", Value: "v"}}}
	if full.GetService() != "s" || full.GetMethod() != "m" || full.GetTimeoutNano() != 5 || full.GetMetadata()[0].GetValue() != "v" {
		t.Fatal("accessors")
	}
}
