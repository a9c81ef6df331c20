package ttrpc

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	anypb "github.com/golang/protobuf/ptypes/any"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/runtime/protoiface"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// These tests run in every dependency world the module supports: the root
// go.mod's (golang/protobuf 1.4, a genproto whose Status predates the
// reflection API), containerd 1.5's (.ci/oldpins.sh: golang/protobuf 1.3.5,
// where neither Status nor Any has ProtoReflect) and the 1.2 line's (newer
// genproto, whose Status has it). Whatever depends on the world is decided
// at run time.

// The envelope types are APIv2 messages.
var (
	_ proto.Message = (*Request)(nil)
	_ proto.Message = (*Response)(nil)
	_ proto.Message = (*StringList)(nil)
	_ proto.Message = (*KeyValue)(nil)
)

// hasV2 reports whether x (a generated type of another module) implements
// the reflection API in this world.
func hasV2(x interface{}) bool {
	_, ok := x.(protoreflect.ProtoMessage)
	return ok
}

// embeddedFDP decodes the FileDescriptorProto that Descriptor returns.
func embeddedFDP(t testing.TB) *descriptorpb.FileDescriptorProto {
	t.Helper()
	gz, _ := (*Request)(nil).Descriptor()
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(raw, fdp); err != nil {
		t.Fatal(err)
	}
	return fdp
}

func fdpField(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, typeName, jsonName string) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name:     proto.String(name),
		Number:   proto.Int32(num),
		Label:    label.Enum(),
		Type:     typ.Enum(),
		JsonName: proto.String(jsonName),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

const (
	tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tBytes   = descriptorpb.FieldDescriptorProto_TYPE_BYTES
	tInt64   = descriptorpb.FieldDescriptorProto_TYPE_INT64
	tInt32   = descriptorpb.FieldDescriptorProto_TYPE_INT32
	tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	lOpt     = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	lRep     = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
)

// depFiles returns google/protobuf/any.proto and google/rpc/status.proto:
// the registered ones where this world registers them, else built here.
func depFiles(t testing.TB) *protoregistry.Files {
	t.Helper()
	files := new(protoregistry.Files)
	anyFD, err := protoregistry.GlobalFiles.FindFileByPath("google/protobuf/any.proto")
	if err != nil {
		anyFD, err = protodesc.NewFile(&descriptorpb.FileDescriptorProto{
			Name:    proto.String("google/protobuf/any.proto"),
			Package: proto.String("google.protobuf"),
			Syntax:  proto.String("proto3"),
			MessageType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("Any"),
				Field: []*descriptorpb.FieldDescriptorProto{
					fdpField("type_url", 1, tString, lOpt, "", "typeUrl"),
					fdpField("value", 2, tBytes, lOpt, "", "value"),
				},
			}},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := files.RegisterFile(anyFD); err != nil {
		t.Fatal(err)
	}
	statusFD, err := protoregistry.GlobalFiles.FindFileByPath("google/rpc/status.proto")
	if err != nil {
		statusFD, err = protodesc.NewFile(&descriptorpb.FileDescriptorProto{
			Name:       proto.String("google/rpc/status.proto"),
			Package:    proto.String("google.rpc"),
			Syntax:     proto.String("proto3"),
			Dependency: []string{"google/protobuf/any.proto"},
			MessageType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("Status"),
				Field: []*descriptorpb.FieldDescriptorProto{
					fdpField("code", 1, tInt32, lOpt, "", "code"),
					fdpField("message", 2, tString, lOpt, "", "message"),
					fdpField("details", 3, tMessage, lRep, ".google.protobuf.Any", "details"),
				},
			}},
		}, files)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := files.RegisterFile(statusFD); err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	embeddedOnce sync.Once
	embeddedFD   protoreflect.FileDescriptor
	embeddedErr  error
)

// embeddedFile is the descriptor built by the protobuf runtime from the
// embedded bytes; dynamicpb messages of it are the reference behaviour.
func embeddedFile(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	embeddedOnce.Do(func() {
		embeddedFD, embeddedErr = protodesc.NewFile(embeddedFDP(t), depFiles(t))
	})
	if embeddedErr != nil {
		t.Fatal(embeddedErr)
	}
	return embeddedFD
}

func dynamicOf(t testing.TB, m proto.Message) *dynamicpb.Message {
	t.Helper()
	name := m.ProtoReflect().Descriptor().Name()
	md := embeddedFile(t).Messages().ByName(name)
	if md == nil {
		t.Fatalf("no message %s in the embedded descriptor", name)
	}
	return dynamicpb.NewMessage(md)
}

func TestEnvelopeDescriptorBytes(t *testing.T) {
	gz, path := (*Request)(nil).Descriptor()
	for _, c := range []struct {
		m    interface{ Descriptor() ([]byte, []int) }
		path []int
	}{
		{(*Request)(nil), []int{0}},
		{&Response{}, []int{1}},
		{(*StringList)(nil), []int{2}},
		{&KeyValue{}, []int{3}},
	} {
		b, p := c.m.Descriptor()
		if !bytes.Equal(b, gz) || !reflect.DeepEqual(p, c.path) {
			t.Errorf("%T.Descriptor() = %d bytes, %v; want the file's %d bytes, %v", c.m, len(b), p, len(gz), c.path)
		}
	}
	if !reflect.DeepEqual(path, []int{0}) {
		t.Errorf("path %v", path)
	}

	got := embeddedFDP(t)
	want := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("github.com/containerd/ttrpc/request.proto"),
		Package:    proto.String("ttrpc"),
		Dependency: []string{"google/rpc/status.proto"},
		Syntax:     proto.String("proto3"),
		Options:    &descriptorpb.FileOptions{GoPackage: proto.String("github.com/containerd/ttrpc")},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Request"), Field: []*descriptorpb.FieldDescriptorProto{
				fdpField("service", 1, tString, lOpt, "", "service"),
				fdpField("method", 2, tString, lOpt, "", "method"),
				fdpField("payload", 3, tBytes, lOpt, "", "payload"),
				fdpField("timeout_nano", 4, tInt64, lOpt, "", "timeoutNano"),
				fdpField("metadata", 5, tMessage, lRep, ".ttrpc.KeyValue", "metadata"),
			}},
			{Name: proto.String("Response"), Field: []*descriptorpb.FieldDescriptorProto{
				fdpField("status", 1, tMessage, lOpt, ".google.rpc.Status", "status"),
				fdpField("payload", 2, tBytes, lOpt, "", "payload"),
			}},
			{Name: proto.String("StringList"), Field: []*descriptorpb.FieldDescriptorProto{
				fdpField("list", 1, tString, lRep, "", "list"),
			}},
			{Name: proto.String("KeyValue"), Field: []*descriptorpb.FieldDescriptorProto{
				fdpField("key", 1, tString, lOpt, "", "key"),
				fdpField("value", 2, tString, lOpt, "", "value"),
			}},
		},
	}
	if !proto.Equal(got, want) {
		t.Errorf("embedded descriptor:\n%v\nwant:\n%v", prototext.Format(got), prototext.Format(want))
	}
	// The file the runtime builds from it resolves its import.
	fd := embeddedFile(t)
	if fd.Imports().Len() != 1 || fd.Imports().Get(0).IsPlaceholder() {
		t.Errorf("embedded file's import not resolved")
	}
}

