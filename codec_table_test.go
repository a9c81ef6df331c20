package ttrpc

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	gogoproto "github.com/gogo/protobuf/proto"
	gogodesc "github.com/gogo/protobuf/protoc-gen-gogo/descriptor"
)

// tableInner and tableOnly are written the way gogo 1.3 generates a message
// without its marshaler plugins: XXX_ methods over gogo's table codec, and
// gogo-only layouts (gogoproto.nullable=false, gogoproto.stdtime) that only
// that codec understands.
type tableInner struct {
	N int64 `protobuf:"varint,1,opt,name=n,proto3" json:"n,omitempty"`
}

func (m *tableInner) Reset()         { *m = tableInner{} }
func (m *tableInner) String() string { return gogoproto.CompactTextString(m) }
func (*tableInner) ProtoMessage()    {}

type tableOnly struct {
	Name  string     `protobuf:"bytes,1,opt,name=name,proto3" json:"name,omitempty"`
	Inner tableInner `protobuf:"bytes,2,opt,name=inner,proto3" json:"inner"`
	When  time.Time  `protobuf:"bytes,3,opt,name=when,proto3,stdtime" json:"when"`
}

func (m *tableOnly) Reset()         { *m = tableOnly{} }
func (m *tableOnly) String() string { return gogoproto.CompactTextString(m) }
func (*tableOnly) ProtoMessage()    {}

var xxx_messageInfo_tableOnly gogoproto.InternalMessageInfo

func (m *tableOnly) XXX_Unmarshal(b []byte) error {
	return xxx_messageInfo_tableOnly.Unmarshal(m, b)
}
func (m *tableOnly) XXX_Marshal(b []byte, deterministic bool) ([]byte, error) {
	return xxx_messageInfo_tableOnly.Marshal(b, m, deterministic)
}
func (m *tableOnly) XXX_Size() int { return xxx_messageInfo_tableOnly.Size(m) }

// layoutOnly has tableOnly's gogo-only layout but no XXX_ methods, like a
// hand-written type: no runtime linked by default can encode it.
type layoutOnly struct {
	Inner tableInner `protobuf:"bytes,2,opt,name=inner,proto3" json:"inner"`
}

func (m *layoutOnly) Reset()         { *m = layoutOnly{} }
func (m *layoutOnly) String() string { return "layoutOnly" }
func (*layoutOnly) ProtoMessage()    {}

func init() {
	gogoproto.RegisterType((*tableInner)(nil), "ttrpc.test.TableInner")
	gogoproto.RegisterType((*tableOnly)(nil), "ttrpc.test.TableOnly")
	gogoproto.RegisterType((*layoutOnly)(nil), "ttrpc.test.LayoutOnly")
}

// TestCodecGogoTableMessages: gogo-generated messages without marshaler
// methods encode through their own XXX_ methods to exactly the bytes of
// gogo's proto.Marshal, gogo-only layouts included, and decode by replacing.
func TestCodecGogoTableMessages(t *testing.T) {
	c := codec{}
	when := time.Date(2026, 11, 24, 1, 2, 3, 4, time.UTC)
	name := "file.proto"
	for _, m := range []gogoproto.Message{
		&tableOnly{Name: "hi", Inner: tableInner{N: 7}, When: when},
		&tableOnly{},
		// A real generated type: gogo's descriptor package is generated
		// without the marshaler plugins.
		&gogodesc.FileDescriptorProto{Name: &name, Dependency: []string{"a", "b"}},
	} {
		want, err := gogoproto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Marshal(m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%T: codec % x, gogo % x", m, got, want)
		}
	}

	data, err := c.Marshal(&tableOnly{Name: "hi", Inner: tableInner{N: 7}, When: when})
	if err != nil {
		t.Fatal(err)
	}
	back := &tableOnly{Name: "stale", Inner: tableInner{N: 99}}
	if err := c.Unmarshal(data, back); err != nil {
		t.Fatal(err)
	}
	if back.Name != "hi" || back.Inner.N != 7 || !back.When.Equal(when) {
		t.Fatalf("decoded %+v", back)
	}
	if err := c.Unmarshal(nil, back); err != nil || back.Name != "" || back.Inner.N != 0 {
		t.Fatalf("decode of nothing kept %+v (%v)", back, err)
	}
	// Bad bytes are an error from the type's own codec.
	if err := c.Unmarshal([]byte{0x12, 0x05, 0x08}, back); err == nil {
		t.Fatal("truncated inner message decoded")
	}
}

