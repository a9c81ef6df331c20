#!/usr/bin/env bash
# Regenerates the code of ../proto/gen.proto, three times (see
# ../README.md, "Generated code"):
#
#   ../peers/v1.2.10/gen  protoc-gen-go + the established protoc-gen-go-ttrpc
#                         v1.2.10 (installed from the module proxy or cache)
#   apiv2/                protoc-gen-go + this repository's protoc-gen-go-ttrpc
#   gogo/                 this repository's protoc-gen-gogottrpc
#
# protoc-gen-go is v1.36.11, the google.golang.org/protobuf that ttrpc v1.2.10
# requires, for both APIv2 packages. CI can run it and check that nothing
# changed (git diff --exit-code interop). Needs protoc (Debian:
# protobuf-compiler; the files record its version, 3.21.12 here) and Go.
# Run from anywhere: bash interop/gen/generate.sh
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.11
ESTABLISHED_TTRPC_VERSION=v1.2.10

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
interop="$(cd "$here/.." && pwd)"
root="$(cd "$interop/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The established tools, outside any module.
(
	cd "$work"
	env -u GOFLAGS GOWORK=off GOBIN="$work/est" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
	env -u GOFLAGS GOWORK=off GOBIN="$work/est" go install "github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc@$ESTABLISHED_TTRPC_VERSION"
)
# This repository's generators.
(
	cd "$root"
	go build -o "$work/ours/protoc-gen-go-ttrpc" ./cmd/protoc-gen-go-ttrpc
	go build -o "$work/ours/protoc-gen-gogottrpc" ./cmd/protoc-gen-gogottrpc
)

cd "$interop/proto"

# gen.proto's go_package names the gogo package (protoc-gen-gogottrpc can
# take the import path from an M parameter, but not the package name); the
# protoc-gen-go runs map the file to their own package with M.
apiv2() { # OUTDIR IMPORTPATH;NAME TTRPC-PLUGIN
	rm -f "$1"/*.pb.go
	mkdir -p "$1"
	protoc -I. \
		--plugin=protoc-gen-go="$work/est/protoc-gen-go" \
		--plugin=protoc-gen-go-ttrpc="$3" \
		--go_out="$1" --go_opt="paths=source_relative,Mgen.proto=$2" \
		--go-ttrpc_out="$1" --go-ttrpc_opt="paths=source_relative,Mgen.proto=$2" \
		gen.proto
}
apiv2 "$interop/peers/v1.2.10/gen" "example.com/ttrpcpeer/gen;gen" "$work/est/protoc-gen-go-ttrpc"
apiv2 "$interop/gen/apiv2" "github.com/containerd/ttrpc/interop/gen/apiv2;apiv2" "$work/ours/protoc-gen-go-ttrpc"

rm -f "$interop/gen/gogo"/*.pb.go
mkdir -p "$interop/gen/gogo"
protoc -I. \
	--plugin=protoc-gen-gogottrpc="$work/ours/protoc-gen-gogottrpc" \
	--gogottrpc_out="plugins=ttrpc,paths=source_relative:$interop/gen/gogo" \
	gen.proto