// compareDescriptor checks that two descriptors of one message agree, field by
// field.
func compareMessageDescriptors(t *testing.T, got, want protoreflect.MessageDescriptor) {
	t.Helper()
	if got.Name() != want.Name() || got.FullName() != want.FullName() || got.Index() != want.Index() ||
		got.Syntax() != want.Syntax() || got.IsPlaceholder() != want.IsPlaceholder() || got.IsMapEntry() != want.IsMapEntry() {
		t.Errorf("message %s: name %s/%s, index %d/%d, syntax %v/%v, placeholder %v/%v", want.FullName(),
			got.FullName(), want.FullName(), got.Index(), want.Index(), got.Syntax(), want.Syntax(), got.IsPlaceholder(), want.IsPlaceholder())
	}
	if got.ParentFile().Path() != want.ParentFile().Path() || got.Parent().FullName() != want.Parent().FullName() {
		t.Errorf("message %s: file %s, want %s", want.FullName(), got.ParentFile().Path(), want.ParentFile().Path())
	}
	for _, l := range []struct {
		name      string
		got, want int
	}{
		{"oneofs", got.Oneofs().Len(), want.Oneofs().Len()},
		{"reserved names", got.ReservedNames().Len(), want.ReservedNames().Len()},
		{"reserved ranges", got.ReservedRanges().Len(), want.ReservedRanges().Len()},
		{"required", got.RequiredNumbers().Len(), want.RequiredNumbers().Len()},
		{"extension ranges", got.ExtensionRanges().Len(), want.ExtensionRanges().Len()},
		{"enums", got.Enums().Len(), want.Enums().Len()},
		{"messages", got.Messages().Len(), want.Messages().Len()},
		{"extensions", got.Extensions().Len(), want.Extensions().Len()},
		{"fields", got.Fields().Len(), want.Fields().Len()},
	} {
		if l.got != l.want {
			t.Errorf("message %s: %d %s, want %d", want.FullName(), l.got, l.name, l.want)
		}
	}
	if got.Fields().Len() != want.Fields().Len() {
		return
	}
	for i := 0; i < want.Fields().Len(); i++ {
		g, w := got.Fields().Get(i), want.Fields().Get(i)
		type props struct {
			Name, FullName, JSONName, Message, Containing, Parent, File string
			Number                                                      protoreflect.FieldNumber
			Kind                                                        protoreflect.Kind
			Card                                                        protoreflect.Cardinality
			Index                                                       int
			Syntax                                                      protoreflect.Syntax
			HasJSON, Presence, Ext, Optional, Packed, List              bool
			Map, HasDefault, Placeholder, Oneof, Enum, MapKV            bool
			Default                                                     interface{}
		}
		of := func(f protoreflect.FieldDescriptor) props {
			p := props{
				Name: string(f.Name()), FullName: string(f.FullName()), JSONName: f.JSONName(),
				Containing: string(f.ContainingMessage().FullName()), Parent: string(f.Parent().FullName()),
				File: f.ParentFile().Path(), Number: f.Number(), Kind: f.Kind(), Card: f.Cardinality(),
				Index: f.Index(), Syntax: f.Syntax(), HasJSON: f.HasJSONName(), Presence: f.HasPresence(),
				Ext: f.IsExtension(), Optional: f.HasOptionalKeyword(), Packed: f.IsPacked(),
				List: f.IsList(), Map: f.IsMap(), HasDefault: f.HasDefault(), Placeholder: f.IsPlaceholder(),
				Oneof: f.ContainingOneof() != nil, Enum: f.Enum() != nil, MapKV: f.MapKey() != nil || f.MapValue() != nil,
			}
			if f.Message() != nil {
				p.Message = string(f.Message().FullName())
			}
			if d := f.Default(); d.IsValid() {
				p.Default = d.Interface()
			}
			return p
		}
		if gp, wp := of(g), of(w); !reflect.DeepEqual(gp, wp) {
			t.Errorf("field %s:\n got %+v\nwant %+v", w.FullName(), gp, wp)
		}
		if g.Message() != nil && w.Message() != nil && g.Message().FullName() == "google.rpc.Status" {
			compareMessageDescriptors(t, g.Message(), w.Message())
		}
		if g.Message() != nil && w.Message() != nil && g.Message().FullName() == "google.protobuf.Any" {
			compareMessageDescriptors(t, g.Message(), w.Message())
		}
		if fl := got.Fields(); fl.ByName(w.Name()) != g || fl.ByNumber(w.Number()) != g || fl.ByJSONName(w.JSONName()) != g {
			t.Errorf("field %s: lookups by name, number or JSON name do not find it", w.FullName())
		}
		if tn, ok := g.(interface{ TextName() string }); ok && tn.TextName() != string(w.Name()) {
			t.Errorf("field %s: text name %q", w.FullName(), tn.TextName())
		}
	}
	if got.Fields().ByName("nope") != nil || got.Fields().ByNumber(99) != nil || got.Fields().ByJSONName("nope") != nil {
		t.Errorf("message %s: lookups of missing fields found something", want.FullName())
	}
}

