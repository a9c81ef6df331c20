package ttrpc

import (
	"errors"
)

type serverConfig struct {
	handshaker  Handshaker
	interceptor UnaryServerInterceptor
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
