package ttrpc

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
)

// ErrServerClosed is returned by Serve once Shutdown or Close has been called.
var ErrServerClosed = errors.New("ttrpc: server closed")

// Server serves registered services on any number of listeners. Register
// services first (Register, RegisterService, or generated Register…Service
// functions), then call Serve for each listener. Requests run concurrently
// and may complete in any order. Shutdown stops the server gracefully, Close
// at once; either makes every Serve return ErrServerClosed.
//
// How a connection is served is in server_conn.go (reading, unary calls) and
// server_stream.go (streams).
type Server struct {
	config   serverConfig
	services serviceSet

	// The interceptor chains, folded from config by NewServer.
	unaryInterceptor  UnaryServerInterceptor
	streamInterceptor StreamServerInterceptor

	// The stream machinery (server_stream.go), installed by the first
	// RegisterService with streams. Reaching it only through these
	// function values keeps it out of programs that register none, such
	// as every program written for the 1.0 API.
	streams atomic.Pointer[streamOps]

	mu        sync.Mutex
	closing   bool
	done      chan struct{} // closed when Shutdown or Close begins
	listeners map[net.Listener]struct{}
	pending   map[net.Conn]struct{} // accepted, handshake not finished
	conns     map[*serverConn]struct{}

	inline inlineWatch
}

// NewServer returns a server configured by opts.
func NewServer(opts ...ServerOpt) (*Server, error) {
	s := &Server{
		done:      make(chan struct{}),
		listeners: make(map[net.Listener]struct{}),
		pending:   make(map[net.Conn]struct{}),
		conns:     make(map[*serverConn]struct{}),
	}
	s.inline.timer = time.AfterFunc(time.Hour, s.checkInline)
	s.inline.timer.Stop()
	for _, opt := range opts {
		if err := opt(&s.config); err != nil {
			return nil, err
		}
	}
	if s.config.handshaker == nil {
		s.config.handshaker = handshakerFunc(noopHandshake)
	}
	if !s.config.streamBufferSet {
		s.config.streamBuffer = defaultStreamBuffer
	}
	if !s.config.unknownMethodCodeSet {
		s.config.unknownMethodCode = codes.Unimplemented
	}
	s.unaryInterceptor = s.config.interceptor
	s.streamInterceptor = s.config.streamInterceptor
	if s.config.foldChains != nil {
		s.config.foldChains(s)
	}
	return s, nil
}

// Register adds a service of unary methods; it is RegisterService with a
// ServiceDesc of just Methods. It panics if name is already registered or a
// Method is nil.
func (s *Server) Register(name string, methods map[string]Method) {
	s.services.register(name, &ServiceDesc{Methods: methods})
}

// RegisterService adds a service: its unary methods and its streams. It
// panics if name is already registered, if desc is nil, if a Method or a
// Stream's Handler is nil, or if a name is both a Method and a Stream:
// mistakes that would otherwise surface only at a call.
func (s *Server) RegisterService(name string, desc *ServiceDesc) {
	// The stream machinery goes in first: a connection that finds a
	// stream in the registry must find the machinery too.
	if desc != nil && len(desc.Streams) > 0 && s.streams.Load() == nil {
		s.streams.CompareAndSwap(nil, &streamOps{
			start:  (*serverConn).startStream,
			data:   (*serverConn).deliverData,
			window: (*serverConn).deliverWindow,
			reset:  (*serverConn).resetStream,
			failed: (*serverConn).streamFailed,
		})
	}
	s.services.register(name, desc)
}

// unknownCode is the status code for a service or method not registered.
func (s *Server) unknownCode() codes.Code { return s.config.unknownMethodCode }

