package ttrpc

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// OversizedMessageErr reports a message whose frame would exceed the
// protocol's 4 MiB limit on frame data (4194304 bytes). A sender refuses
// such a message with it before anything is written; a receiver that skips
// such a frame answers or fails the stream with it. It is a grpc status
// error with code RESOURCE_EXHAUSTED: status.Code(err) reports that, and
// Unwrap gives the status error itself.
type OversizedMessageErr struct {
	length int
}

// OversizedMessageError returns an *OversizedMessageErr for a message of
// messageLength bytes, or nil when that length is within the limit.
func OversizedMessageError(messageLength int) error {
	if messageLength <= messageLengthMax {
		return nil
	}
	return &OversizedMessageErr{length: messageLength}
}

// Error gives the status error's text: "... message length N exceed maximum
// message size of 4194304".
func (e *OversizedMessageErr) Error() string {
	return e.GRPCStatus().Err().Error()
}

// Unwrap returns the grpc status error (RESOURCE_EXHAUSTED) that e stands
// for.
func (e *OversizedMessageErr) Unwrap() error {
	return e.GRPCStatus().Err()
}

// GRPCStatus makes e a grpc status error for status.FromError and
// status.Code, with any grpc version.
func (e *OversizedMessageErr) GRPCStatus() *status.Status {
	return status.New(codes.ResourceExhausted, fmt.Sprintf("message length %d exceed maximum message size of %d", e.length, messageLengthMax))
}

// RejectedLength is the length, in bytes, of the refused message's frame data.
func (e *OversizedMessageErr) RejectedLength() int { return e.length }

// MaximumLength is the limit it exceeded, in bytes: 4194304.
func (e *OversizedMessageErr) MaximumLength() int { return messageLengthMax }
