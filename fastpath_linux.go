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

// streamSendBuffer is what a server asks of the kernel for an accepted
// unix socket's send buffer, in bytes, once the connection carries a
// server-streaming stream (SO_SNDBUF; Linux doubles the value for its
// bookkeeping after capping it at net.core.wmem_max, so a stock wmem_max of
// 212992 gives 416 KiB, most of a window). The default, about 208 KiB,
// holds less than one stream's window (defaultWindow): a server streaming to
// a client that reads as fast as it can then fills the socket, waits for it
// to drain, and is woken by the client's reads, a thread switch on both
// sides every ~150 KiB. With room for a whole window, the server's writes go
// straight in and only the client's window grants wake it: one server stream
// of 1 KiB messages between two processes went from ~1,300 to ~1,170 ns per
// message (benchmarks/README.md, Streams). Connections that carry only unary
// calls keep the default: with 8 concurrent 1 MiB calls the larger buffer
// measured ~10 % slower. It is a limit, not an allocation: the kernel holds
// only what the client has not read yet. TCP sockets keep the kernel's
// autotuning, which a fixed size would turn off.
const streamSendBuffer = 256 << 10

// growSendBuffer sets the send buffer of an accepted unix socket for
// streaming (see streamSendBuffer). A refusal leaves the kernel's default,
// which works, only slower.
func growSendBuffer(conn net.Conn) {
	if u, ok := conn.(*net.UnixConn); ok {
		_ = u.SetWriteBuffer(streamSendBuffer)
	}
}
