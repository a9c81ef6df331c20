package ttrpc

import (
	"errors"
	"unsafe"

	"github.com/containerd/ttrpc/internal/wire"
	anypb "github.com/golang/protobuf/ptypes/any"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoiface"
)

// The protobuf reflection API (APIv2) of the envelope types, hand-written so
// that this package names no part of the protobuf runtime but the two
// packages of interfaces (protoreflect, protoiface): the runtime's packages
// cost every program that links them about half a megabyte, mostly in init
// code, whether it uses them or not.
//
// ProtoReflect converts the message pointer to a pointer of a type with the
// same fields (requestMsg for Request, and so on) that implements
// protoreflect.Message: no allocation, and a nil message gives the invalid
// (read-only, empty) view. Its ProtoMethods returns the hand-written codec of
// types.go, so proto.Marshal, Unmarshal, Size, Merge and Clone of these types
// run no reflection; it finds the message by a type switch on the views.
// Field access (below) and the descriptors (envelope_desc.go)
// are reached only through protoreflect.Message's other methods.
//
// Nothing in this package calls ProtoReflect, so a program links any of
// this only when it calls protobuf's reflection API through an interface,
// that is when it uses the APIv2 runtime (which then reaches all of it). A
// program that does not (containerd 1.5's shim) links none of it: the import
// of protoreflect costs it only that package's and its dependencies' init
// code, about 2.5 KB.
//
// Unknown fields are not kept, as the hand-written codec does not keep them:
// GetUnknown returns nothing and SetUnknown drops what it is given. There
// are no extensions, and the descriptors are not registered in protobuf's
// global registry (that would link protoregistry into every program).
//
// google.rpc.Status (the Response's status) is reflected through its own
// ProtoReflect method where the linked genproto has one (the 1.2 world);
// older generated Status types (golang/protobuf before 1.4) have none, and
// are reflected by the stand-ins statusMsg and anyMsg below, described by
// hand-written descriptors of google/rpc/status.proto and
// google/protobuf/any.proto. (golang/protobuf 1.4's Any has ProtoReflect
// while a Status generated before it does not: each is decided by itself.)

// ProtoReflect returns the protobuf reflection view of the request.
func (x *Request) ProtoReflect() protoreflect.Message { return (*requestMsg)(x) }

// ProtoReflect returns the protobuf reflection view of the response.
func (x *Response) ProtoReflect() protoreflect.Message { return (*responseMsg)(x) }

// ProtoReflect returns the protobuf reflection view of the list.
func (x *StringList) ProtoReflect() protoreflect.Message { return (*stringListMsg)(x) }

// ProtoReflect returns the protobuf reflection view of the entry.
func (x *KeyValue) ProtoReflect() protoreflect.Message { return (*keyValueMsg)(x) }

// Descriptor returns the gzipped FileDescriptorProto of request.proto and the
// index path of Request in it.
//
// Deprecated: Use Request.ProtoReflect.Descriptor instead.
func (*Request) Descriptor() ([]byte, []int) { return requestProtoGzip, []int{msgRequest} }

// Descriptor returns the gzipped FileDescriptorProto of request.proto and the
// index path of Response in it.
//
// Deprecated: Use Response.ProtoReflect.Descriptor instead.
func (*Response) Descriptor() ([]byte, []int) { return requestProtoGzip, []int{msgResponse} }

// Descriptor returns the gzipped FileDescriptorProto of request.proto and the
// index path of StringList in it.
//
// Deprecated: Use StringList.ProtoReflect.Descriptor instead.
func (*StringList) Descriptor() ([]byte, []int) { return requestProtoGzip, []int{msgStringList} }

// Descriptor returns the gzipped FileDescriptorProto of request.proto and the
// index path of KeyValue in it.
//
// Deprecated: Use KeyValue.ProtoReflect.Descriptor instead.
func (*KeyValue) Descriptor() ([]byte, []int) { return requestProtoGzip, []int{msgKeyValue} }

// The reflection views. Each has the fields of its message type, so a
// pointer converts freely between the two.
type (
	requestMsg    Request
	responseMsg   Response
	stringListMsg StringList
	keyValueMsg   KeyValue
	// statusMsg and anyMsg reflect google.rpc.Status and google.protobuf.Any
	// types that do not implement the reflection API themselves.
	statusMsg spb.Status
	anyMsg    anypb.Any
)

// envelopeMethods are the fast paths of the four envelope types: the
// hand-written codec. The functions find the message by a type switch on the
// view types, never through reflection.
var envelopeMethods = protoiface.Methods{
	Flags:            protoiface.SupportMarshalDeterministic | protoiface.SupportUnmarshalDiscardUnknown,
	Size:             envelopeSize,
	Marshal:          envelopeMarshal,
	Unmarshal:        envelopeUnmarshal,
	Merge:            envelopeMerge,
	CheckInitialized: envelopeCheckInitialized,
}

