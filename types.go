package ttrpc

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/containerd/ttrpc/internal/wire"
	anypb "github.com/golang/protobuf/ptypes/any"
	spb "google.golang.org/genproto/googleapis/rpc/status"
)

// The envelope messages below are proto3 messages. Their codecs are written by
// hand so that the hot path needs no reflection; the struct tags keep them
// usable by reflection-based protobuf code (gogo's proto.Marshal, text
// output) exactly like generated types.

// Request is the envelope of one call: which method to run, the encoded
// argument, the caller's remaining time and its metadata.
type Request struct {
	Service     string      `protobuf:"bytes,1,opt,name=service,proto3" json:"service,omitempty"`
	Method      string      `protobuf:"bytes,2,opt,name=method,proto3" json:"method,omitempty"`
	Payload     []byte      `protobuf:"bytes,3,opt,name=payload,proto3" json:"payload,omitempty"`
	TimeoutNano int64       `protobuf:"varint,4,opt,name=timeout_nano,json=timeoutNano,proto3" json:"timeout_nano,omitempty"`
	Metadata    []*KeyValue `protobuf:"bytes,5,rep,name=metadata,proto3" json:"metadata,omitempty"`
}

// Reset clears the request.
func (r *Request) Reset() { *r = Request{} }

// ProtoMessage marks Request as a protobuf message.
func (*Request) ProtoMessage() {}

// String renders the request in protobuf text style, for logs and tests.
func (r *Request) String() string {
	var b strings.Builder
	field(&b, "service", strconv.Quote(r.Service), r.Service != "")
	field(&b, "method", strconv.Quote(r.Method), r.Method != "")
	field(&b, "payload", strconv.Quote(string(r.Payload)), len(r.Payload) > 0)
	field(&b, "timeout_nano", strconv.FormatInt(r.TimeoutNano, 10), r.TimeoutNano != 0)
	for _, kv := range r.Metadata {
		field(&b, "metadata", "<"+kv.String()+">", true)
	}
	return b.String()
}

// Size reports the length of the request's protobuf encoding.
func (r *Request) Size() int {
	n := 0
	if r.Service != "" {
		n += wire.SizeBytes(len(r.Service))
	}
	if r.Method != "" {
		n += wire.SizeBytes(len(r.Method))
	}
	if len(r.Payload) > 0 {
		n += wire.SizeBytes(len(r.Payload))
	}
	if r.TimeoutNano != 0 {
		n += 1 + wire.SizeVarint(uint64(r.TimeoutNano))
	}
	for _, kv := range r.Metadata {
		n += wire.SizeBytes(kv.Size())
	}
	return n
}

// Marshal returns the request's protobuf encoding.
func (r *Request) Marshal() ([]byte, error) {
	return r.appendTo(make([]byte, 0, r.Size())), nil
}

// MarshalTo writes the encoding into b, which must hold Size() bytes.
func (r *Request) MarshalTo(b []byte) (int, error) {
	return len(r.appendTo(b[:0])), nil
}

func (r *Request) appendTo(b []byte) []byte {
	if r.Service != "" {
		b = wire.AppendString(b, 1, r.Service)
	}
	if r.Method != "" {
		b = wire.AppendString(b, 2, r.Method)
	}
	if len(r.Payload) > 0 {
		b = wire.AppendBytes(b, 3, r.Payload)
	}
	if r.TimeoutNano != 0 {
		b = wire.AppendTag(b, 4, wire.TypeVarint)
		b = wire.AppendVarint(b, uint64(r.TimeoutNano))
	}
	for _, kv := range r.Metadata {
		b = wire.AppendTag(b, 5, wire.TypeBytes)
		b = wire.AppendVarint(b, uint64(kv.Size()))
		b = kv.appendTo(b)
	}
	return b
}

// Unmarshal decodes b into r, replacing what r held. Payload is copied, so b
// may be reused afterwards.
func (r *Request) Unmarshal(b []byte) error {
	r.Reset()
	if err := r.decode(b); err != nil {
		return err
	}
	if r.Payload != nil {
		r.Payload = append([]byte{}, r.Payload...)
	}
	return nil
}

