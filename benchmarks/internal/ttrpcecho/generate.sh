#!/usr/bin/env bash
# Regenerates echo.pb.go from echo.proto with protoc and this repository's
# protoc-gen-gogottrpc, as example/generate.sh does for the example.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$root"
go build -o "$work/bin/protoc-gen-gogottrpc" ./cmd/protoc-gen-gogottrpc
gogo="$(go list -m -f '{{.Dir}}' github.com/gogo/protobuf)"

# Named by import path, so the registered file name matches Protobuild's.
mkdir -p "$work/src/github.com/containerd/ttrpc/benchmarks/internal" "$work/out"
ln -s "$here" "$work/src/github.com/containerd/ttrpc/benchmarks/internal/ttrpcecho"

protoc \
	--plugin=protoc-gen-gogottrpc="$work/bin/protoc-gen-gogottrpc" \
	-I"$work/src" -I/usr/include -I"$gogo" -I"$gogo/protobuf" \
	--gogottrpc_out="plugins=ttrpc:$work/out" \
	github.com/containerd/ttrpc/benchmarks/internal/ttrpcecho/echo.proto

cp "$work/out/github.com/containerd/ttrpc/benchmarks/internal/ttrpcecho/echo.pb.go" "$here/echo.pb.go"
