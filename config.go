package ttrpc

import (
	"errors"
	"time"
)

type serverConfig struct {
	handshaker       Handshaker
	interceptor      UnaryServerInterceptor
	handshakeTimeout time.Duration
}

// ServerOpt configures a Server in NewServer.
type ServerOpt func(*serverConfig) error

// WithServerHandshaker makes the server run handshaker on every accepted
// connection. It may be given once.
func WithServerHandshaker(handshaker Handshaker) ServerOpt {
	return func(c *serverConfig) error {
		if c.handshaker != nil {
			return errors.New("ttrpc: only one handshaker allowed per server")
		}
		c.handshaker = handshaker
		return nil
	}
}

// WithUnaryServerInterceptor makes the server run i around every method. It
// may be given once.
func WithUnaryServerInterceptor(i UnaryServerInterceptor) ServerOpt {
	return func(c *serverConfig) error {
		if c.interceptor != nil {
			return errors.New("ttrpc: only one unary server interceptor allowed per server")
		}
		c.interceptor = i
		return nil
	}
}

// WithServerHandshakeTimeout bounds the handshake of every accepted
// connection: a peer whose handshake has not finished within d is dropped
// (its connection closed and the handshaker's context cancelled). d <= 0
// means no limit, the default: the built-in handshakers never wait on the
// peer, the established library has no such limit, and a custom handshaker
// that needs one can now ask for it. Handshakes run off the accept loop, so
// even without a limit a stalled peer delays no other client.
func WithServerHandshakeTimeout(d time.Duration) ServerOpt {
	return func(c *serverConfig) error {
		c.handshakeTimeout = d
		return nil
	}
}
