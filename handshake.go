package ttrpc

import (
	"context"
	"net"
)

// Handshaker runs on every connection a server accepts, before any request is
// read. It may authenticate the peer or wrap the connection; the connection it
// returns is the one the server uses, and an error refuses the peer.
type Handshaker interface {
	Handshake(ctx context.Context, conn net.Conn) (net.Conn, interface{}, error)
}

// handshakerFunc adapts a function to Handshaker.
type handshakerFunc func(ctx context.Context, conn net.Conn) (net.Conn, interface{}, error)

func (fn handshakerFunc) Handshake(ctx context.Context, conn net.Conn) (net.Conn, interface{}, error) {
	return fn(ctx, conn)
}

func noopHandshake(_ context.Context, conn net.Conn) (net.Conn, interface{}, error) {
	return conn, nil, nil
}
