package ttrpc_test

import (
	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"
)

// The unix credential handshakers exist on Linux only, as in the
// established library.
var (
	_ ttrpc.Handshaker                         = ttrpc.UnixCredentialsFunc(nil)
	_ ttrpc.UnixCredentialsFunc                = func(*unix.Ucred) error { return nil }
	_ func(int, int) ttrpc.UnixCredentialsFunc = ttrpc.UnixSocketRequireUidGid
	_ func() ttrpc.UnixCredentialsFunc         = ttrpc.UnixSocketRequireRoot
	_ func() ttrpc.UnixCredentialsFunc         = ttrpc.UnixSocketRequireSameUser
)