func TestEnvelopeDescriptorsAgree(t *testing.T) {
	want := embeddedFile(t)
	got := File_request_proto
	if File_github_com_containerd_ttrpc_request_proto != got {
		t.Error("the two file descriptor variables differ")
	}
	if got.Path() != want.Path() || got.Package() != want.Package() || got.Name() != want.Name() ||
		got.FullName() != want.FullName() || got.Syntax() != want.Syntax() || got.IsPlaceholder() || got.Index() != 0 ||
		got.Parent() != nil || got.ParentFile() != got {
		t.Errorf("file: path %q package %q name %q full name %q syntax %v; want %q %q %q %q %v",
			got.Path(), got.Package(), got.Name(), got.FullName(), got.Syntax(),
			want.Path(), want.Package(), want.Name(), want.FullName(), want.Syntax())
	}
	if got.Enums().Len() != 0 || got.Extensions().Len() != 0 || got.Services().Len() != 0 || got.SourceLocations().Len() != 0 {
		t.Error("file has enums, extensions, services or source locations")
	}
	if got.Imports().Len() != 1 || got.Imports().Get(0).Path() != "google/rpc/status.proto" || got.Imports().Get(0).IsPublic {
		t.Errorf("imports: %d", got.Imports().Len())
	}
	if got.Messages().Len() != want.Messages().Len() {
		t.Fatalf("%d messages, want %d", got.Messages().Len(), want.Messages().Len())
	}
	for i := 0; i < want.Messages().Len(); i++ {
		w := want.Messages().Get(i)
		g := got.Messages().Get(i)
		if got.Messages().ByName(w.Name()) != g {
			t.Errorf("Messages().ByName(%s)", w.Name())
		}
		compareMessageDescriptors(t, g, w)
	}
	if got.Messages().ByName("Nope") != nil {
		t.Error("Messages().ByName found a missing message")
	}
	// Each message's view reports the file's descriptor.
	for _, m := range []proto.Message{&Request{}, &Response{}, &StringList{}, &KeyValue{}} {
		md := m.ProtoReflect().Descriptor()
		if got.Messages().ByName(md.Name()) != md || md.ParentFile() != got {
			t.Errorf("%T: descriptor is not the file's", m)
		}
		if m.ProtoReflect().Type().Descriptor() != md {
			t.Errorf("%T: type's descriptor is not the message's", m)
		}
	}

	// The status field's type is google.rpc.Status's own descriptor where
	// the linked Status type has one.
	statusField := got.Messages().ByName("Response").Fields().ByName("status")
	if sm, ok := interface{}(&spb.Status{}).(protoreflect.ProtoMessage); ok {
		if statusField.Message() != sm.ProtoReflect().Descriptor() {
			t.Error("the status field's message is not google.rpc.Status's generated descriptor")
		}
	} else if statusField.Message().FullName() != "google.rpc.Status" {
		t.Errorf("status field's message %s", statusField.Message().FullName())
	}
	if got.Imports().Get(0).FileDescriptor != statusField.Message().ParentFile() {
		t.Error("the import is not the status type's file")
	}

	// The runtime turns the hand-written file back into the embedded proto.
	// It needs the options' descriptorpb types, which the descriptors take
	// from a generated Any; in a world without one, they cannot.
	if got.Options() == nil {
		t.Log("no generated google.protobuf.Any: skipping protodesc.ToFileDescriptorProto")
		return
	}
	fdp := protodesc.ToFileDescriptorProto(got)
	if want := embeddedFDP(t); !proto.Equal(fdp, withoutOptions(want)) {
		t.Errorf("ToFileDescriptorProto:\n%v\nwant\n%v", prototext.Format(fdp), prototext.Format(want))
	}
	// And can build a file from it, resolving its import.
	if _, err := protodesc.NewFile(fdp, depFiles(t)); err != nil {
		t.Error(err)
	}
}

// withoutOptions drops the file's options (go_package), which the
// hand-written descriptors do not carry.
func withoutOptions(fdp *descriptorpb.FileDescriptorProto) *descriptorpb.FileDescriptorProto {
	c := proto.Clone(fdp).(*descriptorpb.FileDescriptorProto)
	c.Options = nil
	return c
}

// Samples of each type, each encodable by the hand-written codec.

func sampleRequests() []*Request {
	return []*Request{
		{},
		{Service: "svc"},
		{Method: "m", TimeoutNano: -5},
		{Payload: []byte{0}},
		{
			Service: "ttrpc.test.Service", Method: "Do", Payload: []byte("\x00payload\xff"), TimeoutNano: 123456789,
			Metadata: []*KeyValue{{Key: "k1", Value: "v1"}, {Key: "k2"}, {}, {Value: "ü"}},
		},
	}
}

func sampleResponses() []*Response {
	return []*Response{
		{},
		{Payload: []byte("result")},
		{Status: &spb.Status{}},
		{Status: &spb.Status{Code: 5, Message: "not found"}},
		{
			Status: &spb.Status{Code: -1, Message: "details", Details: []*anypb.Any{
				{TypeUrl: "type.googleapis.com/google.protobuf.StringValue", Value: []byte("\x0a\x03abc")},
				{},
			}},
			Payload: []byte{1, 2, 3},
		},
	}
}

func sampleStringLists() []*StringList {
	return []*StringList{{}, {List: []string{"a"}}, {List: []string{"", "b", "ü", ""}}}
}

func sampleKeyValues() []*KeyValue {
	return []*KeyValue{{}, {Key: "k"}, {Value: "v"}, {Key: "key", Value: "value"}}
}

func samples() []proto.Message {
	var all []proto.Message
	for _, m := range sampleRequests() {
		all = append(all, m)
	}
	for _, m := range sampleResponses() {
		all = append(all, m)
	}
	for _, m := range sampleStringLists() {
		all = append(all, m)
	}
	for _, m := range sampleKeyValues() {
		all = append(all, m)
	}
	return all
}

func handMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := m.(interface{ Marshal() ([]byte, error) }).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnvelopeProtoMarshal(t *testing.T) {
	for _, m := range samples() {
		want := handMarshal(t, m)
		got, err := proto.Marshal(m)
		if err != nil {
			t.Fatalf("%T %v: %v", m, m, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("proto.Marshal(%T{%v}) = %x, want %x", m, m, got, want)
		}
		if n := proto.Size(m); n != len(want) {
			t.Errorf("proto.Size(%T{%v}) = %d, want %d", m, m, n, len(want))
		}
		det, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil || !bytes.Equal(det, want) {
			t.Errorf("deterministic marshal of %T{%v}: %x, %v", m, m, det, err)
		}
		app, err := proto.MarshalOptions{}.MarshalAppend([]byte("prefix"), m)
		if err != nil || !bytes.Equal(app, append([]byte("prefix"), want...)) {
			t.Errorf("MarshalAppend of %T{%v}: %x, %v", m, m, app, err)
		}

		// The runtime's dynamic message of the same descriptor agrees.
		d := dynamicOf(t, m)
		if err := proto.Unmarshal(want, d); err != nil {
			t.Fatalf("%T: dynamic unmarshal: %v", m, err)
		}
		db, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(db, want) {
			t.Errorf("dynamic %T{%v} = %x, want %x", m, m, db, want)
		}

		// Unmarshal gives what the hand-written codec gives.
		fresh := m.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(db, fresh); err != nil {
			t.Fatal(err)
		}
		hand := m.ProtoReflect().New().Interface()
		if err := hand.(interface{ Unmarshal([]byte) error }).Unmarshal(db); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fresh, hand) {
			t.Errorf("proto.Unmarshal %T = %v, hand-written codec %v", m, fresh, hand)
		}
		if !proto.Equal(fresh, m) {
			t.Errorf("round trip of %T{%v} gives %v", m, m, fresh)
		}
	}
	// Nil messages encode as empty.
	for _, m := range []proto.Message{(*Request)(nil), (*Response)(nil), (*StringList)(nil), (*KeyValue)(nil)} {
		b, err := proto.Marshal(m)
		if err != nil || len(b) != 0 || proto.Size(m) != 0 {
			t.Errorf("proto.Marshal(nil %T) = %x, %v", m, b, err)
		}
	}
}

