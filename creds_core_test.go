//go:build linux

package ttrpc

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gogo/protobuf/types"
	"golang.org/x/sys/unix"
)

// TestPeerCredentialsAccepted: a same-user peer passes and the handshake
// reports its credentials.
func TestPeerCredentialsAccepted(t *testing.T) {
	checkLeaks(t)
	_, path := startServer(t, map[string]Method{"Echo": echoMethod}, WithServerHandshaker(UnixSocketRequireSameUser()))
	c := dial(t, path)
	echo(t, c, []byte("same user"))

	// The handshake itself, on a real socket pair.
	l, err := net.Listen("unix", t.TempDir()+"/h.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if conn, err := net.Dial("unix", l.Addr().String()); err == nil {
			defer conn.Close()
			var b [1]byte
			conn.Read(b[:])
		}
	}()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, info, err := UnixSocketRequireUidGid(os.Geteuid(), -1).Handshake(context.Background(), conn)
	if err != nil || got != conn {
		t.Fatalf("handshake: %v", err)
	}
	ucred, ok := info.(*unix.Ucred)
	if !ok || int(ucred.Pid) != os.Getpid() || int(ucred.Uid) != os.Geteuid() {
		t.Fatalf("auth info %#v", info)
	}
	if _, _, err := UnixSocketRequireUidGid(os.Geteuid()+1, -1).Handshake(context.Background(), conn); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("wrong uid accepted or error %v does not wrap EPERM", err)
	}
	if _, _, err := UnixSocketRequireUidGid(-1, os.Getegid()+1).Handshake(context.Background(), conn); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("wrong gid accepted or error %v does not wrap EPERM", err)
	}
	wantRoot := os.Geteuid() == 0 && os.Getegid() == 0
	if _, _, err := UnixSocketRequireRoot().Handshake(context.Background(), conn); (err == nil) != wantRoot {
		t.Fatalf("RequireRoot: %v (running as %d/%d)", err, os.Geteuid(), os.Getegid())
	}
}

// TestPeerCredentialsRefused: a refused peer's calls fail with ErrClosed and
// the server keeps serving the next peer.
func TestPeerCredentialsRefused(t *testing.T) {
	checkLeaks(t)
	var seen atomic.Int32
	refuseFirst := UnixCredentialsFunc(func(u *unix.Ucred) error {
		if seen.Add(1) == 1 {
			return UnixSocketRequireUidGid(int(u.Uid)+1, -1)(u)
		}
		return nil
	})
	_, path := startServer(t, map[string]Method{"Echo": echoMethod}, WithServerHandshaker(refuseFirst))
	refused := dial(t, path)
	err := refused.Call(testCtx(t), testService, "Echo", &types.BytesValue{}, &types.BytesValue{})
	if err != ErrClosed {
		t.Fatalf("refused peer got %v, want ErrClosed", err)
	}
	accepted := dial(t, path)
	echo(t, accepted, []byte("second peer"))
}

// TestPeerCredentialsNeedUnixSocket: any other connection is refused with an
// error, never passed through.
func TestPeerCredentialsNeedUnixSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	conn, _, err := UnixSocketRequireSameUser().Handshake(context.Background(), a)
	if err == nil || conn != nil {
		t.Fatalf("pipe passed the unix credentials handshake: %v", err)
	}
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("error %v does not wrap EPERM", err)
	}
}

// TestPeerCredentialsUnreadable (SPEC §6.10): when the credentials cannot be
// read the handshake fails and returns no connection.
func TestPeerCredentialsUnreadable(t *testing.T) {
	l, err := net.Listen("unix", t.TempDir()+"/c.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn.Close() // the descriptor is gone: SO_PEERCRED cannot be read
	got, info, err := UnixSocketRequireSameUser().Handshake(context.Background(), conn)
	if err == nil || got != nil || info != nil {
		t.Fatalf("handshake on an unreadable socket: conn %v, info %v, err %v", got, info, err)
	}
}