func (*requestMsg) ProtoMethods() *protoiface.Methods    { return &envelopeMethods }
func (*responseMsg) ProtoMethods() *protoiface.Methods   { return &envelopeMethods }
func (*stringListMsg) ProtoMethods() *protoiface.Methods { return &envelopeMethods }
func (*keyValueMsg) ProtoMethods() *protoiface.Methods   { return &envelopeMethods }

var (
	errNotEnvelope = errors.New("ttrpc: not an envelope message")
	errNilEnvelope = errors.New("ttrpc: cannot unmarshal into a nil message")
)

func envelopeSize(in protoiface.SizeInput) protoiface.SizeOutput {
	n := 0
	switch m := in.Message.(type) {
	case *requestMsg:
		if m != nil {
			n = (*Request)(m).Size()
		}
	case *responseMsg:
		if m != nil {
			n = (*Response)(m).Size()
		}
	case *stringListMsg:
		if m != nil {
			n = (*StringList)(m).Size()
		}
	case *keyValueMsg:
		if m != nil {
			n = (*KeyValue)(m).Size()
		}
	}
	return protoiface.SizeOutput{Size: n}
}

// envelopeMarshal appends the encoding to in.Buf. A nil message encodes as
// the empty message.
func envelopeMarshal(in protoiface.MarshalInput) (protoiface.MarshalOutput, error) {
	b := in.Buf
	switch m := in.Message.(type) {
	case *requestMsg:
		if m != nil {
			b = (*Request)(m).appendTo(b)
		}
	case *responseMsg:
		if m != nil {
			b = (*Response)(m).appendTo(b)
		}
	case *stringListMsg:
		if m != nil {
			for _, s := range m.List {
				b = wire.AppendString(b, 1, s)
			}
		}
	case *keyValueMsg:
		if m != nil {
			b = (*KeyValue)(m).appendTo(b)
		}
	default:
		return protoiface.MarshalOutput{Buf: b}, errNotEnvelope
	}
	return protoiface.MarshalOutput{Buf: b}, nil
}

// envelopeUnmarshal merges the encoding in.Buf into the message, as
// protoiface requires (proto.Unmarshal resets the message first). Nothing
// in the message aliases in.Buf afterwards.
func envelopeUnmarshal(in protoiface.UnmarshalInput) (protoiface.UnmarshalOutput, error) {
	out := protoiface.UnmarshalOutput{Flags: protoiface.UnmarshalInitialized}
	var err error
	switch m := in.Message.(type) {
	case *requestMsg:
		if m == nil {
			return out, errNilEnvelope
		}
		old := m.Payload
		m.Payload = nil
		err = decodeRequest((*Request)(m), in.Buf)
		m.Payload = mergedBytes(old, m.Payload)
	case *responseMsg:
		if m == nil {
			return out, errNilEnvelope
		}
		old := m.Payload
		m.Payload = nil
		err = decodeResponse((*Response)(m), in.Buf)
		m.Payload = mergedBytes(old, m.Payload)
	case *stringListMsg:
		if m == nil {
			return out, errNilEnvelope
		}
		old := m.List
		err = unmarshalStringList((*StringList)(m), in.Buf)
		if len(old) > 0 {
			m.List = append(old, m.List...)
		}
	case *keyValueMsg:
		if m == nil {
			return out, errNilEnvelope
		}
		err = decodeKeyValue((*KeyValue)(m), in.Buf)
	default:
		return out, errNotEnvelope
	}
	return out, err
}

// The decoders of types.go, called through variables so that they are not
// inlined here (their closures would be compiled twice).
var (
	decodeRequest       = (*Request).decode
	decodeResponse      = (*Response).decode
	decodeKeyValue      = (*KeyValue).decode
	unmarshalStringList = (*StringList).Unmarshal
)

// mergedBytes returns a decoded bytes field: a copy of got (which aliases
// the input) when the input had the field, else the value before, old.
func mergedBytes(old, got []byte) []byte {
	if got == nil {
		return old
	}
	return append([]byte{}, got...)
}