func TestEnvelopeProtoUnmarshal(t *testing.T) {
	req := &Request{Service: "s", Payload: []byte("p"), Metadata: []*KeyValue{{Key: "a"}}}
	b := handMarshal(t, req)

	// Replace: proto.Unmarshal resets first.
	dst := &Request{Method: "old", TimeoutNano: 7, Metadata: []*KeyValue{{Key: "old"}}}
	if err := proto.Unmarshal(b, dst); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dst, req) {
		t.Errorf("proto.Unmarshal = %v, want %v", dst, req)
	}
	// The payload does not alias the input.
	b[bytes.Index(b, []byte("p"))] = 'X'
	if string(dst.Payload) != "p" {
		t.Error("the payload aliases the input")
	}

	// Merge, compared with the dynamic message's merge.
	for _, m := range samples() {
		for _, base := range samples() {
			if base.ProtoReflect().Descriptor() != m.ProtoReflect().Descriptor() {
				continue
			}
			in := handMarshal(t, m)
			ours := proto.Clone(base)
			if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(in, ours); err != nil {
				t.Fatal(err)
			}
			dyn := dynamicOf(t, base)
			if err := proto.Unmarshal(handMarshal(t, base), dyn); err != nil {
				t.Fatal(err)
			}
			if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(in, dyn); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMarshalDet(t, ours), mustMarshalDet(t, dyn); !bytes.Equal(got, want) {
				t.Errorf("merging %v into %v: %x, dynamic %x", m, base, got, want)
			}
		}
	}

	// Errors: invalid UTF-8 in strings, truncated input.
	for _, c := range []struct {
		m   proto.Message
		buf []byte
	}{
		{&Request{}, []byte{0x0a, 0x01, 0xff}},
		{&KeyValue{}, []byte{0x12, 0x01, 0xff}},
		{&StringList{}, []byte{0x0a, 0x01, 0xff}},
		{&Response{}, []byte{0x0a, 0x03, 0x12, 0x01, 0xff}},
		{&Request{}, []byte{0x0a, 0x05, 'a'}},
		{&Response{}, []byte{0x12}},
	} {
		if err := proto.Unmarshal(c.buf, c.m); err == nil {
			t.Errorf("proto.Unmarshal(%x) into %T succeeded", c.buf, c.m)
		}
		d := dynamicOf(t, c.m)
		if err := proto.Unmarshal(c.buf, d); err == nil {
			t.Errorf("dynamic: proto.Unmarshal(%x) into %T succeeded", c.buf, c.m)
		}
	}

	// Unknown fields are dropped, as by the hand-written codec.
	kv := &KeyValue{}
	if err := proto.Unmarshal([]byte{0x0a, 0x01, 'k', 0x18, 0x05, 0x22, 0x00}, kv); err != nil {
		t.Fatal(err)
	}
	if kv.Key != "k" || len(kv.ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("unknown fields: %v", kv)
	}
}

func mustMarshalDet(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnvelopeProtoClone(t *testing.T) {
	for _, m := range samples() {
		c := proto.Clone(m)
		if reflect.TypeOf(c) != reflect.TypeOf(m) || !proto.Equal(c, m) || !reflect.DeepEqual(c, m) {
			t.Errorf("proto.Clone(%T{%v}) = %T{%v}", m, m, c, c)
		}
	}
	// Deep: nothing is shared.
	req := sampleRequests()[4]
	c := proto.Clone(req).(*Request)
	c.Payload[0] = 'X'
	c.Metadata[0].Key = "changed"
	if req.Payload[0] == 'X' || req.Metadata[0].Key == "changed" {
		t.Error("clone shares the payload or metadata")
	}
	resp := sampleResponses()[4]
	rc := proto.Clone(resp).(*Response)
	rc.Status.Details[0].Value[0] = 'X'
	rc.Status.Code = 9
	if resp.Status.Details[0].Value[0] == 'X' || resp.Status.Code == 9 {
		t.Error("clone shares the status")
	}
	// Nil.
	if c := proto.Clone((*Request)(nil)); c == nil || c.ProtoReflect().IsValid() {
		t.Errorf("proto.Clone(nil) = %v", c)
	}
}

func TestEnvelopeProtoEqual(t *testing.T) {
	all := samples()
	for i, a := range all {
		for j, b := range all {
			if got, want := proto.Equal(a, b), i == j; got != want {
				t.Errorf("proto.Equal(%T{%v}, %T{%v}) = %v", a, a, b, b, got)
			}
		}
		if !proto.Equal(a, proto.Clone(a)) {
			t.Errorf("%T{%v} is not equal to its clone", a, a)
		}
	}
	// Nil and empty messages: as for a generated type.
	gen := func(x, y *wrapperspb.StringValue) bool { return proto.Equal(x, y) }
	cases := []struct {
		name string
		got  bool
		want bool
	}{
		{"nil nil", proto.Equal((*Request)(nil), (*Request)(nil)), gen(nil, nil)},
		{"nil empty", proto.Equal((*Request)(nil), &Request{}), gen(nil, &wrapperspb.StringValue{})},
		{"empty nil", proto.Equal(&KeyValue{}, (*KeyValue)(nil)), gen(&wrapperspb.StringValue{}, nil)},
		{"nil set", proto.Equal((*KeyValue)(nil), &KeyValue{Key: "k"}), gen(nil, &wrapperspb.StringValue{Value: "k"})},
		{"untyped nil", proto.Equal(nil, &StringList{}), proto.Equal(nil, &wrapperspb.StringValue{})},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %v, a generated type gives %v", c.name, c.got, c.want)
		}
	}
	// Different types are never equal.
	if proto.Equal(&Request{}, &KeyValue{}) {
		t.Error("a Request equals a KeyValue")
	}
	// An empty Status differs from none; an empty payload equals none.
	if proto.Equal(&Response{}, &Response{Status: &spb.Status{}}) {
		t.Error("an empty status equals no status")
	}
	if !proto.Equal(&Response{Payload: []byte{}}, &Response{}) {
		t.Error("an empty payload differs from none")
	}
}

func TestEnvelopeProtoMergeReset(t *testing.T) {
	for _, src := range samples() {
		for _, base := range samples() {
			if base.ProtoReflect().Descriptor() != src.ProtoReflect().Descriptor() {
				continue
			}
			dst := proto.Clone(base)
			proto.Merge(dst, src)
			dyn := dynamicOf(t, base)
			proto.Merge(dyn, mustDynamic(t, base))
			proto.Merge(dyn, mustDynamic(t, src))
			if got, want := mustMarshalDet(t, dst), mustMarshalDet(t, dyn); !bytes.Equal(got, want) {
				t.Errorf("merging %v into %v: %x, dynamic %x", src, base, got, want)
			}
		}
	}
	// Merge copies.
	dst := &Request{}
	src := sampleRequests()[4]
	proto.Merge(dst, src)
	dst.Payload[0] = 'X'
	dst.Metadata[0].Value = "changed"
	if src.Payload[0] == 'X' || src.Metadata[0].Value == "changed" {
		t.Error("merge shares data with the source")
	}
	// Merging a message into itself doubles its lists.
	self := &StringList{List: []string{"a", "b"}}
	proto.Merge(self, self)
	if !reflect.DeepEqual(self.List, []string{"a", "b", "a", "b"}) {
		t.Errorf("self merge: %v", self.List)
	}
	// Merging from a nil message changes nothing.
	kv := &KeyValue{Key: "k"}
	proto.Merge(kv, (*KeyValue)(nil))
	if kv.Key != "k" || kv.Value != "" {
		t.Errorf("merge of nil: %v", kv)
	}

	for _, m := range samples() {
		m := proto.Clone(m)
		proto.Reset(m)
		if proto.Size(m) != 0 || !proto.Equal(m, m.ProtoReflect().New().Interface()) {
			t.Errorf("proto.Reset left %v", m)
		}
	}
}

