package ttrpc

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gogo/protobuf/types"
	"golang.org/x/sys/unix"
)

// TestServerSendBuffer checks that a server leaves the send buffer of a
// unix socket that carries unary calls alone, and asks for streamSendBuffer
// once the first server stream opens on it, also when its handshaker wraps
// the connection.
func TestServerSendBuffer(t *testing.T) {
	checkLeaks(t)
	accepted := make(chan net.Conn, 1)
	wrap := handshakerFunc(func(_ context.Context, conn net.Conn) (net.Conn, interface{}, error) {
		accepted <- conn
		return struct{ net.Conn }{conn}, nil, nil
	})
	_, _, path := startStreamServer(t, WithServerHandshaker(wrap))
	c := dial(t, path)
	echo(t, c, []byte("hello"))
	raw := (<-accepted).(*net.UnixConn)
	unary := sendBuffer(t, raw)

	// Linux doubles the value asked for, after capping it at wmem_max.
	want := 2 * streamSendBuffer
	if b, err := os.ReadFile("/proc/sys/net/core/wmem_max"); err == nil {
		if max, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && 2*max < want {
			want = 2 * max
		}
	}
	if unary >= want {
		// The kernel's default is already as large (net.core.wmem_default
		// raised): growing it cannot be seen here.
		t.Skipf("the default SO_SNDBUF, %d, is not below what a stream asks for (%d)", unary, want)
	}
	if def, err := os.ReadFile("/proc/sys/net/core/wmem_default"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(def))); err == nil && unary != n {
			t.Fatalf("SO_SNDBUF is %d after unary calls alone, want the default %d: changed before any stream", unary, n)
		}
	}

	s, err := c.NewStream(testCtx(t), serverStreamDesc, testService, "Download", &types.StringValue{Value: "3 10"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		var m types.BytesValue
		if err := s.RecvMsg(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if got := sendBuffer(t, raw); got != want {
		t.Fatalf("SO_SNDBUF = %d after a server stream, want %d (was %d)", got, want, unary)
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
