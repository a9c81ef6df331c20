package ttrpc

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/containerd/ttrpc/internal/bufpool"

	//lint:ignore SA1019 golang/protobuf is used on purpose: every program links it already (see codec.go)
	golangproto "github.com/golang/protobuf/proto"
)

// codec turns call arguments and results into bytes and back. It accepts
// messages of both protobuf worlds and picks, per value, the cheapest correct
// way that the message's own generated code offers:
//
//  1. gogo's fast-path methods (the marshaler, sizer and unmarshaler
//     plugins: Size, MarshalToSizedBuffer or MarshalTo, Unmarshal), which
//     the envelope types of this package have too;
//  2. any other gogo (1.1+) or golang/protobuf (before 1.4) generated
//     message: its XXX_Size, XXX_Marshal and XXX_Unmarshal methods, which is
//     what those runtimes' proto.Marshal calls first;
//  3. the rest, google.golang.org/protobuf (APIv2) messages included:
//     golang/protobuf's proto package, whose Marshal and Unmarshal are, from
//     golang/protobuf 1.4 on, the APIv2 runtime's (messages use their
//     generated fast paths), and before 1.4 read the struct tags.
//
// The codec names no protobuf runtime but golang/protobuf's, which the
// genproto status type in every response already brings in. Measured on
// real shims, this links less than reaching APIv2 messages through their
// ProtoReflect method: merely mentioning that method's type makes the linker
// keep about 94 KB of the APIv2 reflection API in every program, APIv2
// messages or not (see README, Footprint). A program without APIv2 messages
// links none of the APIv2 runtime; APIv2 needs golang/protobuf 1.4 or later
// in the build, as this module's go.mod requires.
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

// messageV1 is what every protobuf message type has, of either world.
type messageV1 interface {
	Reset()
	String() string
	ProtoMessage()
}

// xxxMarshaler is the pair of methods every gogo (1.1+) and golang/protobuf
// (1.0–1.3) generated message has. They run the runtime's table-driven
// codec for the type, or its generated marshaler when there is one.
type xxxMarshaler interface {
	XXX_Size() int
	XXX_Marshal(b []byte, deterministic bool) ([]byte, error)
}

// xxxUnmarshaler is the decoding counterpart of xxxMarshaler.
type xxxUnmarshaler interface {
	XXX_Unmarshal([]byte) error
}

// decodesInPlace reports whether Unmarshal decodes msg with generated or
// runtime code only, which runs in bounded time, never waits on a client,
// and does not write to its input: a gogo-generated Unmarshal (the type
// also has gogo's MarshalToSizedBuffer or the XXX_ methods), the XXX_
// methods of older generated code, or the protobuf runtimes. A client stream
// decodes such messages straight from its read buffer while holding the
// connection's read side (readFor); a hand-written Unmarshal, which might
// make a call on the same client or keep the slice, gets a copy instead.
func decodesInPlace(msg interface{}) bool {
	switch msg.(type) {
	case interface{ MarshalToSizedBuffer([]byte) (int, error) }, xxxUnmarshaler:
		return true
	case bytesUnmarshaler:
		return false
	case messageV1:
		return true
	}
	return false
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
		if _, ok := msg.(messageV1); ok {
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
	case bytesMarshaler:
		data, err := m.Marshal()
		if err != nil {
			return p, err
		}
		return appendPooled(p, data), nil
	case xxxMarshaler:
		// What gogo's and golang/protobuf's proto.Marshal do first for
		// such a type, with the same contract: an empty slice whose
		// capacity is exactly the size (generated XXX_Marshal methods of
		// the marshaler plugins fill b[:cap(b)] rather than appending).
		n, ok := xxxSize(m)
		if !ok {
			return legacyMarshal(p, msg.(messageV1))
		}
		p = ensure(p, n)
		l := len(*p)
		out, err := m.XXX_Marshal((*p)[l:l:l+n], false)
		if err != nil {
			return p, err
		}
		if len(out) <= n && (len(out) == 0 || &out[0] == &(*p)[l : l+n][0]) {
			*p = (*p)[:l+len(out)]
			return p, nil
		}
		return appendPooled(p, out), nil // the size was wrong: out is elsewhere
	case messageV1:
		return legacyMarshal(p, m)
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
	case xxxUnmarshaler:
		if v1, ok := msg.(messageV1); ok && !xxxWorks(v1) {
			return legacyUnmarshal(p, v1)
		}
		// Replace, not merge: the generated Reset clears every field,
		// including the XXX_ bookkeeping.
		if r, ok := msg.(resetter); ok {
			r.Reset()
		}
		return m.XXX_Unmarshal(p)
	case messageV1:
		return legacyUnmarshal(p, m)
	default:
		return fmt.Errorf("ttrpc: cannot unmarshal into unknown type: %T", msg)
	}
}

// Types generated by golang/protobuf before 1.4 have XXX_ methods that,
// under golang/protobuf 1.4.x, panic instead of encoding (later versions
// implement them again). Such a type goes through golang/protobuf's
// proto.Marshal instead, which handles it in every version. Whether a
// type's methods work is learnt once, from XXX_Size.
var xxxBroken sync.Map // reflect.Type -> bool: true if the XXX_ methods panic

