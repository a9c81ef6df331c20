package ttrpc

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// assertCode checks that err is a grpc status error with code and message.
func assertCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a grpc status", err, err)
	}
	if st.Code() != code {
		t.Fatalf("code %v (%q), want %v", st.Code(), st.Message(), code)
	}
	if msg != "" && st.Message() != msg {
		t.Fatalf("message %q, want %q", st.Message(), msg)
	}
}
