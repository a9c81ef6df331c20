package ttrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// UnixCredentialsFunc is a Handshaker that admits a unix-socket peer only if
// the function accepts the peer's credentials (SO_PEERCRED).
type UnixCredentialsFunc func(*unix.Ucred) error

// Handshake reads the peer's credentials and runs the check. It fails closed:
// a connection that is not a unix socket, or whose credentials cannot be
// read, is refused. On success the auth info is the *unix.Ucred.
func (fn UnixCredentialsFunc) Handshake(_ context.Context, conn net.Conn) (net.Conn, interface{}, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, nil, fmt.Errorf("ttrpc: unix credentials handshake needs a unix socket, got %T: %w", conn, syscall.EPERM)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, nil, fmt.Errorf("ttrpc: reading peer credentials: %w", err)
	}
	var (
		ucred *unix.Ucred
		uerr  error
	)
	if err := raw.Control(func(fd uintptr) {
		ucred, uerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, nil, fmt.Errorf("ttrpc: reading peer credentials: %w", err)
	}
	if uerr != nil {
		return nil, nil, fmt.Errorf("ttrpc: reading peer credentials: %w", uerr)
	}
	if ucred == nil {
		return nil, nil, errors.New("ttrpc: reading peer credentials: none returned")
	}
	if err := fn(ucred); err != nil {
		return nil, nil, fmt.Errorf("ttrpc: peer credentials refused: %w", err)
	}
	return conn, ucred, nil
}

// UnixSocketRequireUidGid admits peers whose effective uid and gid match; -1
// accepts any value for that id.
func UnixSocketRequireUidGid(uid, gid int) UnixCredentialsFunc {
	return func(c *unix.Ucred) error {
		return requireUidGid(c, uid, gid)
	}
}

// UnixSocketRequireRoot admits only peers running as uid 0, gid 0.
func UnixSocketRequireRoot() UnixCredentialsFunc {
	return UnixSocketRequireUidGid(0, 0)
}

// UnixSocketRequireSameUser admits only peers with this process's effective
// uid and gid.
func UnixSocketRequireSameUser() UnixCredentialsFunc {
	uid, gid := os.Geteuid(), os.Getegid()
	return UnixSocketRequireUidGid(uid, gid)
}

func requireUidGid(c *unix.Ucred, uid, gid int) error {
	if (uid != -1 && uint32(uid) != c.Uid) || (gid != -1 && uint32(gid) != c.Gid) {
		return fmt.Errorf("ttrpc: peer uid=%d gid=%d, want uid=%d gid=%d: %w", c.Uid, c.Gid, uid, gid, syscall.EPERM)
	}
	return nil
}
