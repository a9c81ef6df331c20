package bufpool

import "testing"

func TestGetSizes(t *testing.T) {
	for _, n := range []int{0, 1, 512, 512 + Slack, 512 + Slack + 1, 64 << 10, 1<<20 + 20, 4<<20 + 10} {
		p := Get(n)
		if len(*p) != n {
			t.Fatalf("Get(%d) has length %d", n, len(*p))
		}
		c := cap(*p)
		if c < n || c > 2*n+2*Slack+1024 || (n <= 256 && c > 256) {
			t.Fatalf("Get(%d) has capacity %d", n, c)
		}
		Put(p)
	}
	// Beyond the largest class: exact size, not pooled.
	big := Get(8 << 20)
	if cap(*big) != 8<<20 {
		t.Fatalf("oversized buffer capacity %d", cap(*big))
	}
	Put(big)
}

func TestPutIgnoresForeignSlices(t *testing.T) {
	odd := make([]byte, 10, 1000) // not a class capacity
	Put(&odd)
	Put(nil)
	p := Get(10)
	if cap(*p) == 1000 {
		t.Fatal("a foreign slice was handed out")
	}
}
