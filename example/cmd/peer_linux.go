package main

import "github.com/containerd/ttrpc"

// peerCheck makes the server accept only peers running as this process's
// user, read from the socket's SO_PEERCRED.
func peerCheck() []ttrpc.ServerOpt {
	return []ttrpc.ServerOpt{ttrpc.WithServerHandshaker(ttrpc.UnixSocketRequireSameUser())}
}