func mustDynamic(t testing.TB, m proto.Message) *dynamicpb.Message {
	t.Helper()
	d := dynamicOf(t, m)
	if err := proto.Unmarshal(handMarshal(t, m), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEnvelopeMessageName(t *testing.T) {
	for _, c := range []struct {
		m    proto.Message
		name protoreflect.FullName
	}{
		{&Request{}, "ttrpc.Request"},
		{(*Response)(nil), "ttrpc.Response"},
		{&StringList{}, "ttrpc.StringList"},
		{&KeyValue{}, "ttrpc.KeyValue"},
	} {
		if got := messageName(c.m); got != c.name {
			t.Errorf("MessageName(%T) = %q, want %q", c.m, got, c.name)
		}
	}
}

// messageName is what proto.MessageName (google.golang.org/protobuf v1.26
// and later; the root go.mod has an earlier version) returns.
func messageName(m proto.Message) protoreflect.FullName {
	if m == nil {
		return ""
	}
	return m.ProtoReflect().Descriptor().FullName()
}

func TestEnvelopeProtoJSON(t *testing.T) {
	for _, m := range samples() {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatalf("protojson.Marshal(%T{%v}): %v", m, m, err)
		}
		db, err := protojson.Marshal(mustDynamic(t, m))
		if err != nil {
			t.Fatal(err)
		}
		var got, want interface{}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(db, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("protojson of %T: %s, dynamic %s", m, b, db)
		}
		back := m.ProtoReflect().New().Interface()
		if err := protojson.Unmarshal(b, back); err != nil {
			t.Fatalf("protojson.Unmarshal(%s): %v", b, err)
		}
		if !proto.Equal(back, m) {
			t.Errorf("protojson round trip of %T{%v}: %v", m, m, back)
		}
	}
	b, err := protojson.Marshal(&Request{TimeoutNano: 5})
	if err != nil || !strings.Contains(string(b), `"timeoutNano"`) {
		t.Errorf("protojson of a timeout: %s, %v", b, err)
	}
	req := &Request{}
	if err := protojson.Unmarshal([]byte(`{"timeout_nano": "7", "metadata": [{"key": "k"}]}`), req); err != nil || req.TimeoutNano != 7 || len(req.Metadata) != 1 || req.Metadata[0].Key != "k" {
		t.Errorf("protojson.Unmarshal with the proto name: %v, %v", req, err)
	}
	if err := protojson.Unmarshal([]byte(`{"nope": 1}`), &KeyValue{}); err == nil {
		t.Error("protojson.Unmarshal accepted an unknown field")
	}
}

func TestEnvelopeProtoText(t *testing.T) {
	for _, m := range samples() {
		b, err := prototext.Marshal(m)
		if err != nil {
			t.Fatalf("prototext.Marshal(%T{%v}): %v", m, m, err)
		}
		db, err := prototext.Marshal(mustDynamic(t, m))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(strings.Fields(string(b)), " ") != strings.Join(strings.Fields(string(db)), " ") {
			t.Errorf("prototext of %T: %s, dynamic %s", m, b, db)
		}
		back := m.ProtoReflect().New().Interface()
		if err := prototext.Unmarshal(b, back); err != nil {
			t.Fatalf("prototext.Unmarshal(%s): %v", b, err)
		}
		if !proto.Equal(back, m) {
			t.Errorf("prototext round trip of %T{%v}: %v", m, m, back)
		}
	}
	b, _ := prototext.Marshal(&Request{TimeoutNano: 5, Metadata: []*KeyValue{{Key: "k"}}})
	if s := strings.Join(strings.Fields(string(b)), ""); s != `timeout_nano:5metadata:{key:"k"}` {
		t.Errorf("prototext: %s", s)
	}
}

// copyMessage copies src into dst through reflection only (Range, Get, Set,
// Mutable, NewField, lists), matching fields by name: dst and src may be
// of different implementations of the same message.
func copyMessage(dst, src protoreflect.Message) {
	src.Range(func(sf protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		df := dst.Descriptor().Fields().ByName(sf.Name())
		switch {
		case sf.IsList():
			sl := v.List()
			var dl protoreflect.List
			if sl.Len()%2 == 0 {
				dl = dst.Mutable(df).List()
			} else {
				dl = dst.NewField(df).List()
			}
			for i := 0; i < sl.Len(); i++ {
				if sf.Message() == nil {
					dl.Append(sl.Get(i))
					continue
				}
				var e protoreflect.Value
				if i%2 == 0 {
					e = dl.NewElement()
					copyMessage(e.Message(), sl.Get(i).Message())
					dl.Append(e)
				} else {
					copyMessage(dl.AppendMutable().Message(), sl.Get(i).Message())
				}
			}
			if sl.Len()%2 != 0 {
				dst.Set(df, protoreflect.ValueOfList(dl))
			}
		case sf.Message() != nil:
			nm := dst.NewField(df)
			copyMessage(nm.Message(), v.Message())
			dst.Set(df, nm)
		default:
			dst.Set(df, v)
		}
		return true
	})
}

func TestEnvelopeReflectCopy(t *testing.T) {
	for _, m := range samples() {
		want := handMarshal(t, m)
		// ours -> dynamic
		d := dynamicOf(t, m)
		copyMessage(d, m.ProtoReflect())
		if got := mustMarshalDet(t, d); !bytes.Equal(got, want) {
			t.Errorf("copy of %T{%v} into a dynamic message: %x, want %x", m, m, got, want)
		}
		// dynamic -> ours
		ours := m.ProtoReflect().New()
		copyMessage(ours, d)
		if got := mustMarshalDet(t, ours.Interface()); !bytes.Equal(got, want) {
			t.Errorf("copy of dynamic %T{%v}: %x, want %x", m, m, got, want)
		}
		// ours -> ours, through Get on every field too.
		o2 := m.ProtoReflect().Type().New()
		copyMessage(o2, ours)
		if !proto.Equal(o2.Interface(), m) {
			t.Errorf("copy of %T{%v}: %v", m, m, o2.Interface())
		}
		// Get on every field agrees with the dynamic message.
		fields := m.ProtoReflect().Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			dfd := d.Descriptor().Fields().ByName(fd.Name())
			if got, want := m.ProtoReflect().Has(fd), d.Has(dfd); got != want {
				t.Errorf("%T{%v}.Has(%s) = %v, dynamic %v", m, m, fd.Name(), got, want)
			}
			if !valuesEqual(m.ProtoReflect().Get(fd), d.Get(dfd)) {
				t.Errorf("%T{%v}.Get(%s) = %v, dynamic %v", m, m, fd.Name(), m.ProtoReflect().Get(fd), d.Get(dfd))
			}
			// Foreign descriptors of the same field are accepted.
			if !valuesEqual(m.ProtoReflect().Get(dfd), d.Get(dfd)) {
				t.Errorf("%T{%v}.Get(dynamic %s) differs", m, m, fd.Name())
			}
		}
	}
}

