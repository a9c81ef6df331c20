#!/bin/sh
# Runs the envelope reflection tests (envelope_reflect_test.go) under the 1.2
# line's dependency world, the one containerd 2 builds in: a current
# google.golang.org/protobuf, golang/protobuf 1.5 and the split genproto
# module whose google.rpc.Status implements the reflection API (the root
# go.mod's genproto predates it, so there the tests see the stand-in). Like
# .ci/oldpins.sh, it works on a copy of the tree with changed requirements.
# Also checks proto.MessageName, which the root go.mod's protobuf lacks.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/." "$work/"
cd "$work"
rm -rf benchmarks interop .git
export GOFLAGS=-mod=mod GOWORK=off
go mod edit \
	-require=google.golang.org/protobuf@${NEWPINS_PROTOBUF:-v1.36.12} \
	-require=github.com/golang/protobuf@${NEWPINS_GOLANGPROTOBUF:-v1.5.4} \
	-require=google.golang.org/genproto/googleapis/rpc@${NEWPINS_GOOGLEAPIS_RPC:-v0.0.0-20260825221802-da73d73af1c5} \
	-require=google.golang.org/genproto@${NEWPINS_GENPROTO:-v0.0.0-20230526161137-0005af68ea54}
go mod tidy >/dev/null 2>&1 || true
cat >zz_newpins_test.go <<'GO'
package ttrpc

import (
	"testing"

	anypb "github.com/golang/protobuf/ptypes/any"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

func TestNewPinsWorld(t *testing.T) {
	if !hasV2(&spb.Status{}) || !hasV2(&anypb.Any{}) {
		t.Fatal("google.rpc.Status or google.protobuf.Any has no ProtoReflect: not the 1.2 world")
	}
	for _, m := range []proto.Message{&Request{}, (*Response)(nil), &StringList{}, &KeyValue{}} {
		if got, want := proto.MessageName(m), m.ProtoReflect().Descriptor().FullName(); got != want || got == "" {
			t.Errorf("proto.MessageName(%T) = %q, want %q", m, got, want)
		}
	}
}
GO
echo "== module versions of the 1.2 world"
go list -m google.golang.org/protobuf github.com/golang/protobuf google.golang.org/genproto/googleapis/rpc
go vet .
go test -race -count=1 -run 'Envelope|ExampleRequest|TestNewPinsWorld' . ${NEWPINS_TESTFLAGS:-}
