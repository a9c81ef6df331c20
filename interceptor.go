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
// call it to continue the call.
type Invoker func(context.Context, *Request, *Response) error

// UnaryServerInterceptor wraps every method the server runs. It calls the
// Method it is given to run the handler, or answers on its own.
type UnaryServerInterceptor func(context.Context, Unmarshaler, *UnaryServerInfo, Method) (interface{}, error)

// UnaryClientInterceptor wraps every call a client makes. It calls the
// Invoker to send the request, or answers on its own.
type UnaryClientInterceptor func(context.Context, *Request, *Response, *UnaryClientInfo, Invoker) error

func fullMethod(service, method string) string {
	return "/" + service + "/" + method
}
