#!/usr/bin/env bash
# Regenerates the golden test data of protoc-gen-go-ttrpc with protoc:
#
#   descriptors/<case>.binpb   the FileDescriptorSet protoc builds for the
#                              case (with imports and source info); the Go
#                              tests build their CodeGeneratorRequest from it
#   golden/...                 what protoc writes when it runs the plugin
#
# for every case in cases.txt. CI runs it and fails on any difference from
# what is committed: bash cmd/protoc-gen-go-ttrpc/testdata/generate.sh &&
# git diff --exit-code -- cmd/protoc-gen-go-ttrpc/testdata
#
# Needs Go and protoc (Debian: protobuf-compiler, which puts the well-known
# types under /usr/include; set PROTOC_INCLUDE if they are elsewhere).
# Editions files need protoc 27 or later; with an older protoc the script
# uses buf when it is on PATH and otherwise keeps the committed data of
# those cases (the Go tests still check it against the plugin).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$(cd "$here/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$module" && go build -o "$work/protoc-gen-go-ttrpc" .)
plugin="$work/protoc-gen-go-ttrpc"

include="${PROTOC_INCLUDE:-/usr/include}"
if [ ! -f "$include/google/protobuf/empty.proto" ]; then
	echo "generate.sh: no well-known types under $include (set PROTOC_INCLUDE)" >&2
	exit 1
fi

# protoc reports "libprotoc 3.21.12" (3.x releases) or "libprotoc 27.1".
protoc_version="$(protoc --version | awk '{print $2}')"
protoc_major="${protoc_version%%.*}"
protoc_editions=false
if [ "$protoc_major" != 3 ] && [ "$protoc_major" -ge 27 ]; then
	protoc_editions=true
fi

uses_editions() {
	local f
	for f in "$@"; do
		if grep -q '^edition *=' "$here/proto/$f"; then
			return 0
		fi
	done
	return 1
}

mkdir -p "$here/descriptors" "$here/golden"
while read -r name param files; do
	case "$name" in '' | '#'*) continue ;; esac
	# shellcheck disable=SC2086 # files is a list
	set -- $files

	compiler=protoc
	if uses_editions "$@" && [ "$protoc_editions" = false ]; then
		if command -v buf >/dev/null 2>&1; then
			compiler=buf
		else
			echo "generate.sh: $name: protoc $protoc_version has no editions support and buf is not installed; keeping the committed data" >&2
			continue
		fi
	fi

	out="$work/out/$name"
	mkdir -p "$out"
	case "$compiler" in
	protoc)
		(cd "$here/proto" && protoc -I. -I"$include" \
			--include_imports --include_source_info \
			--descriptor_set_out="$here/descriptors/$name.binpb" \
			--plugin=protoc-gen-go-ttrpc="$plugin" \
			--go-ttrpc_out="$param:$out" "$@")
		;;
	buf)
		paths=()
		for f in "$@"; do paths+=(--path "$f"); done
		opts=""
		IFS=, read -ra params <<<"$param"
		for p in "${params[@]}"; do opts="$opts\"$p\","; done
		template="{\"version\":\"v2\",\"plugins\":[{\"local\":\"$plugin\",\"out\":\"$out\",\"opt\":[${opts%,}]}]}"
		(cd "$here/proto" &&
			buf build . "${paths[@]}" --as-file-descriptor-set -o "$here/descriptors/$name.binpb" &&
			buf generate . "${paths[@]}" --template "$template")
		;;
	esac

	# Replace the case's golden files with what was generated now.
	for f in "$@"; do
		rm -f "$here/golden/${f%.proto}_ttrpc.pb.go"
	done
	(cd "$out" && find . -type f -name '*.go' | while read -r g; do
		mkdir -p "$here/golden/$(dirname "$g")"
		cp "$g" "$here/golden/$g"
	done)
	echo "$name: $compiler"
done <"$here/cases.txt"