// envelopeMerge merges in.Source into in.Destination when both are views of
// the same envelope type; otherwise it reports the merge as not done, and
// proto.Merge falls back to reflection.
func envelopeMerge(in protoiface.MergeInput) protoiface.MergeOutput {
	switch dst := in.Destination.(type) {
	case *requestMsg:
		src, ok := in.Source.(*requestMsg)
		if !ok || dst == nil {
			return protoiface.MergeOutput{}
		}
		if src != nil {
			mergeRequest((*Request)(dst), (*Request)(src))
		}
	case *responseMsg:
		src, ok := in.Source.(*responseMsg)
		if !ok || dst == nil {
			return protoiface.MergeOutput{}
		}
		if src != nil {
			mergeResponse((*Response)(dst), (*Response)(src))
		}
	case *stringListMsg:
		src, ok := in.Source.(*stringListMsg)
		if !ok || dst == nil {
			return protoiface.MergeOutput{}
		}
		if src != nil {
			dst.List = append(dst.List, src.List...)
		}
	case *keyValueMsg:
		src, ok := in.Source.(*keyValueMsg)
		if !ok || dst == nil {
			return protoiface.MergeOutput{}
		}
		if src != nil {
			mergeKeyValue((*KeyValue)(dst), (*KeyValue)(src))
		}
	default:
		return protoiface.MergeOutput{}
	}
	return protoiface.MergeOutput{Flags: protoiface.MergeComplete}
}

func envelopeCheckInitialized(protoiface.CheckInitializedInput) (protoiface.CheckInitializedOutput, error) {
	return protoiface.CheckInitializedOutput{}, nil // proto3: nothing is required
}

// mergeRequest merges src into dst with proto.Merge's semantics: set scalars
// replace, lists append deep copies. Nothing of src is shared.
func mergeRequest(dst, src *Request) {
	if src.Service != "" {
		dst.Service = src.Service
	}
	if src.Method != "" {
		dst.Method = src.Method
	}
	if len(src.Payload) > 0 {
		dst.Payload = append([]byte{}, src.Payload...)
	}
	if src.TimeoutNano != 0 {
		dst.TimeoutNano = src.TimeoutNano
	}
	for _, kv := range src.Metadata {
		c := &KeyValue{}
		if kv != nil {
			mergeKeyValue(c, kv)
		}
		dst.Metadata = append(dst.Metadata, c)
	}
}

func mergeResponse(dst, src *Response) {
	if src.Status != nil {
		if dst.Status == nil {
			dst.Status = &spb.Status{}
		}
		mergeStatus(dst.Status, src.Status)
	}
	if len(src.Payload) > 0 {
		dst.Payload = append([]byte{}, src.Payload...)
	}
}

func mergeKeyValue(dst, src *KeyValue) {
	if src.Key != "" {
		dst.Key = src.Key
	}
	if src.Value != "" {
		dst.Value = src.Value
	}
}

func mergeStatus(dst, src *spb.Status) {
	if src.Code != 0 {
		dst.Code = src.Code
	}
	if src.Message != "" {
		dst.Message = src.Message
	}
	for _, d := range src.Details {
		c := &anypb.Any{}
		if d != nil {
			c.TypeUrl = d.TypeUrl
			if len(d.Value) > 0 {
				c.Value = append([]byte{}, d.Value...)
			}
		}
		dst.Details = append(dst.Details, c)
	}
}

// Everything below is reached only through protobuf reflection.
//
// Field access is table-driven: each field descriptor records how its value
// is held in the Go struct (gk) and where (off, the field's offset), and the
// views' methods hand the message pointer to the functions below. A nil
// pointer is the invalid message: reads give defaults, writes panic.

// How a field's value is held.
const (
	gkString    = iota // string
	gkBytes            // []byte
	gkInt64            // int64
	gkInt32            // int32
	gkKeyValues        // []*KeyValue
	gkStrings          // []string
	gkAnys             // []*anypb.Any
	gkStatus           // *spb.Status
)

// statusReflect returns the reflection view of s: its own where its type has
// one, else the stand-in's. A nil s gives the invalid view.
func statusReflect(s *spb.Status) protoreflect.Message {
	if m, ok := interface{}(s).(protoreflect.ProtoMessage); ok {
		return m.ProtoReflect()
	}
	return (*statusMsg)(s)
}

// anyReflect is statusReflect for google.protobuf.Any.
func anyReflect(a *anypb.Any) protoreflect.Message {
	if m, ok := interface{}(a).(protoreflect.ProtoMessage); ok {
		return m.ProtoReflect()
	}
	return (*anyMsg)(a)
}

// statusOf returns the status that the message value v holds; it panics
// when v holds something else or an invalid message, as Set does for a
// value of the wrong type.
func statusOf(v protoreflect.Value) *spb.Status {
	var s *spb.Status
	if m, ok := v.Message().(*statusMsg); ok {
		s = (*spb.Status)(m)
	} else {
		var x interface{} = v.Message().Interface()
		s, _ = x.(*spb.Status)
	}
	if s == nil {
		panic(invalidValue("google.rpc.Status"))
	}
	return s
}