// decode parses b into r; Payload aliases b.
func (r *Request) decode(b []byte) error {
	return forEachField(b, func(num, typ int, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == wire.TypeBytes:
			if !utf8.Valid(v) {
				return errInvalidUTF8
			}
			r.Service = string(v)
		case num == 2 && typ == wire.TypeBytes:
			if !utf8.Valid(v) {
				return errInvalidUTF8
			}
			r.Method = string(v)
		case num == 3 && typ == wire.TypeBytes:
			r.Payload = v
		case num == 4 && typ == wire.TypeVarint:
			r.TimeoutNano = int64(x)
		case num == 5 && typ == wire.TypeBytes:
			kv := &KeyValue{}
			if err := kv.decode(v); err != nil {
				return err
			}
			r.Metadata = append(r.Metadata, kv)
		}
		return nil
	})
}

// Response is the envelope of one reply: a status (absent means OK) and the
// encoded result.
type Response struct {
	Status  *spb.Status `protobuf:"bytes,1,opt,name=status,proto3" json:"status,omitempty"`
	Payload []byte      `protobuf:"bytes,2,opt,name=payload,proto3" json:"payload,omitempty"`
}

// Reset clears the response.
func (r *Response) Reset() { *r = Response{} }

// ProtoMessage marks Response as a protobuf message.
func (*Response) ProtoMessage() {}

// String renders the response in protobuf text style, for logs and tests.
func (r *Response) String() string {
	var b strings.Builder
	if r.Status != nil {
		var s strings.Builder
		field(&s, "code", strconv.FormatInt(int64(r.Status.Code), 10), r.Status.Code != 0)
		field(&s, "message", strconv.Quote(r.Status.Message), r.Status.Message != "")
		for _, d := range r.Status.Details {
			if d != nil {
				field(&s, "details", "<type_url:"+strconv.Quote(d.TypeUrl)+" value:"+strconv.Quote(string(d.Value))+">", true)
			}
		}
		field(&b, "status", "<"+s.String()+">", true)
	}
	field(&b, "payload", strconv.Quote(string(r.Payload)), len(r.Payload) > 0)
	return b.String()
}

// Size reports the length of the response's protobuf encoding.
func (r *Response) Size() int {
	n := 0
	if r.Status != nil {
		n += wire.SizeBytes(statusSize(r.Status))
	}
	if len(r.Payload) > 0 {
		n += wire.SizeBytes(len(r.Payload))
	}
	return n
}

// Marshal returns the response's protobuf encoding.
func (r *Response) Marshal() ([]byte, error) {
	return r.appendTo(make([]byte, 0, r.Size())), nil
}

// MarshalTo writes the encoding into b, which must hold Size() bytes.
func (r *Response) MarshalTo(b []byte) (int, error) {
	return len(r.appendTo(b[:0])), nil
}

func (r *Response) appendTo(b []byte) []byte {
	if r.Status != nil {
		b = appendStatus(b, 1, r.Status)
	}
	if len(r.Payload) > 0 {
		b = wire.AppendBytes(b, 2, r.Payload)
	}
	return b
}

// Unmarshal decodes b into r, replacing what r held. Nothing aliases b.
func (r *Response) Unmarshal(b []byte) error {
	r.Reset()
	if err := r.decode(b); err != nil {
		return err
	}
	if r.Payload != nil {
		r.Payload = append([]byte{}, r.Payload...)
	}
	return nil
}

// decode parses b into r; Payload aliases b, the status does not.
func (r *Response) decode(b []byte) error {
	return forEachField(b, func(num, typ int, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == wire.TypeBytes:
			if r.Status == nil {
				r.Status = &spb.Status{}
			}
			return decodeStatus(r.Status, v)
		case num == 2 && typ == wire.TypeBytes:
			r.Payload = v
		}
		return nil
	})
}

// KeyValue is one metadata entry on the wire.
type KeyValue struct {
	Key   string `protobuf:"bytes,1,opt,name=key,proto3" json:"key,omitempty"`
	Value string `protobuf:"bytes,2,opt,name=value,proto3" json:"value,omitempty"`
}

// Reset clears the entry.
func (kv *KeyValue) Reset() { *kv = KeyValue{} }

// ProtoMessage marks KeyValue as a protobuf message.
func (*KeyValue) ProtoMessage() {}

// String renders the entry in protobuf text style.
func (kv *KeyValue) String() string {
	var b strings.Builder
	field(&b, "key", strconv.Quote(kv.Key), kv.Key != "")
	field(&b, "value", strconv.Quote(kv.Value), kv.Value != "")
	return b.String()
}

