//go:build !linux

package main

import "github.com/containerd/ttrpc"

// peerCheck adds no peer check: ttrpc's credential handshakers read
// SO_PEERCRED, which only Linux has. Here the example relies on the socket
// file's permissions instead: it lives in a directory only this user can
// enter.
func peerCheck() []ttrpc.ServerOpt { return nil }
