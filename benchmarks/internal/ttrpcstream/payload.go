package ttrpcstream

import "github.com/containerd/ttrpc/benchmarks/internal/ttrpcecho"

// payload is the message of the streams: this module's side uses the echo
// benchmark's gogo-generated Payload (wire-identical to
// google.protobuf.BytesValue), as the unary comparison does.
type payload = ttrpcecho.Payload

func newPayload(b []byte) *payload { return &payload{Value: b} }