// valuesEqual compares two field values of possibly different
// implementations.
func valuesEqual(a, b protoreflect.Value) bool {
	switch x := a.Interface().(type) {
	case protoreflect.Message:
		y, ok := b.Interface().(protoreflect.Message)
		if !ok || x.IsValid() != y.IsValid() {
			return false
		}
		return bytes.Equal(mustMarshalNoT(x.Interface()), mustMarshalNoT(y.Interface()))
	case protoreflect.List:
		y, ok := b.Interface().(protoreflect.List)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i := 0; i < x.Len(); i++ {
			if !valuesEqual(x.Get(i), y.Get(i)) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.Interface().([]byte)
		return ok && bytes.Equal(x, y)
	default:
		return a.Interface() == b.Interface()
	}
}

func mustMarshalNoT(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestEnvelopeReflectFields(t *testing.T) {
	req := &Request{}
	m := req.ProtoReflect()
	fields := m.Descriptor().Fields()
	service, payload, timeout, metadata := fields.ByName("service"), fields.ByName("payload"), fields.ByName("timeout_nano"), fields.ByName("metadata")

	if !m.IsValid() || m.Interface() != req || m.Descriptor().FullName() != "ttrpc.Request" {
		t.Fatal("view of a new request")
	}
	n := 0
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool { n++; return true })
	if n != 0 {
		t.Errorf("Range of an empty request visited %d fields", n)
	}
	for i := 0; i < fields.Len(); i++ {
		if m.Has(fields.Get(i)) {
			t.Errorf("empty request has %s", fields.Get(i).Name())
		}
	}

	m.Set(service, protoreflect.ValueOfString("svc"))
	m.Set(payload, protoreflect.ValueOfBytes([]byte("p")))
	m.Set(timeout, protoreflect.ValueOfInt64(42))
	if req.Service != "svc" || string(req.Payload) != "p" || req.TimeoutNano != 42 {
		t.Errorf("Set: %v", req)
	}
	if m.Get(service).String() != "svc" || string(m.Get(payload).Bytes()) != "p" || m.Get(timeout).Int() != 42 {
		t.Error("Get after Set")
	}
	if m.NewField(service).String() != "" || m.NewField(timeout).Int() != 0 || len(m.NewField(payload).Bytes()) != 0 {
		t.Error("NewField of scalars is not the zero value")
	}
	mustPanic(t, "Set of an int32 to an int64 field", func() { m.Set(timeout, protoreflect.ValueOfInt32(1)) })
	mustPanic(t, "Set of bytes to a string field", func() { m.Set(service, protoreflect.ValueOfBytes(nil)) })
	mustPanic(t, "Mutable of a scalar", func() { m.Mutable(service) })

	// The repeated message field.
	l := m.Mutable(metadata).List()
	if !l.IsValid() || l.Len() != 0 {
		t.Fatal("Mutable list")
	}
	e := l.NewElement()
	e.Message().Set(e.Message().Descriptor().Fields().ByName("key"), protoreflect.ValueOfString("k1"))
	l.Append(e)
	am := l.AppendMutable().Message()
	am.Set(am.Descriptor().Fields().ByName("value"), protoreflect.ValueOfString("v2"))
	if len(req.Metadata) != 2 || req.Metadata[0].Key != "k1" || req.Metadata[1].Value != "v2" {
		t.Fatalf("list appends: %v", req.Metadata)
	}
	if l.Get(0).Message().Interface() != req.Metadata[0] {
		t.Error("list element is not the KeyValue")
	}
	l.Set(0, protoreflect.ValueOfMessage((&KeyValue{Key: "k0"}).ProtoReflect()))
	if req.Metadata[0].Key != "k0" {
		t.Error("list Set")
	}
	mustPanic(t, "Append of a foreign message", func() { l.Append(protoreflect.ValueOfMessage((&wrapperspb.StringValue{Value: "x"}).ProtoReflect())) })
	mustPanic(t, "Append of a nil KeyValue", func() { l.Append(protoreflect.ValueOfMessage((*KeyValue)(nil).ProtoReflect())) })
	mustPanic(t, "Append of a string", func() { l.Append(protoreflect.ValueOfString("x")) })
	mustPanic(t, "Get out of range", func() { l.Get(5) })
	l.Truncate(1)
	if len(req.Metadata) != 1 || l.Len() != 1 {
		t.Errorf("Truncate: %v", req.Metadata)
	}
	if !m.Has(metadata) {
		t.Error("Has(metadata)")
	}
	nl := m.NewField(metadata).List()
	nl.Append(protoreflect.ValueOfMessage((&KeyValue{Key: "new"}).ProtoReflect()))
	if len(req.Metadata) != 1 {
		t.Error("NewField's list aliases the field")
	}
	m.Set(metadata, protoreflect.ValueOfList(nl))
	if len(req.Metadata) != 1 || req.Metadata[0].Key != "new" {
		t.Errorf("Set of a list: %v", req.Metadata)
	}
	dl := dynamicpb.NewMessage(embeddedFile(t).Messages().ByName("Request")).NewField(embeddedFile(t).Messages().ByName("Request").Fields().ByName("metadata")).List()
	mustPanic(t, "Set of a foreign list", func() { m.Set(metadata, protoreflect.ValueOfList(dl)) })

	// Range visits the populated fields, in number order, and stops.
	var seen []protoreflect.Name
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		seen = append(seen, fd.Name())
		return true
	})
	if !reflect.DeepEqual(seen, []protoreflect.Name{"service", "payload", "timeout_nano", "metadata"}) {
		t.Errorf("Range visited %v", seen)
	}
	n = 0
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool { n++; return false })
	if n != 1 {
		t.Errorf("Range did not stop: %d", n)
	}

	for i := 0; i < fields.Len(); i++ {
		m.Clear(fields.Get(i))
	}
	if !reflect.DeepEqual(req, &Request{}) {
		t.Errorf("Clear left %v", req)
	}

	// Fields of another message, oneofs, extensions.
	kvField := (&KeyValue{}).ProtoReflect().Descriptor().Fields().ByName("key")
	mustPanic(t, "Get of another message's field", func() { m.Get(kvField) })
	mustPanic(t, "Set of another message's field", func() { m.Set(kvField, protoreflect.ValueOfString("")) })
	mustPanic(t, "Has of another message's field", func() { m.Has(kvField) })
	mustPanic(t, "WhichOneof", func() {
		m.WhichOneof((&wrapperspb.StringValue{}).ProtoReflect().Descriptor().Oneofs().Get(0))
	})

	// Unknown fields are not kept.
	m.SetUnknown(protoreflect.RawFields{0x18, 0x01})
	if len(m.GetUnknown()) != 0 {
		t.Error("unknown fields kept")
	}
	m.SetUnknown(nil)

	// New, Type, Interface.
	if nm := m.New(); !nm.IsValid() || nm.Interface() == m.Interface() || reflect.TypeOf(nm.Interface()) != reflect.TypeOf(req) {
		t.Error("New")
	}
	typ := m.Type()
	if typ.New().Descriptor() != m.Descriptor() || typ.Zero().IsValid() || typ.Zero().Interface().(*Request) != nil {
		t.Error("Type")
	}
}

