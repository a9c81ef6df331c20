package ttrpc

import (
	"strconv"
	"unsafe"

	anypb "github.com/golang/protobuf/ptypes/any"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Hand-written protobuf descriptors of request.proto (the file the 1.2 line
// generates its envelope types from) and, for programs whose google.rpc.Status
// or google.protobuf.Any types predate the reflection API, of the parts of
// google/rpc/status.proto and google/protobuf/any.proto that the envelope
// needs.
//
// They are plain data: tables statically initialized by the compiler, with
// no init code and no reference from the codec's paths, so a program links
// them only when it uses protobuf reflection on the envelope (and so links
// the reflection runtime anyway). Each descriptor type embeds the interface
// it implements, which supplies the interface's unexported methods; every
// exported method is overridden, so the nil embedded value is never called.
//
// The tables are indexed by the constants below; parents and message types
// are looked up by index (not pointers) so that the initializers do not
// refer to each other.

// Files.
const (
	fileTTRPC = iota
	fileStatus
	fileAny
)

// Messages.
const (
	msgRequest = iota
	msgResponse
	msgStringList
	msgKeyValue
	msgStatus
	msgAny
	numMsgs
)

// File_request_proto describes request.proto (github.com/containerd/ttrpc/request.proto),
// the file that declares the envelope messages ttrpc.Request, ttrpc.Response,
// ttrpc.StringList and ttrpc.KeyValue. It is not registered in protobuf's
// global registry.
var File_request_proto protoreflect.FileDescriptor = &descFiles[fileTTRPC]

// File_github_com_containerd_ttrpc_request_proto is File_request_proto under
// the name the 1.2 line used before v1.2.10.
var File_github_com_containerd_ttrpc_request_proto protoreflect.FileDescriptor = &descFiles[fileTTRPC]

var descFiles = [...]fileDesc{
	fileTTRPC: {
		index:    fileTTRPC,
		path:     "github.com/containerd/ttrpc/request.proto",
		pkg:      "ttrpc",
		messages: msgList{lo: msgRequest, hi: msgKeyValue + 1},
		imports:  fileImports{dep: msgStatus},
	},
	fileStatus: {
		index:    fileStatus,
		path:     "google/rpc/status.proto",
		pkg:      "google.rpc",
		messages: msgList{lo: msgStatus, hi: msgStatus + 1},
		imports:  fileImports{dep: msgAny},
	},
	fileAny: {
		index:    fileAny,
		path:     "google/protobuf/any.proto",
		pkg:      "google.protobuf",
		messages: msgList{lo: msgAny, hi: msgAny + 1},
		imports:  fileImports{dep: -1},
	},
}

var descMsgs = [numMsgs]msgDesc{
	msgRequest:    {index: msgRequest, file: fileTTRPC, name: "Request", fullName: "ttrpc.Request", fields: fieldList{lo: 0, hi: 5}},
	msgResponse:   {index: msgResponse, file: fileTTRPC, name: "Response", fullName: "ttrpc.Response", fields: fieldList{lo: 5, hi: 7}},
	msgStringList: {index: msgStringList, file: fileTTRPC, name: "StringList", fullName: "ttrpc.StringList", fields: fieldList{lo: 7, hi: 8}},
	msgKeyValue:   {index: msgKeyValue, file: fileTTRPC, name: "KeyValue", fullName: "ttrpc.KeyValue", fields: fieldList{lo: 8, hi: 10}},
	msgStatus:     {index: msgStatus, file: fileStatus, name: "Status", fullName: "google.rpc.Status", fields: fieldList{lo: 10, hi: 13}},
	msgAny:        {index: msgAny, file: fileAny, name: "Any", fullName: "google.protobuf.Any", fields: fieldList{lo: 13, hi: 15}},
}

const (
	cardOptional = protoreflect.Optional
	cardRepeated = protoreflect.Repeated
)

var descFields = [...]fieldDesc{
	{msg: msgRequest, index: 0, number: 1, name: "service", jsonName: "service", fullName: "ttrpc.Request.service", kind: protoreflect.StringKind, card: cardOptional, gk: gkString, off: unsafe.Offsetof((*Request)(nil).Service), ref: -1},
	{msg: msgRequest, index: 1, number: 2, name: "method", jsonName: "method", fullName: "ttrpc.Request.method", kind: protoreflect.StringKind, card: cardOptional, gk: gkString, off: unsafe.Offsetof((*Request)(nil).Method), ref: -1},
	{msg: msgRequest, index: 2, number: 3, name: "payload", jsonName: "payload", fullName: "ttrpc.Request.payload", kind: protoreflect.BytesKind, card: cardOptional, gk: gkBytes, off: unsafe.Offsetof((*Request)(nil).Payload), ref: -1},
	{msg: msgRequest, index: 3, number: 4, name: "timeout_nano", jsonName: "timeoutNano", fullName: "ttrpc.Request.timeout_nano", kind: protoreflect.Int64Kind, card: cardOptional, gk: gkInt64, off: unsafe.Offsetof((*Request)(nil).TimeoutNano), ref: -1},
	{msg: msgRequest, index: 4, number: 5, name: "metadata", jsonName: "metadata", fullName: "ttrpc.Request.metadata", kind: protoreflect.MessageKind, card: cardRepeated, gk: gkKeyValues, off: unsafe.Offsetof((*Request)(nil).Metadata), ref: msgKeyValue},

	{msg: msgResponse, index: 0, number: 1, name: "status", jsonName: "status", fullName: "ttrpc.Response.status", kind: protoreflect.MessageKind, card: cardOptional, gk: gkStatus, off: unsafe.Offsetof((*Response)(nil).Status), ref: msgStatus},
	{msg: msgResponse, index: 1, number: 2, name: "payload", jsonName: "payload", fullName: "ttrpc.Response.payload", kind: protoreflect.BytesKind, card: cardOptional, gk: gkBytes, off: unsafe.Offsetof((*Response)(nil).Payload), ref: -1},

	{msg: msgStringList, index: 0, number: 1, name: "list", jsonName: "list", fullName: "ttrpc.StringList.list", kind: protoreflect.StringKind, card: cardRepeated, gk: gkStrings, off: unsafe.Offsetof((*StringList)(nil).List), ref: -1},

	{msg: msgKeyValue, index: 0, number: 1, name: "key", jsonName: "key", fullName: "ttrpc.KeyValue.key", kind: protoreflect.StringKind, card: cardOptional, gk: gkString, off: unsafe.Offsetof((*KeyValue)(nil).Key), ref: -1},
	{msg: msgKeyValue, index: 1, number: 2, name: "value", jsonName: "value", fullName: "ttrpc.KeyValue.value", kind: protoreflect.StringKind, card: cardOptional, gk: gkString, off: unsafe.Offsetof((*KeyValue)(nil).Value), ref: -1},

	{msg: msgStatus, index: 0, number: 1, name: "code", jsonName: "code", fullName: "google.rpc.Status.code", kind: protoreflect.Int32Kind, card: cardOptional, gk: gkInt32, off: unsafe.Offsetof((*spb.Status)(nil).Code), ref: -1},
	{msg: msgStatus, index: 1, number: 2, name: "message", jsonName: "message", fullName: "google.rpc.Status.message", kind: protoreflect.StringKind, card: cardOptional, gk: gkString, off: unsafe.Offsetof((*spb.Status)(nil).Message), ref: -1},
	{msg: msgStatus, index: 2, number: 3, name: "details", jsonName: "details", fullName: "google.rpc.Status.details", kind: protoreflect.MessageKind, card: cardRepeated, gk: gkAnys, off: unsafe.Offsetof((*spb.Status)(nil).Details), ref: msgAny},

	{msg: msgAny, index: 0, number: 1, name: "type_url", jsonName: "typeUrl", fullName: "google.protobuf.Any.type_url", kind: protoreflect.StringKind, card: cardOptional, gk: gkString, off: unsafe.Offsetof((*anypb.Any)(nil).TypeUrl), ref: -1},
	{msg: msgAny, index: 1, number: 2, name: "value", jsonName: "value", fullName: "google.protobuf.Any.value", kind: protoreflect.BytesKind, card: cardOptional, gk: gkBytes, off: unsafe.Offsetof((*anypb.Any)(nil).Value), ref: -1},
}

// messageDescriptor returns the descriptor of message i: this package's own
// for the envelope, and for google.rpc.Status and google.protobuf.Any their
// generated descriptors when the linked versions of those types implement
// the reflection API, else the stand-ins above.
func messageDescriptor(i int) protoreflect.MessageDescriptor {
	switch i {
	case msgStatus:
		return statusReflect(nil).Descriptor()
	case msgAny:
		return anyReflect(nil).Descriptor()
	}
	return &descMsgs[i]
}

// Options kinds, for optionsOf.
const (
	optFile = iota
	optMessage
	optField
)

// optionsOf returns the options of a descriptor without options: the typed
// nil pointer of the descriptorpb options type, as generated descriptors
// return. Naming descriptorpb would link it into every program, so the type
// is taken from google.protobuf.Any's generated descriptor when the linked
// Any has one (descriptorpb is then linked anyway); otherwise nil.
func optionsOf(kind int) protoreflect.ProtoMessage {
	md := anyReflect(nil).Descriptor()
	if _, standIn := md.(*msgDesc); standIn {
		return nil
	}
	var opts protoreflect.ProtoMessage
	switch kind {
	case optFile:
		opts = md.ParentFile().Options()
	case optMessage:
		opts = md.Options()
	default:
		opts = md.Fields().Get(0).Options()
	}
	if opts == nil {
		return nil
	}
	return opts.ProtoReflect().Type().Zero().Interface()
}

// fileDesc describes a file.
type fileDesc struct {
	protoreflect.FileDescriptor
	_        [0]func()
	index    int
	path     string
	pkg      protoreflect.FullName
	messages msgList
	imports  fileImports
}

func (f *fileDesc) ParentFile() protoreflect.FileDescriptor { return f }
func (f *fileDesc) Parent() protoreflect.Descriptor         { return nil }
func (f *fileDesc) Index() int                              { return 0 }
func (f *fileDesc) Syntax() protoreflect.Syntax             { return protoreflect.Proto3 }
func (f *fileDesc) Name() protoreflect.Name                 { return f.pkg.Name() }
func (f *fileDesc) FullName() protoreflect.FullName         { return f.pkg }
func (f *fileDesc) IsPlaceholder() bool                     { return false }
func (f *fileDesc) Options() protoreflect.ProtoMessage      { return optionsOf(optFile) }
func (f *fileDesc) Path() string                            { return f.path }
func (f *fileDesc) Package() protoreflect.FullName          { return f.pkg }
func (f *fileDesc) Imports() protoreflect.FileImports       { return &f.imports }
func (f *fileDesc) Enums() protoreflect.EnumDescriptors     { return descNoEnums }
func (f *fileDesc) Messages() protoreflect.MessageDescriptors {
	return &f.messages
}
func (f *fileDesc) Extensions() protoreflect.ExtensionDescriptors { return descNoExtensions }
func (f *fileDesc) Services() protoreflect.ServiceDescriptors     { return descNoServices }
func (f *fileDesc) SourceLocations() protoreflect.SourceLocations { return descNoSourceLocations }

// ProtoType marks the type as a FileDescriptor.
func (f *fileDesc) ProtoType(protoreflect.FileDescriptor) {}

// fileImports lists a file's one import (the file of message dep), or none
// when dep is negative.
type fileImports struct {
	protoreflect.FileImports
	dep int
}

func (l *fileImports) Len() int {
	if l.dep < 0 {
		return 0
	}
	return 1
}

func (l *fileImports) Get(i int) protoreflect.FileImport {
	if i != 0 || l.dep < 0 {
		panic(outOfRange(i))
	}
	return protoreflect.FileImport{FileDescriptor: messageDescriptor(l.dep).ParentFile()}
}

// msgList lists the top-level messages of a file: descMsgs[lo:hi].
type msgList struct {
	protoreflect.MessageDescriptors
	lo, hi int
}

func (l *msgList) Len() int { return l.hi - l.lo }

func (l *msgList) Get(i int) protoreflect.MessageDescriptor {
	if i < 0 || i >= l.hi-l.lo {
		panic(outOfRange(i))
	}
	return &descMsgs[l.lo+i]
}

func (l *msgList) ByName(s protoreflect.Name) protoreflect.MessageDescriptor {
	for i := l.lo; i < l.hi; i++ {
		if descMsgs[i].name == s {
			return &descMsgs[i]
		}
	}
	return nil
}

// msgDesc describes a message.
type msgDesc struct {
	protoreflect.MessageDescriptor
	_        [0]func()
	index    int
	file     int
	name     protoreflect.Name
	fullName protoreflect.FullName
	fields   fieldList
}

func (m *msgDesc) ParentFile() protoreflect.FileDescriptor { return &descFiles[m.file] }
func (m *msgDesc) Parent() protoreflect.Descriptor         { return &descFiles[m.file] }
func (m *msgDesc) Index() int                              { return m.index - descFiles[m.file].messages.lo }
func (m *msgDesc) Syntax() protoreflect.Syntax             { return protoreflect.Proto3 }
func (m *msgDesc) Name() protoreflect.Name                 { return m.name }
func (m *msgDesc) FullName() protoreflect.FullName         { return m.fullName }
func (m *msgDesc) IsPlaceholder() bool                     { return false }
func (m *msgDesc) Options() protoreflect.ProtoMessage      { return optionsOf(optMessage) }
func (m *msgDesc) IsMapEntry() bool                        { return false }
func (m *msgDesc) Fields() protoreflect.FieldDescriptors   { return &m.fields }
func (m *msgDesc) Oneofs() protoreflect.OneofDescriptors   { return descNoOneofs }
func (m *msgDesc) ReservedNames() protoreflect.Names       { return descNoNames }
func (m *msgDesc) ReservedRanges() protoreflect.FieldRanges {
	return descNoRanges
}
func (m *msgDesc) RequiredNumbers() protoreflect.FieldNumbers { return descNoNumbers }
func (m *msgDesc) ExtensionRanges() protoreflect.FieldRanges  { return descNoRanges }
func (m *msgDesc) ExtensionRangeOptions(i int) protoreflect.ProtoMessage {
	panic(outOfRange(i))
}
func (m *msgDesc) Enums() protoreflect.EnumDescriptors           { return descNoEnums }
func (m *msgDesc) Messages() protoreflect.MessageDescriptors     { return &descNoMessages }
func (m *msgDesc) Extensions() protoreflect.ExtensionDescriptors { return descNoExtensions }

// ProtoType marks the type as a MessageDescriptor.
func (m *msgDesc) ProtoType(protoreflect.MessageDescriptor) {}

// fieldList lists the fields of a message: descFields[lo:hi], in
// declaration (and number) order.
type fieldList struct {
	protoreflect.FieldDescriptors
	lo, hi int
}

func (l *fieldList) Len() int { return l.hi - l.lo }

func (l *fieldList) Get(i int) protoreflect.FieldDescriptor {
	if i < 0 || i >= l.hi-l.lo {
		panic(outOfRange(i))
	}
	return &descFields[l.lo+i]
}

func (l *fieldList) ByName(s protoreflect.Name) protoreflect.FieldDescriptor {
	for i := l.lo; i < l.hi; i++ {
		if descFields[i].name == s {
			return &descFields[i]
		}
	}
	return nil
}

func (l *fieldList) ByJSONName(s string) protoreflect.FieldDescriptor {
	for i := l.lo; i < l.hi; i++ {
		if descFields[i].jsonName == s {
			return &descFields[i]
		}
	}
	return nil
}

// ByTextName finds a field by its name in the text format, which is the
// field's name for fields that are not groups.
func (l *fieldList) ByTextName(s string) protoreflect.FieldDescriptor {
	return l.ByName(protoreflect.Name(s))
}

func (l *fieldList) ByNumber(n protoreflect.FieldNumber) protoreflect.FieldDescriptor {
	for i := l.lo; i < l.hi; i++ {
		if descFields[i].number == n {
			return &descFields[i]
		}
	}
	return nil
}

// fieldDesc describes a field. ref is the index of the message type of a
// message field, else -1.
type fieldDesc struct {
	protoreflect.FieldDescriptor
	_        [0]func() // not comparable: no equality function to link
	gk       uint8     // how the Go struct holds the value (gkString...)
	off      uintptr   // where: the offset of the Go struct field
	msg      int
	index    int
	number   protoreflect.FieldNumber
	name     protoreflect.Name
	jsonName string
	fullName protoreflect.FullName
	kind     protoreflect.Kind
	card     protoreflect.Cardinality
	ref      int
}

func (f *fieldDesc) ParentFile() protoreflect.FileDescriptor { return &descFiles[descMsgs[f.msg].file] }
func (f *fieldDesc) Parent() protoreflect.Descriptor         { return &descMsgs[f.msg] }
func (f *fieldDesc) Index() int                              { return f.index }
func (f *fieldDesc) Syntax() protoreflect.Syntax             { return protoreflect.Proto3 }
func (f *fieldDesc) Name() protoreflect.Name                 { return f.name }
func (f *fieldDesc) FullName() protoreflect.FullName         { return f.fullName }
func (f *fieldDesc) IsPlaceholder() bool                     { return false }
func (f *fieldDesc) Options() protoreflect.ProtoMessage      { return optionsOf(optField) }
func (f *fieldDesc) Number() protoreflect.FieldNumber        { return f.number }
func (f *fieldDesc) Cardinality() protoreflect.Cardinality   { return f.card }
func (f *fieldDesc) Kind() protoreflect.Kind                 { return f.kind }
func (f *fieldDesc) HasJSONName() bool                       { return true }
func (f *fieldDesc) JSONName() string                        { return f.jsonName }
func (f *fieldDesc) TextName() string                        { return string(f.name) }

// HasPresence: in proto3, only singular message fields have presence.
func (f *fieldDesc) HasPresence() bool {
	return f.card != cardRepeated && f.kind == protoreflect.MessageKind
}
func (f *fieldDesc) IsExtension() bool        { return false }
func (f *fieldDesc) HasOptionalKeyword() bool { return false }
func (f *fieldDesc) IsWeak() bool             { return false }

// IsPacked: the only cardRepeated fields are of strings and messages, which
// are never packed.
func (f *fieldDesc) IsPacked() bool                       { return false }
func (f *fieldDesc) IsList() bool                         { return f.card == cardRepeated }
func (f *fieldDesc) IsMap() bool                          { return false }
func (f *fieldDesc) MapKey() protoreflect.FieldDescriptor { return nil }
func (f *fieldDesc) MapValue() protoreflect.FieldDescriptor {
	return nil
}
func (f *fieldDesc) HasDefault() bool { return false }

// Default returns the zero value of a singular scalar field, and the
// invalid Value for the others.
func (f *fieldDesc) Default() protoreflect.Value {
	if f.card == cardRepeated {
		return protoreflect.Value{}
	}
	return scalarZero(f.kind)
}
func (f *fieldDesc) DefaultEnumValue() protoreflect.EnumValueDescriptor { return nil }
func (f *fieldDesc) ContainingOneof() protoreflect.OneofDescriptor      { return nil }
func (f *fieldDesc) ContainingMessage() protoreflect.MessageDescriptor {
	return &descMsgs[f.msg]
}
func (f *fieldDesc) Enum() protoreflect.EnumDescriptor { return nil }

// ProtoType marks the type as a FieldDescriptor.
func (f *fieldDesc) ProtoType(protoreflect.FieldDescriptor) {}
func (f *fieldDesc) Message() protoreflect.MessageDescriptor {
	if f.ref < 0 {
		return nil
	}
	return messageDescriptor(f.ref)
}

// scalarZero returns the zero value of a scalar kind used here; the invalid
// Value for messages.
func scalarZero(k protoreflect.Kind) protoreflect.Value {
	switch k {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("")
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(nil)
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(0)
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(0)
	}
	return protoreflect.Value{}
}

// The empty lists.

// descNoMessages lists no nested messages.
var descNoMessages msgList

var (
	descNoEnums           = &emptyEnums{}
	descNoExtensions      = &emptyExtensions{}
	descNoServices        = &emptyServices{}
	descNoOneofs          = &emptyOneofs{}
	descNoNames           = &emptyNames{}
	descNoRanges          = &emptyRanges{}
	descNoNumbers         = &emptyNumbers{}
	descNoSourceLocations = &emptySourceLocations{}
)

type emptyEnums struct{ protoreflect.EnumDescriptors }

func (*emptyEnums) Len() int                                             { return 0 }
func (*emptyEnums) Get(i int) protoreflect.EnumDescriptor                { panic(outOfRange(i)) }
func (*emptyEnums) ByName(protoreflect.Name) protoreflect.EnumDescriptor { return nil }

type emptyExtensions struct {
	protoreflect.ExtensionDescriptors
}

func (*emptyExtensions) Len() int                                   { return 0 }
func (*emptyExtensions) Get(i int) protoreflect.ExtensionDescriptor { panic(outOfRange(i)) }
func (*emptyExtensions) ByName(protoreflect.Name) protoreflect.ExtensionDescriptor {
	return nil
}

type emptyServices struct {
	protoreflect.ServiceDescriptors
}

func (*emptyServices) Len() int                                 { return 0 }
func (*emptyServices) Get(i int) protoreflect.ServiceDescriptor { panic(outOfRange(i)) }
func (*emptyServices) ByName(protoreflect.Name) protoreflect.ServiceDescriptor {
	return nil
}

type emptyOneofs struct{ protoreflect.OneofDescriptors }

func (*emptyOneofs) Len() int                               { return 0 }
func (*emptyOneofs) Get(i int) protoreflect.OneofDescriptor { panic(outOfRange(i)) }
func (*emptyOneofs) ByName(protoreflect.Name) protoreflect.OneofDescriptor {
	return nil
}

type emptyNames struct{ protoreflect.Names }

func (*emptyNames) Len() int                    { return 0 }
func (*emptyNames) Get(i int) protoreflect.Name { panic(outOfRange(i)) }
func (*emptyNames) Has(protoreflect.Name) bool  { return false }

type emptyRanges struct{ protoreflect.FieldRanges }

func (*emptyRanges) Len() int                              { return 0 }
func (*emptyRanges) Get(i int) [2]protoreflect.FieldNumber { panic(outOfRange(i)) }
func (*emptyRanges) Has(protoreflect.FieldNumber) bool     { return false }

type emptyNumbers struct{ protoreflect.FieldNumbers }

func (*emptyNumbers) Len() int                           { return 0 }
func (*emptyNumbers) Get(i int) protoreflect.FieldNumber { panic(outOfRange(i)) }
func (*emptyNumbers) Has(protoreflect.FieldNumber) bool  { return false }

type emptySourceLocations struct{ protoreflect.SourceLocations }

func (*emptySourceLocations) Len() int                              { return 0 }
func (*emptySourceLocations) Get(i int) protoreflect.SourceLocation { panic(outOfRange(i)) }

// ByPath and ByDescriptor (methods of later protobuf versions) find nothing.
func (*emptySourceLocations) ByPath(protoreflect.SourcePath) protoreflect.SourceLocation {
	return protoreflect.SourceLocation{}
}

func (*emptySourceLocations) ByDescriptor(protoreflect.Descriptor) protoreflect.SourceLocation {
	return protoreflect.SourceLocation{}
}

type outOfRange int

func (i outOfRange) Error() string {
	return "ttrpc: descriptor list index " + strconv.Itoa(int(i)) + " out of range"
}
