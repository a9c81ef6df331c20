#!/usr/bin/env bash
# Regenerates example.pb.go from example.proto with protoc and this
# repository's protoc-gen-gogottrpc. Needs protoc (Debian: protobuf-compiler)
# and Go. Run from anywhere: bash example/generate.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Same parameters as the golden tests in cmd/protoc-gen-gogottrpc and the
# [packages] table of Protobuild.toml.
PARAMS="plugins=ttrpc,Mgogoproto/gogo.proto=github.com/gogo/protobuf/gogoproto,Mgoogle/protobuf/any.proto=github.com/gogo/protobuf/types,Mgoogle/protobuf/descriptor.proto=github.com/gogo/protobuf/protoc-gen-gogo/descriptor,Mgoogle/protobuf/duration.proto=github.com/gogo/protobuf/types,Mgoogle/protobuf/empty.proto=github.com/gogo/protobuf/types,Mgoogle/protobuf/field_mask.proto=github.com/gogo/protobuf/types,Mgoogle/protobuf/struct.proto=github.com/gogo/protobuf/types,Mgoogle/protobuf/timestamp.proto=github.com/gogo/protobuf/types,Mgoogle/protobuf/wrappers.proto=github.com/gogo/protobuf/types"

cd "$root"
go build -o "$work/bin/protoc-gen-gogottrpc" ./cmd/protoc-gen-gogottrpc
gogo="$(go list -m -f '{{.Dir}}' github.com/gogo/protobuf)"

# Proto files are named by their import path, as in a GOPATH layout, so the
# generated registration names match what Protobuild produces.
mkdir -p "$work/src/github.com/containerd" "$work/out"
ln -s "$root" "$work/src/github.com/containerd/ttrpc"

protoc \
	--plugin=protoc-gen-gogottrpc="$work/bin/protoc-gen-gogottrpc" \
	-I"$work/src" -I/usr/local/include -I/usr/include -I"$gogo" -I"$gogo/protobuf" \
	--gogottrpc_out="$PARAMS:$work/out" \
	github.com/containerd/ttrpc/example/example.proto

cp "$work/out/github.com/containerd/ttrpc/example/example.pb.go" "$here/example.pb.go"
