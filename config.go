package ttrpc

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
)

type serverConfig struct {
	handshaker           Handshaker
	interceptor          UnaryServerInterceptor
	unaryChain           []UnaryServerInterceptor
	streamInterceptor    StreamServerInterceptor
	streamChain          []StreamServerInterceptor
	handshakeTimeout     time.Duration
	streamBuffer         int
	streamBufferSet      bool
	unknownMethodCode    codes.Code
	unknownMethodCodeSet bool
	foldChains           func(*Server) // set by the chain options; see foldServerChains
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

// WithUnaryServerInterceptor makes the server run i around every unary
// method. It may be given once; it is the outermost interceptor, around any
// installed with WithChainUnaryServerInterceptor.
func WithUnaryServerInterceptor(i UnaryServerInterceptor) ServerOpt {
	return func(c *serverConfig) error {
		if c.interceptor != nil {
			return errors.New("ttrpc: only one unary server interceptor allowed per server")
		}
		c.interceptor = i
		return nil
	}
}

// WithChainUnaryServerInterceptor makes the server run interceptors around
// every unary method, the first outermost. Several of these options add up,
// in the order given.
func WithChainUnaryServerInterceptor(interceptors ...UnaryServerInterceptor) ServerOpt {
	return func(c *serverConfig) error {
		c.unaryChain = append(c.unaryChain, interceptors...)
		c.foldChains = foldServerChains
		return nil
	}
}

// WithStreamServerInterceptor makes the server run i around every stream
// handler. It may be given once; it is the outermost interceptor, around any
// installed with WithChainStreamServerInterceptor. (The established 1.2 line
// has the StreamServerInterceptor type but no option to install one.)
func WithStreamServerInterceptor(i StreamServerInterceptor) ServerOpt {
	return func(c *serverConfig) error {
		if c.streamInterceptor != nil {
			return errors.New("ttrpc: only one stream server interceptor allowed per server")
		}
		c.streamInterceptor = i
		return nil
	}
}

// WithChainStreamServerInterceptor makes the server run interceptors around
// every stream handler, the first outermost.
func WithChainStreamServerInterceptor(interceptors ...StreamServerInterceptor) ServerOpt {
	return func(c *serverConfig) error {
		c.streamChain = append(c.streamChain, interceptors...)
		c.foldChains = foldServerChains
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

// WithServerStreamBuffer sets how many bytes of received stream messages a
// connection may hold for handlers that read slowly, beyond what per-stream
// flow control already bounds (default 16 MiB). Clients of the established
// library send without flow control; when their unread messages exceed this,
// the server stops reading that connection, and so delays its other calls,
// until the handlers catch up. bytes <= 0 means no limit.
func WithServerStreamBuffer(bytes int) ServerOpt {
	return func(c *serverConfig) error {
		c.streamBuffer, c.streamBufferSet = bytes, true
		return nil
	}
}

// WithUnknownMethodCode sets the status code the server answers for a
// service or method that is not registered. The default is
// codes.Unimplemented, what the established 1.1 and later lines answer and
// what containerd's errdefs turns into ErrNotImplemented; the 1.0 line
// answered codes.NotFound. Only those two are accepted.
func WithUnknownMethodCode(code codes.Code) ServerOpt {
	return func(c *serverConfig) error {
		if code != codes.Unimplemented && code != codes.NotFound {
			return fmt.Errorf("ttrpc: unknown-method code must be Unimplemented or NotFound, not %v", code)
		}
		c.unknownMethodCode, c.unknownMethodCodeSet = code, true
		return nil
	}
}