// Size reports the length of the entry's protobuf encoding.
func (kv *KeyValue) Size() int {
	n := 0
	if kv.Key != "" {
		n += wire.SizeBytes(len(kv.Key))
	}
	if kv.Value != "" {
		n += wire.SizeBytes(len(kv.Value))
	}
	return n
}

// Marshal returns the entry's protobuf encoding.
func (kv *KeyValue) Marshal() ([]byte, error) {
	return kv.appendTo(make([]byte, 0, kv.Size())), nil
}

func (kv *KeyValue) appendTo(b []byte) []byte {
	if kv.Key != "" {
		b = wire.AppendString(b, 1, kv.Key)
	}
	if kv.Value != "" {
		b = wire.AppendString(b, 2, kv.Value)
	}
	return b
}

// Unmarshal decodes b into kv, replacing what kv held.
func (kv *KeyValue) Unmarshal(b []byte) error {
	kv.Reset()
	return kv.decode(b)
}

func (kv *KeyValue) decode(b []byte) error {
	return forEachField(b, func(num, typ int, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == wire.TypeBytes:
			if !utf8.Valid(v) {
				return errInvalidUTF8
			}
			kv.Key = string(v)
		case num == 2 && typ == wire.TypeBytes:
			if !utf8.Valid(v) {
				return errInvalidUTF8
			}
			kv.Value = string(v)
		}
		return nil
	})
}

// StringList is a list of strings as a protobuf message.
type StringList struct {
	List []string `protobuf:"bytes,1,rep,name=list,proto3" json:"list,omitempty"`
}

// Reset clears the list.
func (l *StringList) Reset() { *l = StringList{} }

// ProtoMessage marks StringList as a protobuf message.
func (*StringList) ProtoMessage() {}

// String renders the list in protobuf text style.
func (l *StringList) String() string {
	var b strings.Builder
	for _, s := range l.List {
		field(&b, "list", strconv.Quote(s), true)
	}
	return b.String()
}

// Size reports the length of the list's protobuf encoding.
func (l *StringList) Size() int {
	n := 0
	for _, s := range l.List {
		n += wire.SizeBytes(len(s))
	}
	return n
}

// Marshal returns the list's protobuf encoding.
func (l *StringList) Marshal() ([]byte, error) {
	b := make([]byte, 0, l.Size())
	for _, s := range l.List {
		b = wire.AppendString(b, 1, s)
	}
	return b, nil
}

// Unmarshal decodes b into l, replacing what l held.
func (l *StringList) Unmarshal(b []byte) error {
	l.Reset()
	return forEachField(b, func(num, typ int, v []byte, _ uint64) error {
		if num == 1 && typ == wire.TypeBytes {
			if !utf8.Valid(v) {
				return errInvalidUTF8
			}
			l.List = append(l.List, string(v))
		}
		return nil
	})
}

// statusSize reports the encoded length of a google.rpc.Status.
func statusSize(s *spb.Status) int {
	n := 0
	if s.Code != 0 {
		n += 1 + wire.SizeVarint(uint64(int64(s.Code)))
	}
	if s.Message != "" {
		n += wire.SizeBytes(len(s.Message))
	}
	for _, d := range s.Details {
		n += wire.SizeBytes(anySize(d))
	}
	return n
}

func anySize(a *anypb.Any) int {
	if a == nil {
		return 0
	}
	n := 0
	if a.TypeUrl != "" {
		n += wire.SizeBytes(len(a.TypeUrl))
	}
	if len(a.Value) > 0 {
		n += wire.SizeBytes(len(a.Value))
	}
	return n
}

// appendStatus appends s as field num. int32 codes are sign-extended to 64
// bits as protobuf requires.
func appendStatus(b []byte, num int, s *spb.Status) []byte {
	b = wire.AppendTag(b, num, wire.TypeBytes)
	b = wire.AppendVarint(b, uint64(statusSize(s)))
	if s.Code != 0 {
		b = wire.AppendTag(b, 1, wire.TypeVarint)
		b = wire.AppendVarint(b, uint64(int64(s.Code)))
	}
	if s.Message != "" {
		b = wire.AppendString(b, 2, s.Message)
	}
	for _, d := range s.Details {
		b = wire.AppendTag(b, 3, wire.TypeBytes)
		b = wire.AppendVarint(b, uint64(anySize(d)))
		if d == nil {
			continue
		}
		if d.TypeUrl != "" {
			b = wire.AppendString(b, 1, d.TypeUrl)
		}
		if len(d.Value) > 0 {
			b = wire.AppendBytes(b, 2, d.Value)
		}
	}
	return b
}

