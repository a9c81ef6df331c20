package ttrpc

import (
	"sync/atomic"
	"time"
)

// The inline watchdog. A connection runs a quick request on the goroutine
// that read it, and so reads nothing else until the handler returns (see
// serverConn.serve). The watchdog bounds that: while inline runs happen it
// ticks every inlineTick and hands the read side of any connection whose run
// began more than inlineTick/2 ago to another goroutine. It stops ticking
// once a whole tick passes without inline runs, so an idle server has no
// timer running.

// inlineTick is the watchdog's period.
const inlineTick = time.Millisecond

// inlineWatch is the watchdog's state, part of a Server.
type inlineWatch struct {
	armed atomic.Bool
	runs  atomic.Uint64 // inline runs begun
	seen  atomic.Uint64 // runs at the last tick
	timer *time.Timer
}

// watchInline makes sure the watchdog ticks. Called at every inline run.
func (s *Server) watchInline() {
	s.inline.runs.Add(1)
	if !s.inline.armed.Load() && s.inline.armed.CompareAndSwap(false, true) {
		s.inline.timer.Reset(inlineTick)
	}
}

// checkInline is the watchdog's tick.
func (s *Server) checkInline() {
	cutoff := nanotime() - int64(inlineTick/2)
	running := false
	s.mu.Lock()
	for c := range s.conns {
		if c.rescueInline(cutoff) {
			running = true
		}
	}
	s.mu.Unlock()
	runs := s.inline.runs.Load()
	if running || runs != s.inline.seen.Swap(runs) {
		s.inline.timer.Reset(inlineTick)
		return
	}
	s.inline.armed.Store(false)
	// A run that began after the scan may have seen the watchdog armed and
	// not armed it: look once more, now that the flag is down.
	if s.inline.runs.Load() != runs && s.inline.armed.CompareAndSwap(false, true) {
		s.inline.timer.Reset(inlineTick)
	}
}

// monoStart anchors nanotime.
var monoStart = time.Now()

// nanotime is a monotonic clock reading in nanoseconds.
func nanotime() int64 { return int64(time.Since(monoStart)) }
