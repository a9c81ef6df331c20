package ttrpc

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Method is the server side of one RPC: it decodes the request with
// unmarshal, does the work and returns the response message.
type Method func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error)

// ServiceDesc lists the methods of a service by name.
type ServiceDesc struct {
	Methods map[string]Method
}

// serviceSet is the server's registry of services. Registration normally
// happens before serving, but the lock keeps a late Register safe.
type serviceSet struct {
	mu       sync.RWMutex
	services map[string]map[string]*method
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

func (s *serviceSet) register(name string, methods map[string]Method) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[name]; ok {
		panic("ttrpc: duplicate service " + name + " registered")
	}
	if s.services == nil {
		s.services = make(map[string]map[string]*method)
	}
	copied := make(map[string]*method, len(methods))
	for k, v := range methods {
		copied[k] = &method{fn: v}
	}
	s.services[name] = copied
}

// lookup finds the method for service/method, given as bytes straight from
// the request so that a hit costs no allocation.
func (s *serviceSet) lookup(service, name []byte) (*method, *status.Status) {
	s.mu.RLock()
	methods, ok := s.services[string(service)]
	s.mu.RUnlock()
	if !ok {
		return nil, status.New(codes.NotFound, "service "+string(service))
	}
	m, ok := methods[string(name)]
	if !ok {
		return nil, status.New(codes.NotFound, "method "+string(name))
	}
	return m, nil
}

// convertStatus turns a handler's error into the status sent to the caller. A
// grpc status error (possibly wrapped) keeps its code, message and details;
// well-known Go errors get a matching code; anything else is UNKNOWN.
func convertStatus(err error) *status.Status {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		if st := se.GRPCStatus(); st != nil {
			return st
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
