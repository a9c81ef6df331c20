package wire

import (
	"bytes"
	"testing"
)

func TestVarintRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1<<32 - 1, 1<<63 + 5, ^uint64(0)} {
		b := AppendVarint(nil, v)
		if len(b) != SizeVarint(v) {
			t.Fatalf("%d: %d bytes, SizeVarint says %d", v, len(b), SizeVarint(v))
		}
		got, n, err := ConsumeVarint(b)
		if err != nil || got != v || n != len(b) {
			t.Fatalf("%d: got %d, %d, %v", v, got, n, err)
		}
	}
	if _, _, err := ConsumeVarint([]byte{0x80, 0x80}); err != ErrTruncated {
		t.Fatalf("truncated varint: %v", err)
	}
	if _, _, err := ConsumeVarint(bytes.Repeat([]byte{0xff}, 11)); err != ErrOverflow {
		t.Fatalf("overlong varint: %v", err)
	}
}

func TestFields(t *testing.T) {
	b := AppendString(nil, 1, "svc")
	if want := []byte{0x0a, 0x03, 's', 'v', 'c'}; !bytes.Equal(b, want) {
		t.Fatalf("% x", b)
	}
	num, typ, n, err := ConsumeTag(b)
	if err != nil || num != 1 || typ != TypeBytes || n != 1 {
		t.Fatalf("tag %d %d %d %v", num, typ, n, err)
	}
	v, n, err := ConsumeBytes(b[1:])
	if err != nil || string(v) != "svc" || n != 4 {
		t.Fatalf("bytes %q %d %v", v, n, err)
	}
	if _, _, err := ConsumeBytes([]byte{0x05, 'a'}); err != ErrTruncated {
		t.Fatalf("short bytes: %v", err)
	}
	// A group of field 2 holding a varint, then its end key.
	group := []byte{2<<3 | TypeVarint, 0x01, 2<<3 | TypeEndGroup}
	if n, err := ConsumeFieldValue(2, TypeStartGroup, group); err != nil || n != len(group) {
		t.Fatalf("group: %d %v", n, err)
	}
	if _, err := ConsumeFieldValue(1, 7, nil); err == nil {
		t.Fatal("wire type 7 accepted")
	}
}
