package ttrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc/internal/faultconn"
	"github.com/gogo/protobuf/types"
)

// faultCase is one row of the fault matrix: a fault on one side of one
// connection, and what the calls on that connection may end with.
type faultCase struct {
	name   string
	server bool // fault on the server's end of the connection, else the client's
	cfg    faultconn.Config
	// outcome: "ok" (the fault must not fail anything), "closed" (calls end
	// with success or ErrClosed, at least one ErrClosed), "stall" (calls end
	// with success or their deadline).
	outcome string
}

const (
	faultCalls   = 6
	faultPayload = 48 << 10
	faultAt      = 120_000 // inside the third frame of either direction
)

func faultCases() []faultCase {
	var cs []faultCase
	for _, server := range []bool{false, true} {
		side := "client"
		if server {
			side = "server"
		}
		add := func(name, outcome string, cfg faultconn.Config) {
			cs = append(cs, faultCase{name: side + "/" + name, server: server, cfg: cfg, outcome: outcome})
		}
		add("short-reads-and-writes", "ok", faultconn.Config{ReadChunk: 7, WriteChunk: 3})
		add("read-error", "closed", faultconn.Config{Read: faultconn.Fault{Kind: faultconn.Error, At: faultAt}})
		add("write-error", "closed", faultconn.Config{Write: faultconn.Fault{Kind: faultconn.Error, At: faultAt}})
		add("read-close-mid-frame", "closed", faultconn.Config{Read: faultconn.Fault{Kind: faultconn.Close, At: faultAt}})
		add("write-close-mid-frame", "closed", faultconn.Config{Write: faultconn.Fault{Kind: faultconn.Close, At: faultAt}})
		add("read-close-mid-header", "closed", faultconn.Config{Read: faultconn.Fault{Kind: faultconn.Close, At: 5}})
		add("write-error-first-byte", "closed", faultconn.Config{Write: faultconn.Fault{Kind: faultconn.Error, At: 0}})
		add("read-stall", "stall", faultconn.Config{Read: faultconn.Fault{Kind: faultconn.Stall, At: faultAt}})
		add("write-stall", "stall", faultconn.Config{Write: faultconn.Fault{Kind: faultconn.Stall, At: faultAt}})
	}
	return cs
}

// TestFaultMatrix injects each fault on either side of one connection while
// another connection to the same server keeps calling. The affected calls
// must end promptly with a clear error (ErrClosed, or their own deadline when
// the peer stalls), the healthy connection must keep serving throughout, and
// nothing may leak once the clients are closed.
func TestFaultMatrix(t *testing.T) {
	var (
		mu      sync.Mutex
		summary []string
	)
	for _, fc := range faultCases() {
		fc := fc
		t.Run(fc.name, func(t *testing.T) {
			relCheckLeaks(t)
			row := runFaultCase(t, fc)
			mu.Lock()
			summary = append(summary, row)
			mu.Unlock()
		})
	}
	t.Logf("fault matrix:\n%s", strings.Join(summary, "\n"))
}