func anyOf(v protoreflect.Value) *anypb.Any {
	var a *anypb.Any
	if m, ok := v.Message().(*anyMsg); ok {
		a = (*anypb.Any)(m)
	} else {
		var x interface{} = v.Message().Interface()
		a, _ = x.(*anypb.Any)
	}
	if a == nil {
		panic(invalidValue("google.protobuf.Any"))
	}
	return a
}

func keyValueOf(v protoreflect.Value) *KeyValue {
	m, ok := v.Message().(*keyValueMsg)
	if !ok || m == nil {
		panic(invalidValue("ttrpc.KeyValue"))
	}
	return (*KeyValue)(m)
}

func stringOf(v protoreflect.Value) string {
	s, ok := v.Interface().(string)
	if !ok {
		panic(invalidValue("string"))
	}
	return s
}

// invalidValue is the panic of a Set whose value has the wrong type.
type invalidValue string

func (e invalidValue) Error() string { return "ttrpc: invalid value for a field of type " + string(e) }

// reflectPanic is a panic of the reflection API on misuse.
type reflectPanic string

func (e reflectPanic) Error() string { return "ttrpc: " + string(e) }

// fieldOf returns the descriptor of fd in message mi: fd itself when it is
// one of the message's own, or the one of the same field (full name and
// number) when fd comes from elsewhere, such as a descriptor built from
// Descriptor's bytes. Anything else panics, as generated messages do.
func fieldOf(mi int, fd protoreflect.FieldDescriptor) *fieldDesc {
	if f, ok := fd.(*fieldDesc); ok && f.msg == mi {
		return f
	}
	l := &descMsgs[mi].fields
	if fd != nil {
		for i := l.lo; i < l.hi; i++ {
			if descFields[i].number == fd.Number() && descFields[i].fullName == fd.FullName() && !fd.IsExtension() {
				return &descFields[i]
			}
		}
	}
	panic(reflectPanic("not a field of " + string(descMsgs[mi].fullName)))
}

// mutableField is fieldOf for mutating operations, which panic on an
// invalid message.
func mutableField(mi int, p unsafe.Pointer, fd protoreflect.FieldDescriptor) *fieldDesc {
	mustBeValid(mi, p)
	return fieldOf(mi, fd)
}

func mustBeValid(mi int, p unsafe.Pointer) {
	if p == nil {
		panic(reflectPanic("cannot mutate an invalid (nil) " + string(descMsgs[mi].fullName)))
	}
}

func msgRange(mi int, p unsafe.Pointer, f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	if p == nil {
		return
	}
	l := &descMsgs[mi].fields
	for i := l.lo; i < l.hi; i++ {
		fd := &descFields[i]
		if fieldHas(fd, p) && !f(fd, fieldGet(fd, p)) {
			return
		}
	}
}

func msgHas(mi int, p unsafe.Pointer, fd protoreflect.FieldDescriptor) bool {
	return fieldHas(fieldOf(mi, fd), p)
}

func msgGet(mi int, p unsafe.Pointer, fd protoreflect.FieldDescriptor) protoreflect.Value {
	return fieldGet(fieldOf(mi, fd), p)
}

func msgClear(mi int, p unsafe.Pointer, fd protoreflect.FieldDescriptor) {
	f := mutableField(mi, p, fd)
	fp := unsafe.Add(p, f.off)
	switch f.gk {
	case gkString:
		*(*string)(fp) = ""
	case gkBytes:
		*(*[]byte)(fp) = nil
	case gkInt64:
		*(*int64)(fp) = 0
	case gkInt32:
		*(*int32)(fp) = 0
	case gkKeyValues:
		*(*[]*KeyValue)(fp) = nil
	case gkStrings:
		*(*[]string)(fp) = nil
	case gkAnys:
		*(*[]*anypb.Any)(fp) = nil
	case gkStatus:
		*(**spb.Status)(fp) = nil
	}
}

func msgSet(mi int, p unsafe.Pointer, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	f := mutableField(mi, p, fd)
	fp := unsafe.Add(p, f.off)
	switch f.gk {
	case gkString:
		*(*string)(fp) = stringOf(v)
	case gkBytes:
		b, ok := v.Interface().([]byte)
		if !ok {
			panic(invalidValue("bytes"))
		}
		*(*[]byte)(fp) = b
	case gkInt64:
		n, ok := v.Interface().(int64)
		if !ok {
			panic(invalidValue("int64"))
		}
		*(*int64)(fp) = n
	case gkInt32:
		n, ok := v.Interface().(int32)
		if !ok {
			panic(invalidValue("int32"))
		}
		*(*int32)(fp) = n
	case gkKeyValues:
		l, ok := v.List().(*keyValueList)
		if !ok || l == nil {
			panic(invalidValue("list of ttrpc.KeyValue"))
		}
		*(*[]*KeyValue)(fp) = *l
	case gkStrings:
		l, ok := v.List().(*stringList)
		if !ok || l == nil {
			panic(invalidValue("list of string"))
		}
		*(*[]string)(fp) = *l
	case gkAnys:
		l, ok := v.List().(*anyList)
		if !ok || l == nil {
			panic(invalidValue("list of google.protobuf.Any"))
		}
		*(*[]*anypb.Any)(fp) = *l
	case gkStatus:
		*(**spb.Status)(fp) = statusOf(v)
	}
}

