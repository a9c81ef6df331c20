package ttrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Method is the server side of a unary RPC: it decodes the request with
// unmarshal, does the work and returns the response message. A non-nil
// error becomes the call's status (a grpc status error keeps its code,
// message and details; see Server). Returning a nil response with a nil
// error fails the call with UNKNOWN "ttrpc: marshal called with nil".
type Method func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error)

// ServiceDesc lists the methods of a service by name: unary Methods and
// streaming Streams. A name may appear in only one of them.
type ServiceDesc struct {
	Methods map[string]Method
	Streams map[string]Stream
}

// serviceSet is the server's registry of services. Registration normally
// happens before serving, but the lock keeps a late Register safe.
type serviceSet struct {
	mu       sync.RWMutex
	services map[string]*service
}

type service struct {
	methods map[string]*method
	streams map[string]*Stream
}

// method is a registered Method with what the server has learnt about it.
type method struct {
	fn Method

	// How long the handler took the last time it ran, in nanoseconds. A
	// connection runs a request to a quick method on the goroutine that read
	// it, without first waking another to go on reading (see serve).
	lastNanos atomic.Int64
}

// quickMethod is the longest a handler may have taken last time for its next
// request to run on the reading goroutine.
const quickMethod = 50 * time.Microsecond

func (m *method) quick() bool { return m.lastNanos.Load() < int64(quickMethod) }

// learn records a run's duration. Only a change of verdict is written, so
// that connections calling one method do not all write the same word on
// every request.
func (m *method) learn(d int64) {
	if (d < int64(quickMethod)) != m.quick() {
		m.lastNanos.Store(d)
	}
}

// register adds a service. Mistakes a server could only trip over later, at
// a call, panic here with what is wrong.
func (s *serviceSet) register(name string, desc *ServiceDesc) {
	if desc == nil {
		panic(fmt.Sprintf("ttrpc: RegisterService(%q) with a nil ServiceDesc", name))
	}
	svc := &service{
		methods: make(map[string]*method, len(desc.Methods)),
		streams: make(map[string]*Stream, len(desc.Streams)),
	}
	for k, fn := range desc.Methods {
		if fn == nil {
			panic(fmt.Sprintf("ttrpc: method %q of service %q is a nil Method", k, name))
		}
		svc.methods[k] = &method{fn: fn}
	}
	for k, st := range desc.Streams {
		if st.Handler == nil {
			panic(fmt.Sprintf("ttrpc: stream %q of service %q has a nil Handler", k, name))
		}
		if _, dup := svc.methods[k]; dup {
			panic(fmt.Sprintf("ttrpc: %q of service %q is both a Method and a Stream", k, name))
		}
		st := st
		svc.streams[k] = &st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[name]; ok {
		panic("ttrpc: duplicate service " + name + " registered")
	}
	if s.services == nil {
		s.services = make(map[string]*service)
	}
	s.services[name] = svc
}

// lookup finds the unary method or stream for service/name, given as bytes
// straight from the request so that a hit costs no allocation. unknown is
// the code for a name that is not registered.
func (s *serviceSet) lookup(service, name []byte, unknown codes.Code) (*method, *Stream, *status.Status) {
	s.mu.RLock()
	svc, ok := s.services[string(service)]
	s.mu.RUnlock()
	if !ok {
		return nil, nil, status.New(unknown, "service "+string(service))
	}
	if m, ok := svc.methods[string(name)]; ok {
		return m, nil, nil
	}
	if st, ok := svc.streams[string(name)]; ok {
		return nil, st, nil
	}
	return nil, nil, status.New(unknown, "method "+string(name))
}

// convertStatus turns a handler's error into the status sent to the caller. A
// grpc status error keeps its code, message and details; wrapped in another
// error (fmt.Errorf("create: %w", st.Err())), it keeps its code and details,
// and the message is the whole text with the status's own message in place
// of the status error's text ("create: x"). Well-known Go errors get a
// matching code; anything else is UNKNOWN.
func convertStatus(err error) *status.Status {
	type grpcStatus interface{ GRPCStatus() *status.Status }
	if se, ok := err.(grpcStatus); ok {
		if st := se.GRPCStatus(); st != nil {
			return st
		}
	}
	var se grpcStatus
	if errors.As(err, &se) {
		if st := se.GRPCStatus(); st != nil {
			whole := err.Error()
			if inner, ok := se.(error); ok {
				whole = strings.Replace(whole, inner.Error(), st.Message(), 1)
			}
			p := st.Proto()
			p.Message = whole
			return status.FromProto(p)
		}
	}
	return status.New(convertCode(err), err.Error())
}

func convertCode(err error) codes.Code {
	switch {
	case errors.Is(err, io.EOF):
		return codes.OutOfRange
	case errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.ErrClosedPipe),
		errors.Is(err, io.ErrShortWrite),
		errors.Is(err, io.ErrShortBuffer),
		errors.Is(err, io.ErrNoProgress):
		return codes.FailedPrecondition
	case errors.Is(err, os.ErrInvalid):
		return codes.InvalidArgument
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case os.IsExist(err) || errors.Is(err, fs.ErrExist):
		return codes.AlreadyExists
	case os.IsNotExist(err) || errors.Is(err, fs.ErrNotExist):
		return codes.NotFound
	case os.IsPermission(err) || errors.Is(err, fs.ErrPermission):
		return codes.PermissionDenied
	}
	return codes.Unknown
}