func TestEnvelopeReflectStatus(t *testing.T) {
	resp := &Response{}
	m := resp.ProtoReflect()
	status := m.Descriptor().Fields().ByName("status")

	v := m.Get(status).Message()
	if v.IsValid() || v.Descriptor().FullName() != "google.rpc.Status" || resp.Status != nil {
		t.Error("Get of an unset status")
	}
	if v.Descriptor() != status.Message() {
		t.Error("the status value's descriptor is not the field's message")
	}
	sm := m.Mutable(status).Message()
	if resp.Status == nil || !sm.IsValid() || !m.Has(status) {
		t.Fatal("Mutable did not set the status")
	}
	sf := sm.Descriptor().Fields()
	sm.Set(sf.ByName("code"), protoreflect.ValueOfInt32(5))
	sm.Set(sf.ByName("message"), protoreflect.ValueOfString("nope"))
	details := sm.Mutable(sf.ByName("details")).List()
	d := details.NewElement().Message()
	d.Set(d.Descriptor().Fields().ByName("type_url"), protoreflect.ValueOfString("t"))
	d.Set(d.Descriptor().Fields().ByName("value"), protoreflect.ValueOfBytes([]byte{1}))
	details.Append(protoreflect.ValueOfMessage(d))
	want := &spb.Status{Code: 5, Message: "nope", Details: []*anypb.Any{{TypeUrl: "t", Value: []byte{1}}}}
	if resp.Status.Code != 5 || resp.Status.Message != "nope" || len(resp.Status.Details) != 1 ||
		resp.Status.Details[0].TypeUrl != "t" || !bytes.Equal(resp.Status.Details[0].Value, []byte{1}) {
		t.Errorf("status set through reflection: %v, want %v", resp.Status, want)
	}
	if got := m.Get(status).Message().Get(sf.ByName("code")).Int(); got != 5 {
		t.Errorf("code %d", got)
	}

	// Set of a status value; NewField gives a new one.
	nf := m.NewField(status)
	if !nf.Message().IsValid() || nf.Message().Descriptor().FullName() != "google.rpc.Status" {
		t.Error("NewField(status)")
	}
	nf.Message().Set(sf.ByName("code"), protoreflect.ValueOfInt32(7))
	m.Set(status, nf)
	if resp.Status.Code != 7 || resp.Status.Message != "" {
		t.Errorf("Set(status): %v", resp.Status)
	}
	mustPanic(t, "Set of a KeyValue to the status", func() { m.Set(status, protoreflect.ValueOfMessage((&KeyValue{}).ProtoReflect())) })
	m.Clear(status)
	if resp.Status != nil || m.Has(status) {
		t.Error("Clear(status)")
	}

	// Where the Status type has its own reflection, the field gives it.
	if hasV2(&spb.Status{}) {
		resp.Status = &spb.Status{Code: 3}
		if m.Get(status).Message().Interface() != interface{}(resp.Status) {
			t.Error("Get(status) is not the status's own view")
		}
	}
}

func TestEnvelopeReflectStringList(t *testing.T) {
	sl := &StringList{}
	m := sl.ProtoReflect()
	list := m.Descriptor().Fields().ByName("list")
	l := m.Mutable(list).List()
	l.Append(protoreflect.ValueOfString("a"))
	l.Append(protoreflect.ValueOfString("b"))
	l.Set(1, protoreflect.ValueOfString("c"))
	if !reflect.DeepEqual(sl.List, []string{"a", "c"}) || l.Get(0).String() != "a" {
		t.Errorf("list: %v", sl.List)
	}
	if l.NewElement().String() != "" {
		t.Error("NewElement")
	}
	mustPanic(t, "AppendMutable on strings", func() { l.AppendMutable() })
	mustPanic(t, "Append of bytes", func() { l.Append(protoreflect.ValueOfBytes(nil)) })
	l.Truncate(0)
	if len(sl.List) != 0 || m.Has(list) {
		t.Error("Truncate")
	}
	nl := m.NewField(list).List()
	nl.Append(protoreflect.ValueOfString("x"))
	m.Set(list, protoreflect.ValueOfList(nl))
	if !reflect.DeepEqual(sl.List, []string{"x"}) {
		t.Errorf("Set: %v", sl.List)
	}
}

// Invalid (nil) messages: read-only and empty, as generated ones are.
func TestEnvelopeReflectInvalid(t *testing.T) {
	for _, m := range []proto.Message{(*Request)(nil), (*Response)(nil), (*StringList)(nil), (*KeyValue)(nil)} {
		r := m.ProtoReflect()
		if r.IsValid() {
			t.Errorf("nil %T is valid", m)
		}
		if r.Interface() != m {
			t.Errorf("nil %T: Interface", m)
		}
		r.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			t.Errorf("nil %T: Range visited %s", m, fd.Name())
			return true
		})
		if len(r.GetUnknown()) != 0 {
			t.Errorf("nil %T: unknown fields", m)
		}
		mustPanic(t, "SetUnknown on nil", func() { r.SetUnknown(nil) })
		d := dynamicOf(t, m)
		fields := r.Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if r.Has(fd) {
				t.Errorf("nil %T has %s", m, fd.Name())
			}
			v := r.Get(fd)
			if !valuesEqual(v, d.Get(d.Descriptor().Fields().Get(i))) {
				t.Errorf("nil %T: Get(%s) = %v", m, fd.Name(), v)
			}
			switch {
			case fd.IsList():
				if v.List().IsValid() || v.List().Len() != 0 {
					t.Errorf("nil %T: list %s is valid", m, fd.Name())
				}
				mustPanic(t, "Append to a nil message's list", func() { v.List().Append(v.List().NewElement()) })
			case fd.Message() != nil:
				if v.Message().IsValid() {
					t.Errorf("nil %T: message %s is valid", m, fd.Name())
				}
			}
			nv := r.NewField(fd)
			if fd.IsList() && !nv.List().IsValid() || fd.Message() != nil && !fd.IsList() && !nv.Message().IsValid() {
				t.Errorf("nil %T: NewField(%s) is not mutable", m, fd.Name())
			}
			mustPanic(t, "Set on nil", func() { r.Set(fd, nv) })
			mustPanic(t, "Clear on nil", func() { r.Clear(fd) })
			if fd.IsList() || fd.Message() != nil {
				mustPanic(t, "Mutable on nil", func() { r.Mutable(fd) })
			}
		}
		if nm := r.New(); !nm.IsValid() {
			t.Errorf("nil %T: New is invalid", m)
		}
		if r.Type().Zero().IsValid() || r.Type().New().Interface() == nil {
			t.Errorf("nil %T: Type", m)
		}
		if r.ProtoMethods() == nil {
			t.Errorf("nil %T: no methods", m)
		}
	}
}

