package ttrpcstream

import "google.golang.org/protobuf/types/known/wrapperspb"

// payload is the message of the streams: ttrpc v1.2.10's codec takes APIv2
// messages, so this side uses google.protobuf.BytesValue, wire-identical to
// the gogo-generated Payload of this module's side.
type payload = wrapperspb.BytesValue

func newPayload(b []byte) *payload { return &payload{Value: b} }