// decodeStatus merges the encoded google.rpc.Status b into s. Nothing
// aliases b.
func decodeStatus(s *spb.Status, b []byte) error {
	return forEachField(b, func(num, typ int, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == wire.TypeVarint:
			s.Code = int32(x)
		case num == 2 && typ == wire.TypeBytes:
			if !utf8.Valid(v) {
				return errInvalidUTF8
			}
			s.Message = string(v)
		case num == 3 && typ == wire.TypeBytes:
			a := &anypb.Any{}
			err := forEachField(v, func(num, typ int, v []byte, _ uint64) error {
				switch {
				case num == 1 && typ == wire.TypeBytes:
					if !utf8.Valid(v) {
						return errInvalidUTF8
					}
					a.TypeUrl = string(v)
				case num == 2 && typ == wire.TypeBytes:
					a.Value = append([]byte{}, v...)
				}
				return nil
			})
			if err != nil {
				return err
			}
			s.Details = append(s.Details, a)
		}
		return nil
	})
}

// errInvalidUTF8 rejects a proto3 string field that is not valid UTF-8, as
// the reflection-based protobuf runtimes (and so the established ttrpc) do.
var errInvalidUTF8 = errors.New("proto: string field contains invalid UTF-8")

// forEachField walks the fields of an encoded message. For length-delimited
// fields v holds the value (aliasing b); for varints x holds it. A field whose
// wire type does not match its declaration reaches fn too, and fn ignores it,
// which is how the reference protobuf runtimes treat it (as unknown).
//
// Unknown fields are skipped exactly as gogo's reflection-based decoder (the
// codec of the established ttrpc envelope) skips them, so that both accept
// and refuse the same inputs: field numbers other than 0 are not
// range-checked (gogo refuses only 0, and only outside groups), and a
// group ends at the first unpaired end-group key whatever its number. Wire
// types 4 (a stray end-group), 6 and 7 are errors.
func forEachField(b []byte, fn func(num, typ int, v []byte, x uint64) error) error {
	for len(b) > 0 {
		key, n, err := wire.ConsumeVarint(b)
		if err != nil {
			return err
		}
		b = b[n:]
		num, typ := int(key>>3), int(key&7)
		if num == 0 {
			return wire.ErrFieldNum
		}
		var (
			v []byte
			x uint64
		)
		switch typ {
		case wire.TypeVarint:
			x, n, err = wire.ConsumeVarint(b)
		case wire.TypeBytes:
			v, n, err = wire.ConsumeBytes(b)
		case wire.TypeFixed32, wire.TypeFixed64:
			n, err = wire.ConsumeFieldValue(num, typ, b)
		case wire.TypeStartGroup:
			n, err = skipGroup(b)
		default:
			err = wire.ErrWireType
		}
		if err != nil {
			return err
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// skipGroup returns the length of a group's contents and its end key, the
// first end-group key not paired with a start-group key inside it.
func skipGroup(b []byte) (int, error) {
	depth := 1
	off := 0
	for {
		key, n, err := wire.ConsumeVarint(b[off:])
		if err != nil {
			return 0, err
		}
		off += n
		switch typ := int(key & 7); typ {
		case wire.TypeStartGroup:
			depth++
		case wire.TypeEndGroup:
			depth--
			if depth == 0 {
				return off, nil
			}
		case wire.TypeVarint, wire.TypeFixed32, wire.TypeFixed64, wire.TypeBytes:
			n, err := wire.ConsumeFieldValue(1, typ, b[off:])
			if err != nil {
				return 0, err
			}
			off += n
		default:
			return 0, wire.ErrWireType
		}
	}
}

// field writes one "name:value" pair of protobuf text output when present.
func field(b *strings.Builder, name, value string, present bool) {
	if !present {
		return
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(name)
	b.WriteByte(':')
	b.WriteString(value)
}
