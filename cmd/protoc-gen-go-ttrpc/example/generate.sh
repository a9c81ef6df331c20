#!/usr/bin/env bash
# Regenerates gen/ from proto/ with protoc, protoc-gen-go and
# protoc-gen-go-ttrpc, at the versions go.mod pins. CI runs it and checks
# that gen/ is unchanged. With buf, "buf generate" in this directory does
# the same (buf.gen.yaml); only the "protoc" version line protoc-gen-go
# writes differs.
#
# Needs protoc (Debian: protobuf-compiler) and Go. Run from anywhere:
# bash cmd/protoc-gen-go-ttrpc/example/generate.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$here"
go build -o "$work/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$work/protoc-gen-go-ttrpc" github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc

rm -rf gen
mkdir gen
(cd proto && find . -name '*.proto' | sort | sed 's|^\./||') >"$work/files"
xargs protoc -Iproto \
	--plugin=protoc-gen-go="$work/protoc-gen-go" \
	--plugin=protoc-gen-go-ttrpc="$work/protoc-gen-go-ttrpc" \
	--go_out=gen --go_opt=paths=source_relative \
	--go-ttrpc_out=gen --go-ttrpc_opt=paths=source_relative \
	<"$work/files"