// xxxSize returns m.XXX_Size(), or false if m's XXX_ methods do not work.
func xxxSize(m xxxMarshaler) (n int, ok bool) {
	t := reflect.TypeOf(m)
	if broken, seen := xxxBroken.Load(t); seen && broken.(bool) {
		return 0, false
	}
	defer func() {
		if r := recover(); r != nil {
			xxxBroken.Store(t, true)
			n, ok = 0, false
		}
	}()
	n = m.XXX_Size()
	xxxBroken.Store(t, false)
	return n, true
}

// xxxWorks reports whether m's XXX_ methods work (see xxxSize).
func xxxWorks(m messageV1) bool {
	x, ok := m.(xxxMarshaler)
	if !ok {
		return false
	}
	if broken, seen := xxxBroken.Load(reflect.TypeOf(m)); seen {
		return !broken.(bool)
	}
	_, ok = xxxSize(x)
	return ok
}

// legacyMarshal appends the encoding of m, a message without generated
// fast paths or working XXX_ methods, through golang/protobuf, whose
// Buffer appends in place once Size has made room. Layouts it does not
// support are an error; should it panic on one, that becomes an error too.
func legacyMarshal(p *[]byte, m messageV1) (_ *[]byte, err error) {
	if err := checkLegacyLayout(m); err != nil {
		return p, fmt.Errorf("ttrpc: cannot marshal %T: %w", m, err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ttrpc: cannot marshal %T: %v", m, r)
		}
	}()
	p = ensure(p, golangproto.Size(m))
	b := golangproto.NewBuffer(*p)
	if err := b.Marshal(m); err != nil {
		return p, fmt.Errorf("ttrpc: cannot marshal %T: %w", m, err)
	}
	out := b.Bytes()
	if cap(*p) > 0 && len(out) > 0 && &out[:1][0] == &(*p)[:1][0] {
		*p = out // appended in place
		return p, nil
	}
	return appendPooled(p, out[len(*p):]), nil // the Size was off: it grew its own
}

// legacyUnmarshal decodes p into a message as legacyMarshal encodes it.
func legacyUnmarshal(p []byte, m messageV1) (err error) {
	if err := checkLegacyLayout(m); err != nil {
		return fmt.Errorf("ttrpc: cannot unmarshal into %T: %w", m, err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ttrpc: cannot unmarshal into %T: %v", m, r)
		}
	}()
	if err := golangproto.Unmarshal(p, m); err != nil {
		return fmt.Errorf("ttrpc: cannot unmarshal into %T: %w", m, err)
	}
	return nil
}

// Hand-written message types go through golang/protobuf's reflection on
// their struct tags. Before golang/protobuf 1.4 that code trusts the layout
// and, given one it does not support (a message field that is not a
// pointer, as gogo allows), reads memory it should not. So the layout is
// checked first, once per type.
var legacyLayouts sync.Map // reflect.Type -> error (nil: fine)

// checkLegacyLayout refuses struct layouts golang/protobuf's reflection does
// not support. APIv2 messages are not checked: their runtime handles them.
func checkLegacyLayout(m messageV1) error {
	t := reflect.TypeOf(m)
	if v, ok := legacyLayouts.Load(t); ok {
		err, _ := v.(error)
		return err
	}
	err := legacyLayoutError(t)
	legacyLayouts.Store(t, err)
	return err
}

func legacyLayoutError(t reflect.Type) error {
	if t.Kind() != reflect.Ptr || t.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("not a pointer to a struct")
	}
	st := t.Elem()
	if isAPIv2Struct(st) {
		// golang/protobuf 1.4 and later hand these to the APIv2
		// runtime; before 1.4 they are just structs it cannot read
		// (and, once it has failed on a type, may encode wrongly), and
		// its registry does not know them.
		//lint:ignore SA1019 the registry lookup is the version test
		if golangproto.MessageName(reflect.New(st).Interface().(messageV1)) == "" {
			return fmt.Errorf("APIv2 messages need github.com/golang/protobuf v1.4 or later in the build")
		}
		return nil
	}
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if f.Tag.Get("protobuf_oneof") != "" {
			if _, ok := t.MethodByName("XXX_OneofWrappers"); !ok {
				if _, ok := t.MethodByName("XXX_OneofFuncs"); !ok {
					return fmt.Errorf("oneof field %s without XXX_OneofWrappers", f.Name)
				}
			}
			continue
		}
		if f.Tag.Get("protobuf") == "" {
			continue
		}
		ft := f.Type
		switch ft.Kind() {
		case reflect.Slice:
			if ft.Elem().Kind() == reflect.Struct {
				return fmt.Errorf("field %s is a slice of structs, not of pointers (a gogo-only layout)", f.Name)
			}
		case reflect.Map:
			if ft.Elem().Kind() == reflect.Struct {
				return fmt.Errorf("field %s maps to structs, not to pointers (a gogo-only layout)", f.Name)
			}
		case reflect.Struct:
			return fmt.Errorf("field %s is a struct, not a pointer (a gogo-only layout)", f.Name)
		}
	}
	return nil
}

// isAPIv2Struct reports whether st is a struct generated for the APIv2
// runtime (it holds that runtime's message state).
func isAPIv2Struct(st reflect.Type) bool {
	f, ok := st.FieldByName("state")
	return ok && f.Type.Name() == "MessageState" && strings.HasPrefix(f.Type.PkgPath(), "google.golang.org/protobuf/")
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