// ProtoReflect and ProtoMethods are on the path of every APIv2 operation;
// they allocate nothing, nor does sizing.
func TestEnvelopeReflectAllocs(t *testing.T) {
	req := sampleRequests()[4]
	kv := &KeyValue{Key: "k"}
	var sink interface{}
	if n := testing.AllocsPerRun(100, func() {
		sink = req.ProtoReflect().ProtoMethods()
		sink = kv.ProtoReflect().ProtoMethods()
	}); n != 0 {
		t.Errorf("ProtoReflect().ProtoMethods(): %v allocations", n)
	}
	size := 0
	if n := testing.AllocsPerRun(100, func() { size += proto.Size(req) }); n != 0 {
		t.Errorf("proto.Size: %v allocations", n)
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], req)
	}); n != 0 {
		t.Errorf("MarshalAppend into room: %v allocations", n)
	}
	_ = sink
}

// The methods the codec uses on APIv2 messages are the hand-written codec.
func TestEnvelopeProtoMethods(t *testing.T) {
	for _, m := range samples() {
		r := m.ProtoReflect()
		meths := r.ProtoMethods()
		if meths == nil || meths.Size == nil || meths.Marshal == nil || meths.Unmarshal == nil || meths.Merge == nil || meths.CheckInitialized == nil {
			t.Fatalf("%T: methods %v", m, meths)
		}
		if _, err := meths.CheckInitialized(protoiface.CheckInitializedInput{Message: r}); err != nil {
			t.Error(err)
		}
		out, err := meths.Marshal(protoiface.MarshalInput{Message: r, Buf: []byte{9}})
		if err != nil || !bytes.Equal(out.Buf, append([]byte{9}, handMarshal(t, m)...)) {
			t.Errorf("%T: Marshal appends %x, %v", m, out.Buf, err)
		}
		// A source of another implementation is not merged by the fast
		// path, which says so.
		mo := meths.Merge(protoiface.MergeInput{Source: mustDynamic(t, m), Destination: r.New()})
		if mo.Flags&protoiface.MergeComplete != 0 {
			t.Errorf("%T: merged a dynamic message", m)
		}
	}
	// Through the package's codec.
	for _, m := range samples() {
		b, err := codec{}.Marshal(m)
		if err != nil || !bytes.Equal(b, handMarshal(t, m)) {
			t.Errorf("codec.Marshal(%T{%v}) = %x, %v", m, m, b, err)
		}
		back := m.ProtoReflect().New().Interface()
		if err := (codec{}).Unmarshal(b, back); err != nil || !proto.Equal(back, m) {
			t.Errorf("codec.Unmarshal(%T): %v, %v", m, back, err)
		}
	}
}

// Descriptor options: the typed nil options where descriptorpb is linked
// through a generated Any, as generated descriptors give.
func TestEnvelopeDescriptorOptions(t *testing.T) {
	md := (&Request{}).ProtoReflect().Descriptor()
	for _, c := range []struct {
		name string
		opts protoreflect.ProtoMessage
		want interface{}
	}{
		{"file", md.ParentFile().Options(), (*descriptorpb.FileOptions)(nil)},
		{"message", md.Options(), (*descriptorpb.MessageOptions)(nil)},
		{"field", md.Fields().Get(0).Options(), (*descriptorpb.FieldOptions)(nil)},
	} {
		if hasV2(&anypb.Any{}) {
			if c.opts != c.want {
				t.Errorf("%s options: %#v, want %#v", c.name, c.opts, c.want)
			}
		} else if c.opts != nil {
			t.Errorf("%s options: %#v, want nil", c.name, c.opts)
		}
	}
	mustPanic(t, "ExtensionRangeOptions", func() { md.ExtensionRangeOptions(0) })
}

func ExampleRequest_ProtoReflect() {
	req := &Request{Service: "example.Greeter", Method: "Hello", TimeoutNano: 1e9}
	b, _ := proto.Marshal(req)
	var back Request
	_ = proto.Unmarshal(b, &back)
	fmt.Println(back.ProtoReflect().Descriptor().FullName(), back.Service, back.Method, back.TimeoutNano)
	// Output: ttrpc.Request example.Greeter Hello 1000000000
}

// Every exported method of the hand-written descriptors is implemented: none
// falls through to the nil interface each one embeds (which would panic with
// a nil dereference). The method sets are those of the protoreflect version
// in the build, so this also catches methods that later versions add.
func TestEnvelopeDescriptorMethodsImplemented(t *testing.T) {
	var objs []interface{}
	addMsg := func(md protoreflect.MessageDescriptor) {
		objs = append(objs, md, md.Fields(), md.Oneofs(), md.ReservedNames(), md.ReservedRanges(),
			md.RequiredNumbers(), md.ExtensionRanges(), md.Enums(), md.Messages(), md.Extensions())
		for i := 0; i < md.Fields().Len(); i++ {
			objs = append(objs, md.Fields().Get(i))
		}
	}
	for i := range descFiles {
		f := &descFiles[i]
		objs = append(objs, f, f.Imports(), f.Enums(), f.Messages(), f.Extensions(), f.Services(), f.SourceLocations())
		for j := 0; j < f.Messages().Len(); j++ {
			addMsg(f.Messages().Get(j))
		}
	}
	for i := range descTypes {
		objs = append(objs, &descTypes[i])
	}
	for _, o := range objs {
		v := reflect.ValueOf(o)
		for i := 0; i < v.NumMethod(); i++ {
			m := v.Type().Method(i)
			if m.Name == "ProtoInternal" {
				continue // a marker with an internal parameter type: never called
			}
			args := make([]reflect.Value, m.Type.NumIn()-1)
			for j := range args {
				args[j] = reflect.Zero(m.Type.In(j + 1))
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						if err, ok := r.(error); ok && strings.Contains(err.Error(), "nil pointer") {
							t.Errorf("%T.%s is not implemented: %v", o, m.Name, r)
						}
					}
				}()
				v.Method(i).Call(args)
			}()
		}
	}
	if len(objs) < 50 {
		t.Errorf("only %d descriptor objects checked", len(objs))
	}
}
