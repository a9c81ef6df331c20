package ttrpc

import "context"

// UnaryServerInfo describes the call a server interceptor is wrapping.
type UnaryServerInfo struct {
	// FullMethod is "/" + service + "/" + method.
	FullMethod string
}

// UnaryClientInfo describes the call a client interceptor is wrapping.
type UnaryClientInfo struct {
	// FullMethod is "/" + service + "/" + method.
	FullMethod string
}

// Unmarshaler decodes a request's payload into the value given to it.
type Unmarshaler func(interface{}) error

// Invoker sends a request and fills in the response; client interceptors
// call it to continue the call. It returns an error only when no response
// came (the connection closed, the context ended, a bad request): a reply
// that carries an error status is a response, so Invoker returns nil and the
// status is in resp.Status, which Call then turns into the call's error.
type Invoker func(context.Context, *Request, *Response) error

// UnaryServerInterceptor wraps every method the server runs. It calls the
// Method it is given to run the handler, or answers on its own.
type UnaryServerInterceptor func(context.Context, Unmarshaler, *UnaryServerInfo, Method) (interface{}, error)

// UnaryClientInterceptor wraps every call a client makes. It calls the
// Invoker to send the request, or answers on its own by filling in the
// Response. An error it returns is Call's error as is.
type UnaryClientInterceptor func(context.Context, *Request, *Response, *UnaryClientInfo, Invoker) error

func fullMethod(service, method string) string {
	return "/" + service + "/" + method
}

// The chain options set a fold function that NewClient or NewServer calls,
// rather than the constructors calling the folding code themselves: a
// program that uses no chain links none of it.

func foldClientChains(c *Client) {
	c.unaryInterceptor = chainUnaryClient(c.unaryInterceptor, c.unaryChain)
	c.streamInterceptor = chainStreamClient(c.streamInterceptor, c.streamChain)
}

func foldServerChains(s *Server) {
	s.unaryInterceptor = chainUnaryServer(s.config.interceptor, s.config.unaryChain)
	s.streamInterceptor = chainStreamServer(s.config.streamInterceptor, s.config.streamChain)
}

// chainUnaryClient folds first (the unchained option's interceptor, which
// may be nil) and chain into one interceptor, first outermost.
func chainUnaryClient(first UnaryClientInterceptor, chain []UnaryClientInterceptor) UnaryClientInterceptor {
	all := make([]UnaryClientInterceptor, 0, len(chain)+1)
	if first != nil {
		all = append(all, first)
	}
	for _, i := range chain {
		if i != nil {
			all = append(all, i)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return func(ctx context.Context, req *Request, resp *Response, info *UnaryClientInfo, invoker Invoker) error {
		return all[0](ctx, req, resp, info, unaryClientNext(all[1:], info, invoker))
	}
}

func unaryClientNext(rest []UnaryClientInterceptor, info *UnaryClientInfo, invoker Invoker) Invoker {
	if len(rest) == 0 {
		return invoker
	}
	return func(ctx context.Context, req *Request, resp *Response) error {
		return rest[0](ctx, req, resp, info, unaryClientNext(rest[1:], info, invoker))
	}
}

// chainStreamClient is chainUnaryClient for stream interceptors.
func chainStreamClient(first ClientStreamInterceptor, chain []ClientStreamInterceptor) ClientStreamInterceptor {
	all := make([]ClientStreamInterceptor, 0, len(chain)+1)
	if first != nil {
		all = append(all, first)
	}
	for _, i := range chain {
		if i != nil {
			all = append(all, i)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return func(ctx context.Context, desc *StreamDesc, info *StreamClientInfo, req interface{}, streamer Streamer) (ClientStream, error) {
		return all[0](ctx, desc, info, req, streamClientNext(all[1:], info, streamer))
	}
}

func streamClientNext(rest []ClientStreamInterceptor, info *StreamClientInfo, streamer Streamer) Streamer {
	if len(rest) == 0 {
		return streamer
	}
	return func(ctx context.Context, desc *StreamDesc, req interface{}) (ClientStream, error) {
		return rest[0](ctx, desc, info, req, streamClientNext(rest[1:], info, streamer))
	}
}

// chainUnaryServer folds first and chain into one interceptor, first
// outermost.
func chainUnaryServer(first UnaryServerInterceptor, chain []UnaryServerInterceptor) UnaryServerInterceptor {
	all := make([]UnaryServerInterceptor, 0, len(chain)+1)
	if first != nil {
		all = append(all, first)
	}
	for _, i := range chain {
		if i != nil {
			all = append(all, i)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return func(ctx context.Context, unmarshal Unmarshaler, info *UnaryServerInfo, method Method) (interface{}, error) {
		return all[0](ctx, unmarshal, info, unaryServerNext(all[1:], info, method))
	}
}

func unaryServerNext(rest []UnaryServerInterceptor, info *UnaryServerInfo, method Method) Method {
	if len(rest) == 0 {
		return method
	}
	return func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
		return rest[0](ctx, unmarshal, info, unaryServerNext(rest[1:], info, method))
	}
}

// chainStreamServer is chainUnaryServer for stream interceptors.
func chainStreamServer(first StreamServerInterceptor, chain []StreamServerInterceptor) StreamServerInterceptor {
	all := make([]StreamServerInterceptor, 0, len(chain)+1)
	if first != nil {
		all = append(all, first)
	}
	for _, i := range chain {
		if i != nil {
			all = append(all, i)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return func(ctx context.Context, ss StreamServer, info *StreamServerInfo, handler StreamHandler) (interface{}, error) {
		return all[0](ctx, ss, info, streamServerNext(all[1:], info, handler))
	}
}

func streamServerNext(rest []StreamServerInterceptor, info *StreamServerInfo, handler StreamHandler) StreamHandler {
	if len(rest) == 0 {
		return handler
	}
	return func(ctx context.Context, ss StreamServer) (interface{}, error) {
		return rest[0](ctx, ss, info, streamServerNext(rest[1:], info, handler))
	}
}
