// Package ttrpc is a small RPC library for protobuf services: gRPC's
// service definitions and status errors, carried by a ten-byte framing
// protocol over any net.Conn instead of HTTP/2. It is a drop-in, wire
// compatible implementation of github.com/containerd/ttrpc, for code
// written against its 1.0 and its 1.2 lines alike, and is what containerd
// uses to talk to its shims.
//
// # Servers
//
// A Server serves services registered with Register (unary methods, the 1.0
// API) or RegisterService (unary methods and streams), normally through the
// Register…Service function of generated code. Serve accepts connections on
// a listener, runs the handshaker (UnixSocketRequireSameUser, say) on each,
// and runs every request as its own goroutine; Shutdown stops accepting and
// waits for the requests in flight; Close drops everything at once.
//
// The context given to Serve is the parent of every request's context, but
// Serve does not stop when it ends: call Shutdown or Close. A request's
// context carries the caller's metadata (GetMetadata) and deadline, and ends
// when the caller's connection closes, when a client of this module cancels
// a stream, or at Close.
//
// A handler's error becomes the call's status: a grpc status error
// (status.Error, or an error wrapping one) keeps its code, message and
// details; common Go errors (io.EOF, os.ErrNotExist, context.Canceled, …)
// get a matching code; anything else is UNKNOWN. A handler that returns
// neither a response nor an error fails the call with UNKNOWN "ttrpc:
// marshal called with nil". A service or method that is not registered is
// answered UNIMPLEMENTED, as the 1.1 and later lines do (the 1.0 line
// answered NOT_FOUND; see WithUnknownMethodCode).
//
// A panic in a handler is not recovered: it ends the process, as in the
// established library. Recover in a server interceptor if a handler may
// panic and the process should survive it.
//
// # Clients
//
// A Client multiplexes calls (Call) and streams (NewStream) from any number
// of goroutines over one connection. A call's deadline and metadata
// (WithMetadata) go to the server; when its context ends the call returns
// ctx.Err() at once. A non-OK reply comes back as a grpc status error:
// status.FromError gives its code, message and details. When the connection
// closes or breaks, every pending and later call fails with ErrClosed; so
// does a connection that the server's handshaker refused, since the server
// then just closes it.
//
// Request and response messages may be of either protobuf world, chosen
// per message at run time: gogo or golang/protobuf v1 generated types, or
// google.golang.org/protobuf (APIv2) types. The codec uses each message's
// own generated code and links no protobuf runtime the program's messages
// do not already bring in.
//
// # Streams
//
// Streams are protocol 1.2's extension: a stream method sends and receives
// any number of messages (StreamDesc says which sides stream). They work
// with peers of the established 1.2 line in both directions. Between two
// peers of this module each stream has its own flow control, so a slow
// reader holds back only its own sender; messages from peers without it are
// buffered, up to a per-connection budget (WithClientStreamBuffer,
// WithServerStreamBuffer), before the connection's reading waits for the
// stream's reader. No message is ever dropped because its reader is slow.
//
// # Interceptors
//
// Unary and stream interceptors wrap every call on either side. The
// single-interceptor options of the 1.0 API install the outermost one; the
// chain options add more, the first outermost.
//
// # Logging
//
// The library reports through errors, and logs only two events, through
// the standard log package: a failed Accept that the server retries, and a
// connection whose handshake failed. Nothing is logged per call.
//
// # Platforms
//
// Linux, Windows, macOS and FreeBSD, on amd64 and arm64. The unix-socket
// credential handshakers (UnixSocketRequireSameUser and friends) exist on
// Linux only, as in the established library. On Linux, calls over unix and
// TCP sockets take fast paths that save a thread wakeup per call; every
// other platform and connection type takes the portable path.
package ttrpc