func msgMutable(mi int, p unsafe.Pointer, fd protoreflect.FieldDescriptor) protoreflect.Value {
	f := mutableField(mi, p, fd)
	switch f.gk {
	case gkKeyValues, gkStrings, gkAnys:
		return fieldGet(f, p)
	case gkStatus:
		sp := (**spb.Status)(unsafe.Add(p, f.off))
		if *sp == nil {
			*sp = &spb.Status{}
		}
		return protoreflect.ValueOfMessage(statusReflect(*sp))
	}
	panic(reflectPanic("field " + string(f.fullName) + " is not a message or list"))
}

// msgNewField returns a new value for the field: the zero value of a
// scalar, else a new empty list or message.
func msgNewField(mi int, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch f := fieldOf(mi, fd); f.gk {
	case gkKeyValues:
		return protoreflect.ValueOfList(&keyValueList{})
	case gkStrings:
		return protoreflect.ValueOfList(&stringList{})
	case gkAnys:
		return protoreflect.ValueOfList(&anyList{})
	case gkStatus:
		return protoreflect.ValueOfMessage(statusReflect(&spb.Status{}))
	default:
		return scalarZero(f.kind)
	}
}

func msgWhichOneof(mi int) protoreflect.FieldDescriptor {
	panic(reflectPanic(string(descMsgs[mi].fullName) + " has no oneofs"))
}

func fieldHas(f *fieldDesc, p unsafe.Pointer) bool {
	if p == nil {
		return false
	}
	fp := unsafe.Add(p, f.off)
	switch f.gk {
	case gkString:
		return *(*string)(fp) != ""
	case gkBytes:
		return len(*(*[]byte)(fp)) > 0
	case gkInt64:
		return *(*int64)(fp) != 0
	case gkInt32:
		return *(*int32)(fp) != 0
	case gkKeyValues:
		return len(*(*[]*KeyValue)(fp)) > 0
	case gkStrings:
		return len(*(*[]string)(fp)) > 0
	case gkAnys:
		return len(*(*[]*anypb.Any)(fp)) > 0
	default:
		return *(**spb.Status)(fp) != nil
	}
}

// fieldGet returns the field's value; for an invalid message (nil p), the
// default: zero scalars, invalid lists and messages.
func fieldGet(f *fieldDesc, p unsafe.Pointer) protoreflect.Value {
	var fp unsafe.Pointer
	if p != nil {
		fp = unsafe.Add(p, f.off)
	}
	switch f.gk {
	case gkKeyValues:
		return protoreflect.ValueOfList((*keyValueList)(fp))
	case gkStrings:
		return protoreflect.ValueOfList((*stringList)(fp))
	case gkAnys:
		return protoreflect.ValueOfList((*anyList)(fp))
	}
	if fp == nil {
		if f.gk == gkStatus {
			return protoreflect.ValueOfMessage(statusReflect(nil))
		}
		return scalarZero(f.kind)
	}
	switch f.gk {
	case gkString:
		return protoreflect.ValueOfString(*(*string)(fp))
	case gkBytes:
		return protoreflect.ValueOfBytes(*(*[]byte)(fp))
	case gkInt64:
		return protoreflect.ValueOfInt64(*(*int64)(fp))
	case gkInt32:
		return protoreflect.ValueOfInt32(*(*int32)(fp))
	default:
		return protoreflect.ValueOfMessage(statusReflect(*(**spb.Status)(fp)))
	}
}

// The views' methods. Those of the envelope types' views return the
// envelope types from Interface; the stand-ins (statusMsg, anyMsg) are their
// own ProtoMessage, as the types they reflect are not ones, and have no
// fast paths: proto.Marshal and the rest use reflection on them.