func runFaultCase(t *testing.T, fc faultCase) string {
	base, path := relUnixListener(t)
	var faulty *faultconn.Conn
	accepted := make(chan struct{}, 2)
	l := &faultconn.Listener{Listener: base, Wrap: func(n int, c net.Conn) net.Conn {
		defer func() { accepted <- struct{}{} }()
		if n == 0 && fc.server {
			faulty = faultconn.Wrap(c, fc.cfg)
			return faulty
		}
		return c
	}}
	s := relServe(t, l, map[string]Method{"Echo": relEcho})

	// The faulty connection is dialed, and accepted, first.
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	relWait(t, accepted, 10*time.Second, "accept")
	if !fc.server {
		faulty = faultconn.Wrap(conn, fc.cfg)
		conn = faulty
	}
	victim := NewClient(conn)
	defer victim.Close()

	hconn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	relWait(t, accepted, 10*time.Second, "accept")
	healthy := NewClient(hconn)
	defer healthy.Close()

	// The victim's calls, all at once.
	deadline := 20 * time.Second
	if fc.outcome == "stall" {
		deadline = 300 * time.Millisecond
	}
	type result struct {
		err     error
		ok      bool
		elapsed time.Duration
	}
	results := make(chan result, faultCalls)
	for i := 0; i < faultCalls; i++ {
		go func(i int) {
			payload := bytes.Repeat([]byte{byte('a' + i)}, faultPayload)
			start := time.Now()
			got, err := relCall(victim, payload, deadline)
			results <- result{err: err, ok: err == nil && bytes.Equal(got, payload), elapsed: time.Since(start)}
		}(i)
	}

	// The healthy connection serves while the victim suffers.
	if fc.outcome == "stall" {
		relWait(t, faulty.Stalled(), 10*time.Second, "the stall to begin")
	}
	for i := 0; i < 3; i++ {
		if got, err := relCall(healthy, []byte("healthy"), 10*time.Second); err != nil || string(got) != "healthy" {
			t.Fatalf("healthy connection during the fault: %q, %v", got, err)
		}
	}

	var nOK, nClosed, nDeadline int
	var slowest time.Duration
	bound := 5 * time.Second
	for i := 0; i < faultCalls; i++ {
		var r result
		select {
		case r = <-results:
		case <-time.After(deadline + bound):
			t.Fatalf("a call on the faulty connection hung\n%s", fzStacks())
		}
		if r.elapsed > slowest {
			slowest = r.elapsed
		}
		switch {
		case r.ok:
			nOK++
		case fc.outcome == "closed" && r.err == ErrClosed:
			nClosed++
		case fc.outcome == "stall" && errors.Is(r.err, context.DeadlineExceeded):
			nDeadline++
		default:
			t.Errorf("call ended with %v (ok=%v), not a %s outcome", r.err, r.ok, fc.outcome)
		}
	}
	switch fc.outcome {
	case "ok":
		if nOK != faultCalls {
			t.Errorf("%d of %d calls succeeded through a harmless fault", nOK, faultCalls)
		}
	case "closed":
		if nClosed == 0 {
			t.Errorf("no call failed with ErrClosed")
		}
		if slowest > bound {
			t.Errorf("slowest call took %v to fail", slowest)
		}
		// Later calls on the broken client fail at once.
		start := time.Now()
		if _, err := relCall(victim, []byte("later"), 10*time.Second); err != ErrClosed {
			t.Errorf("call after the fault: %v, want ErrClosed", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("call after the fault took %v", d)
		}
	case "stall":
		if nDeadline == 0 {
			t.Errorf("no call hit its deadline on a stalled connection")
		}
		if slowest > deadline+bound {
			t.Errorf("slowest call took %v with a %v deadline", slowest, deadline)
		}
	}

	// And after it.
	if got, err := relCall(healthy, []byte("after"), 10*time.Second); err != nil || string(got) != "after" {
		t.Fatalf("healthy connection after the fault: %q, %v", got, err)
	}
	victim.Close()
	if fc.outcome == "stall" {
		// The network recovers: what the stalled side had not yet read
		// arrives, then the end of the stream.
		faulty.Release()
	}
	if fc.outcome != "ok" {
		// The server lets go of the victim's connection; the healthy one
		// stays.
		relWaitConns(t, s, 1, 10*time.Second)
	}
	healthy.Close()
	relWaitConns(t, s, 0, 10*time.Second)
	return fmt.Sprintf("  %-36s ok=%d closed=%d deadline=%d slowest=%v healthy=served", fc.name, nOK, nClosed, nDeadline, slowest.Round(time.Millisecond))
}

// TestFaultClientWriteStallCancel: a call whose request is stuck in a
// blocked socket write returns as soon as its context ends (SPEC §6.7), other
// calls queued behind it too, and Close releases the sender.
func TestFaultClientWriteStallCancel(t *testing.T) {
	relCheckLeaks(t)
	l, path := relUnixListener(t)
	relServe(t, l, map[string]Method{"Echo": relEcho})
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	fc := faultconn.Wrap(conn, faultconn.Config{Write: faultconn.Fault{Kind: faultconn.Stall, At: 20}})
	c := NewClient(fc)
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			errs <- c.Call(ctx, relService, "Echo", &types.BytesValue{Value: make([]byte, 1000)}, &types.BytesValue{})
		}()
	}
	relWait(t, fc.Stalled(), 10*time.Second, "the write to stall")
	cancel()
	for i := 0; i < 4; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("call %d: %v, want context.Canceled", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a cancelled call stayed stuck behind a blocked write")
		}
	}
}
