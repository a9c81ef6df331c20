//go:build !linux

package ttrpc

import (
	"net"
	"syscall"
)

// fastPathConn is nil on every connection here: the socket fast paths exist
// only on Linux (see fastpath_linux.go).
func fastPathConn(conn net.Conn) syscall.Conn { return nil }

// growSendBuffer leaves the kernel's socket buffers alone here (see
// fastpath_linux.go).
func growSendBuffer(conn net.Conn) {}