func (m *requestMsg) Descriptor() protoreflect.MessageDescriptor { return &descMsgs[msgRequest] }
func (m *requestMsg) Type() protoreflect.MessageType             { return &descTypes[msgRequest] }
func (m *requestMsg) New() protoreflect.Message                  { return new(requestMsg) }
func (m *requestMsg) Interface() protoreflect.ProtoMessage       { return (*Request)(m) }
func (m *requestMsg) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	msgRange(msgRequest, unsafe.Pointer(m), f)
}
func (m *requestMsg) Has(fd protoreflect.FieldDescriptor) bool {
	return msgHas(msgRequest, unsafe.Pointer(m), fd)
}
func (m *requestMsg) Clear(fd protoreflect.FieldDescriptor) {
	msgClear(msgRequest, unsafe.Pointer(m), fd)
}
func (m *requestMsg) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgGet(msgRequest, unsafe.Pointer(m), fd)
}
func (m *requestMsg) Set(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	msgSet(msgRequest, unsafe.Pointer(m), fd, v)
}
func (m *requestMsg) Mutable(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgMutable(msgRequest, unsafe.Pointer(m), fd)
}
func (m *requestMsg) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgNewField(msgRequest, fd)
}
func (m *requestMsg) WhichOneof(protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	return msgWhichOneof(msgRequest)
}
func (m *requestMsg) GetUnknown() protoreflect.RawFields { return nil }
func (m *requestMsg) SetUnknown(protoreflect.RawFields)  { mustBeValid(msgRequest, unsafe.Pointer(m)) }
func (m *requestMsg) IsValid() bool                      { return m != nil }

func (m *responseMsg) Descriptor() protoreflect.MessageDescriptor { return &descMsgs[msgResponse] }
func (m *responseMsg) Type() protoreflect.MessageType             { return &descTypes[msgResponse] }
func (m *responseMsg) New() protoreflect.Message                  { return new(responseMsg) }
func (m *responseMsg) Interface() protoreflect.ProtoMessage       { return (*Response)(m) }
func (m *responseMsg) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	msgRange(msgResponse, unsafe.Pointer(m), f)
}
func (m *responseMsg) Has(fd protoreflect.FieldDescriptor) bool {
	return msgHas(msgResponse, unsafe.Pointer(m), fd)
}
func (m *responseMsg) Clear(fd protoreflect.FieldDescriptor) {
	msgClear(msgResponse, unsafe.Pointer(m), fd)
}
func (m *responseMsg) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgGet(msgResponse, unsafe.Pointer(m), fd)
}
func (m *responseMsg) Set(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	msgSet(msgResponse, unsafe.Pointer(m), fd, v)
}
func (m *responseMsg) Mutable(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgMutable(msgResponse, unsafe.Pointer(m), fd)
}
func (m *responseMsg) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgNewField(msgResponse, fd)
}
func (m *responseMsg) WhichOneof(protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	return msgWhichOneof(msgResponse)
}
func (m *responseMsg) GetUnknown() protoreflect.RawFields { return nil }
func (m *responseMsg) SetUnknown(protoreflect.RawFields)  { mustBeValid(msgResponse, unsafe.Pointer(m)) }
func (m *responseMsg) IsValid() bool                      { return m != nil }

func (m *stringListMsg) Descriptor() protoreflect.MessageDescriptor {
	return &descMsgs[msgStringList]
}
func (m *stringListMsg) Type() protoreflect.MessageType       { return &descTypes[msgStringList] }
func (m *stringListMsg) New() protoreflect.Message            { return new(stringListMsg) }
func (m *stringListMsg) Interface() protoreflect.ProtoMessage { return (*StringList)(m) }
func (m *stringListMsg) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	msgRange(msgStringList, unsafe.Pointer(m), f)
}
func (m *stringListMsg) Has(fd protoreflect.FieldDescriptor) bool {
	return msgHas(msgStringList, unsafe.Pointer(m), fd)
}
func (m *stringListMsg) Clear(fd protoreflect.FieldDescriptor) {
	msgClear(msgStringList, unsafe.Pointer(m), fd)
}
func (m *stringListMsg) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgGet(msgStringList, unsafe.Pointer(m), fd)
}
func (m *stringListMsg) Set(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	msgSet(msgStringList, unsafe.Pointer(m), fd, v)
}
func (m *stringListMsg) Mutable(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgMutable(msgStringList, unsafe.Pointer(m), fd)
}
func (m *stringListMsg) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgNewField(msgStringList, fd)
}
func (m *stringListMsg) WhichOneof(protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	return msgWhichOneof(msgStringList)
}
func (m *stringListMsg) GetUnknown() protoreflect.RawFields { return nil }
func (m *stringListMsg) SetUnknown(protoreflect.RawFields) {
	mustBeValid(msgStringList, unsafe.Pointer(m))
}
func (m *stringListMsg) IsValid() bool { return m != nil }

