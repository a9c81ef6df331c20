// Package bufpool keeps byte slices for frames in size classes, so that a
// connection moving 1 KiB messages never holds a 4 MiB block and a burst of
// large messages is given back to the runtime once the pools are drained by
// the garbage collector (sync.Pool drops idle entries after two cycles).
package bufpool

import "sync"

// Slack is added to every class so that a payload of exactly 2^k bytes plus
// a frame header and a small envelope still fits the 2^k class.
const Slack = 1024

const (
	minShift = 9  // 512 B
	maxShift = 22 // 4 MiB
)

var pools [maxShift - minShift + 1]sync.Pool

// Small buffers have classes of their own, without slack: a stream of tiny
// messages queued for a slow reader should cost tens of bytes a message,
// not a 1.5 KiB buffer each.
var smallSizes = [...]int{64, 256}

var smallPools [len(smallSizes)]sync.Pool

func class(n int) int {
	for i := 0; i <= maxShift-minShift; i++ {
		if n <= 1<<(minShift+i)+Slack {
			return i
		}
	}
	return -1
}

// Get returns a slice of length n. Its capacity is that of n's size class,
// or exactly n for sizes beyond the largest class.
func Get(n int) *[]byte {
	for i, size := range smallSizes {
		if n <= size {
			if v := smallPools[i].Get(); v != nil {
				p := v.(*[]byte)
				*p = (*p)[:n]
				return p
			}
			b := make([]byte, n, size)
			return &b
		}
	}
	c := class(n)
	if c < 0 {
		b := make([]byte, n)
		return &b
	}
	if v := pools[c].Get(); v != nil {
		p := v.(*[]byte)
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, 1<<(minShift+c)+Slack)
	return &b
}

// Put gives p back for reuse. Slices that do not have the exact capacity of
// a class (grown by append, or oversized) are left to the garbage collector.
func Put(p *[]byte) {
	if p == nil {
		return
	}
	for i, size := range smallSizes {
		if cap(*p) == size {
			*p = (*p)[:0]
			smallPools[i].Put(p)
			return
		}
	}
	c := class(cap(*p))
	if c < 0 || cap(*p) != 1<<(minShift+c)+Slack {
		return
	}
	*p = (*p)[:0]
	pools[c].Put(p)
}
