package ttrpcecho

import (
	"errors"
	"strconv"
)

// Payload is the echo message, `message Payload { bytes value = 1; }`, with
// the fast-path methods protoc-gen-gogo's marshaler, unmarshaler and sizer
// plugins generate (written out here so the module needs no protoc). It is
// wire-identical to google.protobuf.BytesValue, which grpc-go's side uses.
type Payload struct {
	Value []byte `protobuf:"bytes,1,opt,name=value,proto3" json:"value,omitempty"`
}

func (m *Payload) Reset()         { *m = Payload{} }
func (*Payload) ProtoMessage()    {}
func (m *Payload) String() string { return "value:" + strconv.Quote(string(m.Value)) }

// Size returns the encoded length.
func (m *Payload) Size() int {
	if m == nil || len(m.Value) == 0 {
		return 0
	}
	return 1 + sovPayload(uint64(len(m.Value))) + len(m.Value)
}

// Marshal encodes m.
func (m *Payload) Marshal() ([]byte, error) {
	b := make([]byte, m.Size())
	n, err := m.MarshalToSizedBuffer(b)
	return b[:n], err
}

// MarshalTo encodes m into b, which holds at least Size() bytes.
func (m *Payload) MarshalTo(b []byte) (int, error) {
	return m.MarshalToSizedBuffer(b[:m.Size()])
}

// MarshalToSizedBuffer encodes m at the end of b, backwards, as gogo does.
func (m *Payload) MarshalToSizedBuffer(b []byte) (int, error) {
	i := len(b)
	if len(m.Value) > 0 {
		i -= len(m.Value)
		copy(b[i:], m.Value)
		v := uint64(len(m.Value))
		i -= sovPayload(v)
		j := i
		for v >= 0x80 {
			b[j] = byte(v) | 0x80
			v >>= 7
			j++
		}
		b[j] = byte(v)
		i--
		b[i] = 0xa
	}
	return len(b) - i, nil
}

var errTruncated = errors.New("payload: truncated input")

// Unmarshal decodes b into m, merging as generated code does.
func (m *Payload) Unmarshal(b []byte) error {
	for i := 0; i < len(b); {
		key, n := uvarint(b[i:])
		if n <= 0 {
			return errTruncated
		}
		i += n
		num, typ := key>>3, key&7
		switch typ {
		case 0:
			_, n := uvarint(b[i:])
			if n <= 0 {
				return errTruncated
			}
			i += n
		case 1:
			i += 8
		case 5:
			i += 4
		case 2:
			l, n := uvarint(b[i:])
			if n <= 0 || l > uint64(len(b)-i-n) {
				return errTruncated
			}
			i += n
			if num == 1 {
				m.Value = append(m.Value[:0], b[i:i+int(l)]...)
			}
			i += int(l)
		default:
			return errors.New("payload: unsupported wire type " + strconv.Itoa(int(typ)))
		}
		if i > len(b) {
			return errTruncated
		}
	}
	return nil
}

func sovPayload(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