// TestCodecUnsupportedLayout: a message only gogo's reflection could encode,
// with no XXX_ methods to reach it, is a clear error both ways, not a panic.
func TestCodecUnsupportedLayout(t *testing.T) {
	c := codec{}
	if _, err := c.Marshal(&layoutOnly{Inner: tableInner{N: 1}}); err == nil || !strings.Contains(err.Error(), "cannot marshal *ttrpc.layoutOnly") {
		t.Fatalf("Marshal: %v", err)
	}
	if err := c.Unmarshal([]byte{0x12, 0x02, 0x08, 0x01}, &layoutOnly{}); err == nil || !strings.Contains(err.Error(), "cannot unmarshal into *ttrpc.layoutOnly") {
		t.Fatalf("Unmarshal: %v", err)
	}
}

// TestGogoTableCall: such a message crosses a real connection both ways and
// keeps its gogo-only fields.
func TestGogoTableCall(t *testing.T) {
	checkLeaks(t)
	when := time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC)
	_, path := startServer(t, map[string]Method{
		"Table": func(ctx context.Context, un func(interface{}) error) (interface{}, error) {
			var in tableOnly
			if err := un(&in); err != nil {
				return nil, err
			}
			in.Name += " back"
			in.Inner.N++
			in.When = in.When.Add(time.Hour)
			return &in, nil
		},
	})
	c := dial(t, path)
	var out tableOnly
	if err := c.Call(testCtx(t), testService, "Table", &tableOnly{Name: "there", Inner: tableInner{N: 1}, When: when}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Name != "there back" || out.Inner.N != 2 || !out.When.Equal(when.Add(time.Hour)) {
		t.Fatalf("got %+v", out)
	}
}

// sizedOut has an XXX_Marshal with the contract of gogo's marshaler plugins
// (fill b[:cap(b)] from the start, ignore len(b)) and none of the fast-path
// methods, so only the capacity the codec passes decides where its bytes go.
type sizedOut struct{ v []byte }

func (m *sizedOut) Reset()         { m.v = nil }
func (m *sizedOut) String() string { return string(m.v) }
func (*sizedOut) ProtoMessage()    {}
func (m *sizedOut) XXX_Size() int  { return 2 + len(m.v) }
func (m *sizedOut) XXX_Marshal(b []byte, _ bool) ([]byte, error) {
	b = b[:cap(b)]
	if len(b) < m.XXX_Size() {
		return nil, errors.New("short buffer")
	}
	b[0], b[1] = 0x0a, byte(len(m.v))
	n := 2 + copy(b[2:], m.v)
	return b[:n], nil
}
func (m *sizedOut) XXX_Unmarshal(b []byte) error {
	if len(b) < 2 || int(b[1]) != len(b)-2 {
		return errors.New("bad sizedOut")
	}
	m.v = append([]byte(nil), b[2:]...)
	return nil
}

func init() { gogoproto.RegisterType((*sizedOut)(nil), "ttrpc.test.SizedOut") }

// TestCodecXXXMarshalContract: the codec hands XXX_Marshal an empty slice
// whose capacity is exactly XXX_Size(), after whatever the buffer already
// holds, as gogo's proto.Marshal does.
func TestCodecXXXMarshalContract(t *testing.T) {
	c := codec{}
	for _, prefix := range [][]byte{nil, []byte("0123456789")} {
		buf := make([]byte, len(prefix), len(prefix)+4096)
		copy(buf, prefix)
		p, err := c.marshalInto(&buf, &sizedOut{v: []byte("hello")})
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]byte{}, prefix...), 0x0a, 5, 'h', 'e', 'l', 'l', 'o')
		if !bytes.Equal(*p, want) {
			t.Fatalf("prefix %q: got % x", prefix, *p)
		}
	}
	var back sizedOut
	if err := c.Unmarshal([]byte{0x0a, 2, 'h', 'i'}, &back); err != nil || string(back.v) != "hi" {
		t.Fatalf("%q %v", back.v, err)
	}
}
