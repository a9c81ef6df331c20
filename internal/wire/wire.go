// Package wire holds the few protobuf wire-format primitives that the
// hand-written codecs of the ttrpc envelope need: varints, tags and skipping
// unknown fields. It knows nothing about messages.
package wire

import "errors"

// Wire types of the protobuf encoding.
const (
	TypeVarint     = 0
	TypeFixed64    = 1
	TypeBytes      = 2
	TypeStartGroup = 3
	TypeEndGroup   = 4
	TypeFixed32    = 5
)

// Errors returned when input is not valid protobuf.
var (
	ErrTruncated = errors.New("proto: unexpected end of input")
	ErrOverflow  = errors.New("proto: varint overflows 64 bits")
	ErrFieldNum  = errors.New("proto: invalid field number")
	ErrWireType  = errors.New("proto: invalid wire type")
	ErrGroup     = errors.New("proto: mismatched group end")
	ErrLength    = errors.New("proto: invalid length")
)

// SizeVarint reports how many bytes v takes as a varint.
func SizeVarint(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// AppendVarint appends v as a varint.
func AppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendTag appends the key of field num with wire type typ.
func AppendTag(b []byte, num int, typ int) []byte {
	return AppendVarint(b, uint64(num)<<3|uint64(typ))
}

// AppendBytes appends field num as a length-delimited field holding v.
func AppendBytes(b []byte, num int, v []byte) []byte {
	b = AppendTag(b, num, TypeBytes)
	b = AppendVarint(b, uint64(len(v)))
	return append(b, v...)
}

// AppendString appends field num as a length-delimited field holding s.
func AppendString(b []byte, num int, s string) []byte {
	b = AppendTag(b, num, TypeBytes)
	b = AppendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// SizeBytes reports the encoded size of a length-delimited field of n bytes
// whose field number fits in one tag byte (1..15).
func SizeBytes(n int) int {
	return 1 + SizeVarint(uint64(n)) + n
}

// ConsumeVarint decodes a varint at the start of b and reports its length.
func ConsumeVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, 0, ErrOverflow
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return v, i + 1, nil
		}
	}
	if len(b) >= 10 {
		return 0, 0, ErrOverflow
	}
	return 0, 0, ErrTruncated
}

// ConsumeTag decodes a field key and checks the field number.
func ConsumeTag(b []byte) (num int, typ int, n int, err error) {
	v, n, err := ConsumeVarint(b)
	if err != nil {
		return 0, 0, 0, err
	}
	num64 := v >> 3
	if num64 == 0 || num64 > 1<<29-1 {
		return 0, 0, 0, ErrFieldNum
	}
	return int(num64), int(v & 7), n, nil
}

// ConsumeBytes decodes the length prefix of a length-delimited value at the
// start of b and returns the value (aliasing b) and the bytes consumed.
func ConsumeBytes(b []byte) ([]byte, int, error) {
	l, n, err := ConsumeVarint(b)
	if err != nil {
		return nil, 0, err
	}
	if l > uint64(len(b)-n) {
		return nil, 0, ErrTruncated
	}
	end := n + int(l)
	return b[n:end:end], end, nil
}

// ConsumeFieldValue skips the value of a field of wire type typ (whose key
// has already been consumed) and reports how many bytes it took.
func ConsumeFieldValue(num, typ int, b []byte) (int, error) {
	return consumeFieldValue(num, typ, b, 0)
}

const maxGroupDepth = 100

func consumeFieldValue(num, typ int, b []byte, depth int) (int, error) {
	switch typ {
	case TypeVarint:
		_, n, err := ConsumeVarint(b)
		return n, err
	case TypeFixed64:
		if len(b) < 8 {
			return 0, ErrTruncated
		}
		return 8, nil
	case TypeFixed32:
		if len(b) < 4 {
			return 0, ErrTruncated
		}
		return 4, nil
	case TypeBytes:
		_, n, err := ConsumeBytes(b)
		return n, err
	case TypeStartGroup:
		if depth > maxGroupDepth {
			return 0, ErrGroup
		}
		off := 0
		for {
			fnum, ftyp, n, err := ConsumeTag(b[off:])
			if err != nil {
				return 0, err
			}
			off += n
			if ftyp == TypeEndGroup {
				if fnum != num {
					return 0, ErrGroup
				}
				return off, nil
			}
			n, err = consumeFieldValue(fnum, ftyp, b[off:], depth+1)
			if err != nil {
				return 0, err
			}
			off += n
		}
	case TypeEndGroup:
		return 0, ErrGroup
	default:
		return 0, ErrWireType
	}
}
