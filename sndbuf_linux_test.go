package ttrpc

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestServerSendBuffer checks that a server asks for serverSendBuffer on the
// unix socket it accepted, also when its handshaker wraps the connection.
func TestServerSendBuffer(t *testing.T) {
	checkLeaks(t)
	accepted := make(chan net.Conn, 1)
	wrap := handshakerFunc(func(_ context.Context, conn net.Conn) (net.Conn, interface{}, error) {
		accepted <- conn
		return struct{ net.Conn }{conn}, nil, nil
	})
	_, path := startServer(t, map[string]Method{"Echo": echoMethod}, WithServerHandshaker(wrap))
	c := dial(t, path)
	echo(t, c, []byte("hello")) // answered: the connection has been tuned
	raw := (<-accepted).(*net.UnixConn)

	got := sendBuffer(t, raw)
	// Linux doubles the value asked for, after capping it at wmem_max.
	want := 2 * serverSendBuffer
	if b, err := os.ReadFile("/proc/sys/net/core/wmem_max"); err == nil {
		if max, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && 2*max < want {
			want = 2 * max
		}
	}
	if got != want {
		t.Fatalf("accepted socket's SO_SNDBUF = %d, want %d", got, want)
	}
}

func sendBuffer(t *testing.T, conn *net.UnixConn) int {
	t.Helper()
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return n
}