// Serve accepts connections on l until the server is shut down or l fails,
// and closes l when it returns. Each connection is first handed to the
// handshaker (WithServerHandshaker), off the accept loop; a refused one is
// closed, which its client sees as ErrClosed. ctx is the parent of every
// request's context, but Serve does not return when ctx ends: call Shutdown
// or Close. After those it returns ErrServerClosed; a failing listener's
// error is returned as is, and temporary Accept errors are retried with a
// backoff of up to 1 s.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if !s.addListener(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.removeListener(l)

	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = nextBackoff(backoff)
				log.Printf("ttrpc: accept failed, retrying in %v: %v", backoff, err)
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-s.done:
					t.Stop()
				}
				continue
			}
			return err
		}
		backoff = 0
		if !s.addPending(conn) {
			conn.Close()
			return ErrServerClosed
		}
		go s.handleConn(ctx, conn)
	}
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	d *= 2
	if d > time.Second {
		d = time.Second
	}
	return d
}

// handleConn runs the handshake and then serves the connection. The handshake
// happens here, off the accept loop, so a stalled peer delays no one else.
func (s *Server) handleConn(ctx context.Context, raw net.Conn) {
	conn, _, err := s.handshake(ctx, raw)
	if err != nil || conn == nil {
		s.removePending(raw)
		raw.Close()
		if err == nil {
			err = errors.New("handshaker returned no connection")
		}
		log.Printf("ttrpc: refused connection: %v", err)
		return
	}
	sc := newServerConn(ctx, s, conn)
	sc.sock = raw
	if !s.promote(raw, sc) {
		conn.Close()
		raw.Close()
		return
	}
	sc.serve()
}

// handshake runs the handshaker, bounded by the handshake timeout if one is
// set: when it expires the raw connection is closed, which unblocks a
// handshaker stuck reading or writing, and its context is cancelled.
func (s *Server) handshake(ctx context.Context, raw net.Conn) (net.Conn, interface{}, error) {
	d := s.config.handshakeTimeout
	if d <= 0 {
		return s.config.handshaker.Handshake(ctx, raw)
	}
	hctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	timer := time.AfterFunc(d, func() { raw.Close() })
	conn, info, err := s.config.handshaker.Handshake(hctx, raw)
	if !timer.Stop() {
		// The deadline fired: raw is closed whatever the handshaker said.
		if conn != nil && conn != raw {
			conn.Close()
		}
		if err == nil {
			err = fmt.Errorf("ttrpc: handshake did not finish within %v", d)
		}
		return nil, nil, err
	}
	return conn, info, err
}

// Shutdown stops accepting connections, lets every request that was read
// finish and deliver its reply, and closes each connection once it is idle.
// Requests arriving meanwhile are answered UNAVAILABLE without being run. It
// returns ctx.Err() if ctx ends first; connections still busy stay open
// until their requests finish or Close is called.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.beginClosing()
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.beginShutdown()
	}
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops accepting connections and closes every connection now; running
// handlers see their context cancelled and their replies are lost.
func (s *Server) Close() error {
	s.mu.Lock()
	s.beginClosing()
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return nil
}

// beginClosing marks the server closing and closes its listeners and the
// connections still in their handshake. s.mu must be held.
func (s *Server) beginClosing() {
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	for l := range s.listeners {
		l.Close()
		delete(s.listeners, l)
	}
	for c := range s.pending {
		c.Close()
		delete(s.pending, c)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) addListener(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) removeListener(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
}

func (s *Server) addPending(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.pending[c] = struct{}{}
	return true
}

func (s *Server) removePending(c net.Conn) {
	s.mu.Lock()
	delete(s.pending, c)
	s.mu.Unlock()
}

// promote moves a handshaked connection from pending to served. It fails if
// the server began closing meanwhile.
func (s *Server) promote(raw net.Conn, sc *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[raw]; !ok || s.closing {
		return false
	}
	delete(s.pending, raw)
	s.conns[sc] = struct{}{}
	return true
}

func (s *Server) removeConn(sc *serverConn) {
	s.mu.Lock()
	delete(s.conns, sc)
	s.mu.Unlock()
}
