package ttrpc

import (
	"net"
	"syscall"
)

// fastPathConn returns conn if it is a unix or TCP socket of package net,
// nil otherwise. On these the descriptor is non-blocking, a read deadline
// interrupts a blocked read at once, and handing work between goroutines
// costs a thread wakeup: the client's direct writes and self-reading callers
// and the server's inline runs are limited to them. Only on Linux, where
// they are tested; other platforms take the portable paths.
func fastPathConn(conn net.Conn) syscall.Conn {
	switch conn := conn.(type) {
	case *net.UnixConn:
		return conn
	case *net.TCPConn:
		return conn
	}
	return nil
}