func (m *keyValueMsg) Descriptor() protoreflect.MessageDescriptor { return &descMsgs[msgKeyValue] }
func (m *keyValueMsg) Type() protoreflect.MessageType             { return &descTypes[msgKeyValue] }
func (m *keyValueMsg) New() protoreflect.Message                  { return new(keyValueMsg) }
func (m *keyValueMsg) Interface() protoreflect.ProtoMessage       { return (*KeyValue)(m) }
func (m *keyValueMsg) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	msgRange(msgKeyValue, unsafe.Pointer(m), f)
}
func (m *keyValueMsg) Has(fd protoreflect.FieldDescriptor) bool {
	return msgHas(msgKeyValue, unsafe.Pointer(m), fd)
}
func (m *keyValueMsg) Clear(fd protoreflect.FieldDescriptor) {
	msgClear(msgKeyValue, unsafe.Pointer(m), fd)
}
func (m *keyValueMsg) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgGet(msgKeyValue, unsafe.Pointer(m), fd)
}
func (m *keyValueMsg) Set(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	msgSet(msgKeyValue, unsafe.Pointer(m), fd, v)
}
func (m *keyValueMsg) Mutable(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgMutable(msgKeyValue, unsafe.Pointer(m), fd)
}
func (m *keyValueMsg) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgNewField(msgKeyValue, fd)
}
func (m *keyValueMsg) WhichOneof(protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	return msgWhichOneof(msgKeyValue)
}
func (m *keyValueMsg) GetUnknown() protoreflect.RawFields { return nil }
func (m *keyValueMsg) SetUnknown(protoreflect.RawFields)  { mustBeValid(msgKeyValue, unsafe.Pointer(m)) }
func (m *keyValueMsg) IsValid() bool                      { return m != nil }

func (m *statusMsg) ProtoReflect() protoreflect.Message         { return m }
func (m *statusMsg) ProtoMethods() *protoiface.Methods          { return nil }
func (m *statusMsg) Descriptor() protoreflect.MessageDescriptor { return &descMsgs[msgStatus] }
func (m *statusMsg) Type() protoreflect.MessageType             { return &descTypes[msgStatus] }
func (m *statusMsg) New() protoreflect.Message                  { return new(statusMsg) }
func (m *statusMsg) Interface() protoreflect.ProtoMessage       { return m }
func (m *statusMsg) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	msgRange(msgStatus, unsafe.Pointer(m), f)
}
func (m *statusMsg) Has(fd protoreflect.FieldDescriptor) bool {
	return msgHas(msgStatus, unsafe.Pointer(m), fd)
}
func (m *statusMsg) Clear(fd protoreflect.FieldDescriptor) {
	msgClear(msgStatus, unsafe.Pointer(m), fd)
}
func (m *statusMsg) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgGet(msgStatus, unsafe.Pointer(m), fd)
}
func (m *statusMsg) Set(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	msgSet(msgStatus, unsafe.Pointer(m), fd, v)
}
func (m *statusMsg) Mutable(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgMutable(msgStatus, unsafe.Pointer(m), fd)
}
func (m *statusMsg) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgNewField(msgStatus, fd)
}
func (m *statusMsg) WhichOneof(protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	return msgWhichOneof(msgStatus)
}
func (m *statusMsg) GetUnknown() protoreflect.RawFields { return nil }
func (m *statusMsg) SetUnknown(protoreflect.RawFields)  { mustBeValid(msgStatus, unsafe.Pointer(m)) }
func (m *statusMsg) IsValid() bool                      { return m != nil }

func (m *anyMsg) ProtoReflect() protoreflect.Message         { return m }
func (m *anyMsg) ProtoMethods() *protoiface.Methods          { return nil }
func (m *anyMsg) Descriptor() protoreflect.MessageDescriptor { return &descMsgs[msgAny] }
func (m *anyMsg) Type() protoreflect.MessageType             { return &descTypes[msgAny] }
func (m *anyMsg) New() protoreflect.Message                  { return new(anyMsg) }
func (m *anyMsg) Interface() protoreflect.ProtoMessage       { return m }
func (m *anyMsg) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	msgRange(msgAny, unsafe.Pointer(m), f)
}
func (m *anyMsg) Has(fd protoreflect.FieldDescriptor) bool {
	return msgHas(msgAny, unsafe.Pointer(m), fd)
}
func (m *anyMsg) Clear(fd protoreflect.FieldDescriptor) { msgClear(msgAny, unsafe.Pointer(m), fd) }
func (m *anyMsg) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgGet(msgAny, unsafe.Pointer(m), fd)
}
func (m *anyMsg) Set(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	msgSet(msgAny, unsafe.Pointer(m), fd, v)
}
func (m *anyMsg) Mutable(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgMutable(msgAny, unsafe.Pointer(m), fd)
}
func (m *anyMsg) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return msgNewField(msgAny, fd)
}
func (m *anyMsg) WhichOneof(protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	return msgWhichOneof(msgAny)
}
func (m *anyMsg) GetUnknown() protoreflect.RawFields { return nil }
func (m *anyMsg) SetUnknown(protoreflect.RawFields)  { mustBeValid(msgAny, unsafe.Pointer(m)) }
func (m *anyMsg) IsValid() bool                      { return m != nil }

