package ttrpc

import (
	"context"
	"errors"
)

// Errors of the 1.2 API.
var (
	// ErrProtocol is wrapped by errors that report a peer breaking the
	// protocol, such as a data frame on a stream that is not streaming in
	// that direction. Such a stream is over; the connection stays usable.
	ErrProtocol = errors.New("protocol error")

	// ErrStreamClosed is wrapped by the error of a send on a stream that can
	// take no more messages: after CloseSend, after the server ended the
	// stream, or on a stream not streaming in that direction.
	ErrStreamClosed = errors.New("ttrpc: stream closed")

	// ErrStreamFull exists for compatibility with the established 1.2
	// line, whose streams fail with it when their reader is slow. Streams of
	// this module never do: they wait, under flow control, instead.
	ErrStreamFull = errors.New("ttrpc: stream buffer full")
)

// StreamDesc says which sides of a stream carry more than one message.
type StreamDesc struct {
	// StreamingClient: the client sends messages after the request.
	StreamingClient bool
	// StreamingServer: the server sends messages before its final result.
	StreamingServer bool
}

// ClientStream is the client's end of a stream opened with
// Client.NewStream. One goroutine may send (SendMsg, CloseSend) while
// another receives (RecvMsg).
type ClientStream interface {
	// CloseSend tells the server that no more messages will come.
	CloseSend() error
	// SendMsg sends one message to the server.
	SendMsg(m interface{}) error
	// RecvMsg receives the server's next message into m; io.EOF at the
	// clean end of the stream.
	RecvMsg(m interface{}) error
}

// StreamServer is the server's end of a stream, handed to a StreamHandler.
// SendMsg and RecvMsg may be called from different goroutines; neither may
// be called once the handler has returned.
type StreamServer interface {
	// SendMsg sends one message to the client.
	SendMsg(m interface{}) error
	// RecvMsg receives the client's next message into m; io.EOF once the
	// client has closed its side.
	RecvMsg(m interface{}) error
}

// StreamHandler is the server side of a streaming method. Its result, when
// not nil, is sent as the stream's last message; an error ends the stream
// with that status, as for a unary Method.
type StreamHandler func(context.Context, StreamServer) (interface{}, error)

// Stream is a streaming method of a ServiceDesc.
type Stream struct {
	Handler         StreamHandler
	StreamingClient bool
	StreamingServer bool
}

// StreamServerInfo describes the stream a server interceptor is wrapping.
type StreamServerInfo struct {
	// FullMethod is "/" + service + "/" + method.
	FullMethod      string
	StreamingClient bool
	StreamingServer bool
}

// StreamServerInterceptor wraps every stream the server runs. It calls the
// StreamHandler it is given to run the method, possibly with a StreamServer
// of its own that wraps the one it got. Install one with
// WithStreamServerInterceptor or WithChainStreamServerInterceptor.
type StreamServerInterceptor func(context.Context, StreamServer, *StreamServerInfo, StreamHandler) (interface{}, error)

// StreamClientInterceptor is the established 1.2 line's placeholder for
// client stream interceptors, kept so that code naming it compiles; no
// option takes it. Client stream interceptors are ClientStreamInterceptor.
type StreamClientInterceptor func(context.Context)

// StreamClientInfo describes the stream a client interceptor is opening.
type StreamClientInfo struct {
	// FullMethod is "/" + service + "/" + method.
	FullMethod      string
	StreamingClient bool
	StreamingServer bool
}

// Streamer opens the stream described by the StreamClientInfo it was given
// with, sending req as its first message; client stream interceptors call
// it to go on.
type Streamer func(ctx context.Context, desc *StreamDesc, req interface{}) (ClientStream, error)

// ClientStreamInterceptor wraps the opening of every stream a client makes.
// It calls the Streamer to open the stream, possibly with another ctx or
// req, and may wrap the ClientStream it returns to see every message.
type ClientStreamInterceptor func(ctx context.Context, desc *StreamDesc, info *StreamClientInfo, req interface{}, streamer Streamer) (ClientStream, error)
