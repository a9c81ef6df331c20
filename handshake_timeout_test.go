package ttrpc

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// helloHandshaker waits for the peer to send one byte before serving it: the
// kind of custom handshaker a silent peer can stall.
type helloHandshaker struct{}

func (helloHandshaker) Handshake(ctx context.Context, conn net.Conn) (net.Conn, interface{}, error) {
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return nil, nil, err
	}
	return conn, nil, nil
}

// dialHello connects and completes the hello handshake.
func dialHello(t *testing.T, path string) *Client {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

// waitPeerDropped waits until the server closes conn (a read returns EOF).
func waitPeerDropped(t *testing.T, conn net.Conn, bound time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(bound))
	var b [1]byte
	if _, err := conn.Read(b[:]); err != io.EOF {
		t.Fatalf("silent peer: read returned %v, want EOF (dropped by the server)", err)
	}
}

// A peer that never finishes its handshake must not stop the server from
// accepting and serving others (SPEC §6.11), and Close must release it.
func TestHandshakeStallDoesNotBlockOthers(t *testing.T) {
	relCheckLeaks(t)
	l, path := relUnixListener(t)
	s := relServe(t, l, map[string]Method{"Echo": relEcho}, WithServerHandshaker(helloHandshaker{}))

	var silent []net.Conn
	for i := 0; i < 8; i++ {
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		silent = append(silent, conn)
	}
	for i := 0; i < 4; i++ {
		c := dialHello(t, path)
		if got, err := relCall(c, []byte("x"), 10*time.Second); err != nil || string(got) != "x" {
			t.Fatalf("client %d behind stalled handshakes: %q, %v", i, got, err)
		}
	}
	if n := s.relConnCount(); n != 12 {
		t.Fatalf("server holds %d connections, want 8 pending + 4 served", n)
	}
	s.Close()
	for _, conn := range silent {
		waitPeerDropped(t, conn, 10*time.Second)
	}
	relWaitConns(t, s, 0, 10*time.Second)
}

// WithServerHandshakeTimeout drops a silent peer, whatever the handshaker
// blocks on: a read of the connection, its context, or neither.
func TestHandshakeTimeoutDropsSilentPeer(t *testing.T) {
	const timeout = 200 * time.Millisecond
	release := make(chan struct{})
	handshakers := map[string]Handshaker{
		"reads the conn": helloHandshaker{},
		"waits on ctx": handshakerFunc(func(ctx context.Context, conn net.Conn) (net.Conn, interface{}, error) {
			<-ctx.Done()
			return nil, nil, ctx.Err()
		}),
		// Ignores ctx and conn, and answers "ok" late: the server must not
		// serve the connection anyway.
		"late success": handshakerFunc(func(ctx context.Context, conn net.Conn) (net.Conn, interface{}, error) {
			select {
			case <-release:
			case <-ctx.Done():
				<-release
			}
			return conn, nil, nil
		}),
	}
	for _, name := range []string{"reads the conn", "waits on ctx", "late success"} {
		h := handshakers[name]
		t.Run(name, func(t *testing.T) {
			relCheckLeaks(t)
			l, path := relUnixListener(t)
			var good *Client
			if name == "reads the conn" {
				// Only this handshaker lets a well-behaved peer in.
				relServe(t, l, map[string]Method{"Echo": relEcho}, WithServerHandshaker(h), WithServerHandshakeTimeout(timeout))
				good = dialHello(t, path)
				if _, err := relCall(good, []byte("a"), 10*time.Second); err != nil {
					t.Fatal(err)
				}
			} else {
				relServe(t, l, map[string]Method{"Echo": relEcho}, WithServerHandshaker(h), WithServerHandshakeTimeout(timeout))
			}
			conn, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			waitPeerDropped(t, conn, 10*time.Second)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("silent peer dropped after %v, timeout %v", d, timeout)
			}
			if good != nil {
				// The deadline of a finished handshake does not linger: the
				// good client outlived the silent peer's deadline.
				if got, err := relCall(good, []byte("b"), 10*time.Second); err != nil || string(got) != "b" {
					t.Fatalf("client after its handshake deadline passed: %q, %v", got, err)
				}
			}
			if name == "late success" {
				close(release) // let the stuck handshaker return
			}
		})
	}
}

// Without the option there is no handshake deadline (the default, as in the
// established library), and NewServer accepts a zero or negative value.
func TestHandshakeTimeoutOptionValues(t *testing.T) {
	for _, d := range []time.Duration{0, -1, time.Minute} {
		if _, err := NewServer(WithServerHandshakeTimeout(d)); err != nil {
			t.Fatalf("WithServerHandshakeTimeout(%v): %v", d, err)
		}
	}
}