// Message types.

var descTypes = [numMsgs]msgType{{msgRequest}, {msgResponse}, {msgStringList}, {msgKeyValue}, {msgStatus}, {msgAny}}

// msgType is the protoreflect.MessageType of message i.
type msgType struct{ i int }

func (t *msgType) New() protoreflect.Message {
	switch t.i {
	case msgRequest:
		return new(requestMsg)
	case msgResponse:
		return new(responseMsg)
	case msgStringList:
		return new(stringListMsg)
	case msgKeyValue:
		return new(keyValueMsg)
	case msgStatus:
		return new(statusMsg)
	default:
		return new(anyMsg)
	}
}

func (t *msgType) Zero() protoreflect.Message {
	switch t.i {
	case msgRequest:
		return (*requestMsg)(nil)
	case msgResponse:
		return (*responseMsg)(nil)
	case msgStringList:
		return (*stringListMsg)(nil)
	case msgKeyValue:
		return (*keyValueMsg)(nil)
	case msgStatus:
		return (*statusMsg)(nil)
	default:
		return (*anyMsg)(nil)
	}
}

func (t *msgType) Descriptor() protoreflect.MessageDescriptor { return &descMsgs[t.i] }

// Lists. A nil list pointer is the invalid (read-only, empty) list of an
// invalid message.

// keyValueList is the list of a Request's metadata.
type keyValueList []*KeyValue

func (l *keyValueList) Len() int {
	if l == nil {
		return 0
	}
	return len(*l)
}
func (l *keyValueList) Get(i int) protoreflect.Value {
	return protoreflect.ValueOfMessage((*keyValueMsg)((*l)[i]))
}
func (l *keyValueList) Set(i int, v protoreflect.Value) { (*l)[i] = keyValueOf(v) }
func (l *keyValueList) Append(v protoreflect.Value)     { *l = append(*l, keyValueOf(v)) }
func (l *keyValueList) AppendMutable() protoreflect.Value {
	kv := &KeyValue{}
	*l = append(*l, kv)
	return protoreflect.ValueOfMessage((*keyValueMsg)(kv))
}
func (l *keyValueList) Truncate(n int) {
	clear((*l)[n:])
	*l = (*l)[:n]
}
func (l *keyValueList) NewElement() protoreflect.Value {
	return protoreflect.ValueOfMessage(new(keyValueMsg))
}
func (l *keyValueList) IsValid() bool { return l != nil }

// stringList is the list of a StringList.
type stringList []string

func (l *stringList) Len() int {
	if l == nil {
		return 0
	}
	return len(*l)
}
func (l *stringList) Get(i int) protoreflect.Value    { return protoreflect.ValueOfString((*l)[i]) }
func (l *stringList) Set(i int, v protoreflect.Value) { (*l)[i] = stringOf(v) }
func (l *stringList) Append(v protoreflect.Value)     { *l = append(*l, stringOf(v)) }
func (l *stringList) AppendMutable() protoreflect.Value {
	panic(reflectPanic("AppendMutable on a list of strings"))
}
func (l *stringList) Truncate(n int) {
	clear((*l)[n:])
	*l = (*l)[:n]
}
func (l *stringList) NewElement() protoreflect.Value { return protoreflect.ValueOfString("") }
func (l *stringList) IsValid() bool                  { return l != nil }

// anyList is the list of a stand-in Status's details.
type anyList []*anypb.Any

func (l *anyList) Len() int {
	if l == nil {
		return 0
	}
	return len(*l)
}
func (l *anyList) Get(i int) protoreflect.Value {
	return protoreflect.ValueOfMessage(anyReflect((*l)[i]))
}
func (l *anyList) Set(i int, v protoreflect.Value) { (*l)[i] = anyOf(v) }
func (l *anyList) Append(v protoreflect.Value)     { *l = append(*l, anyOf(v)) }
func (l *anyList) AppendMutable() protoreflect.Value {
	a := &anypb.Any{}
	*l = append(*l, a)
	return protoreflect.ValueOfMessage(anyReflect(a))
}
func (l *anyList) Truncate(n int) {
	clear((*l)[n:])
	*l = (*l)[:n]
}
func (l *anyList) NewElement() protoreflect.Value {
	return protoreflect.ValueOfMessage(anyReflect(&anypb.Any{}))
}
func (l *anyList) IsValid() bool { return l != nil }
