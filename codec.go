package ttrpc

import (
	"fmt"
	"reflect"

	"github.com/containerd/ttrpc/internal/bufpool"

	gogoproto "github.com/gogo/protobuf/proto"
	protov2 "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// codec turns call arguments and results into bytes and back. It accepts
// messages of both protobuf worlds and picks the cheapest correct way per
// value:
//
//  1. generated fast-path methods (gogo's marshaler/sizer/unmarshaler
//     plugins) — no reflection;
//  2. google.golang.org/protobuf (APIv2) messages, including golang/protobuf
//     1.4+ generated types;
//  3. gogo's reflection-based codec for any other gogo/golang-v1 message.
//
// Anything else is an error, never a panic.
type codec struct{}

type sizedBufferMarshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

type sizedMarshaler interface {
	Size() int
	MarshalTo([]byte) (int, error)
}

type bytesMarshaler interface {
	Marshal() ([]byte, error)
}

type bytesUnmarshaler interface {
	Unmarshal([]byte) error
}

type resetter interface {
	Reset()
}

// Marshal encodes msg into a new slice.
func (c codec) Marshal(msg interface{}) ([]byte, error) {
	b := []byte{}
	p, err := c.marshalInto(&b, msg)
	if err != nil {
		return nil, err
	}
	return *p, nil
}

// marshalInto appends the encoding of msg to *p and returns the buffer that
// holds the result: p itself when it had room, or a larger pooled buffer
// (p is then given back to the pool). Bytes before len(*p) are preserved.
func (codec) marshalInto(p *[]byte, msg interface{}) (*[]byte, error) {
	if isNilPointer(msg) {
		// A typed nil message encodes as the empty message, as in the
		// protobuf runtimes; generated fast-path methods would dereference it.
		if _, ok := msg.(gogoproto.Message); ok {
			return p, nil
		}
		if _, ok := msg.(protoreflect.ProtoMessage); ok {
			return p, nil
		}
	}
	switch m := msg.(type) {
	case nil:
		return p, fmt.Errorf("ttrpc: cannot marshal unknown type: %T", msg)
	case sizedBufferMarshaler:
		n := m.Size()
		p = ensure(p, n)
		b := *p
		w, err := m.MarshalToSizedBuffer(b[len(b) : len(b)+n])
		if err != nil {
			return p, err
		}
		if w != n {
			return p, fmt.Errorf("ttrpc: %T marshaled %d bytes, its Size said %d", msg, w, n)
		}
		*p = b[:len(b)+n]
		return p, nil
	case sizedMarshaler:
		n := m.Size()
		p = ensure(p, n)
		b := *p
		w, err := m.MarshalTo(b[len(b) : len(b)+n])
		if err != nil {
			return p, err
		}
		if w > n {
			return p, fmt.Errorf("ttrpc: %T marshaled %d bytes, its Size said %d", msg, w, n)
		}
		*p = b[:len(b)+w]
		return p, nil
	case protoreflect.ProtoMessage:
		n := protov2.Size(m)
		p = ensure(p, n)
		b, err := protov2.MarshalOptions{UseCachedSize: true}.MarshalAppend(*p, m)
		if err != nil {
			return p, err
		}
		*p = b
		return p, nil
	case bytesMarshaler:
		data, err := m.Marshal()
		if err != nil {
			return p, err
		}
		return appendPooled(p, data), nil
	case gogoproto.Message:
		data, err := gogoproto.Marshal(m)
		if err != nil {
			return p, err
		}
		return appendPooled(p, data), nil
	default:
		return p, fmt.Errorf("ttrpc: cannot marshal unknown type: %T", msg)
	}
}

// Unmarshal decodes p into msg, replacing what msg held. The message does not
// keep references into p.
func (codec) Unmarshal(p []byte, msg interface{}) error {
	if isNilPointer(msg) {
		return fmt.Errorf("ttrpc: cannot unmarshal into nil %T", msg)
	}
	switch m := msg.(type) {
	case nil:
		return fmt.Errorf("ttrpc: cannot unmarshal into unknown type: %T", msg)
	case bytesUnmarshaler:
		// Generated Unmarshal methods merge; proto.Unmarshal semantics are
		// "replace", so reset first like the protobuf runtimes do.
		if r, ok := msg.(resetter); ok {
			r.Reset()
		}
		return m.Unmarshal(p)
	case protoreflect.ProtoMessage:
		return protov2.Unmarshal(p, m)
	case gogoproto.Message:
		return gogoproto.Unmarshal(p, m)
	default:
		return fmt.Errorf("ttrpc: cannot unmarshal into unknown type: %T", msg)
	}
}

// isNilPointer reports whether v is a non-nil interface holding a nil pointer.
func isNilPointer(v interface{}) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Ptr && rv.IsNil()
}

// ensure returns a buffer holding *p's bytes with room for n more, taking a
// larger one from the pool if needed.
func ensure(p *[]byte, n int) *[]byte {
	if cap(*p)-len(*p) >= n {
		return p
	}
	np := bufpool.Get(len(*p) + n)
	copy(*np, *p)
	*np = (*np)[:len(*p)]
	bufpool.Put(p)
	return np
}

func appendPooled(p *[]byte, data []byte) *[]byte {
	p = ensure(p, len(data))
	*p = append(*p, data...)
	return p
}
