#!/usr/bin/env bash
# Compares the exported Go API of this plugin's output with that of the
# established generator, github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc
# (v1.2.10 unless ESTABLISHED says otherwise), for every case of cases.txt,
# with golang.org/x/exp/cmd/apidiff. Prints one line per Go package and
# exits non-zero on any difference, compatible or not.
#
# Not part of CI: it installs the established generator and apidiff from the
# module proxy. Needs protoc and Go.
#
#   bash cmd/protoc-gen-go-ttrpc/testdata/apidiff.sh
#   TTRPC_VERSION=v1.2.10 bash cmd/protoc-gen-go-ttrpc/testdata/apidiff.sh
#
# Our side builds against this repository's ttrpc package (a replace
# directive), or against the ttrpc release TTRPC_VERSION names; the
# established side against the established release.
#
# The established generator rejects editions files, so the editions case is
# compared with its output for apidiff/editions/editions.proto, the proto3
# twin of proto/editions/editions.proto; our side is the editions golden
# file. Both sides take their message code from the twin, whose Go API is
# the same as that of the editions file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$(cd "$here/.." && pwd)"
root="$(cd "$module/../.." && pwd)"
established="${ESTABLISHED:-v1.2.10}"
include="${PROTOC_INCLUDE:-/usr/include}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bin="$work/bin"
mkdir -p "$bin"
GOBIN="$bin" GOFLAGS= go install "github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc@$established"
mv "$bin/protoc-gen-go-ttrpc" "$bin/established"
GOBIN="$bin" GOFLAGS= go install golang.org/x/exp/cmd/apidiff@latest
(cd "$module" &&
	go build -o "$bin/ours" . &&
	go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go)

# gen PLUGIN OUT PROTO_DIR PARAM FILES...
gen() {
	local plugin="$1" out="$2" dir="$3" param="$4"
	shift 4
	mkdir -p "$out"
	(cd "$dir" && protoc -I. -I"$include" \
		--plugin=protoc-gen-go="$bin/protoc-gen-go" --plugin=protoc-gen-go-ttrpc="$plugin" \
		--go_out=paths=source_relative:"$out" --go-ttrpc_out="$param:$out" "$@")
}

packages=()
while read -r name param files; do
	case "$name" in '' | '#'*) continue ;; esac
	# shellcheck disable=SC2086 # files is a list
	set -- $files
	for f in "$@"; do
		packages+=("$(dirname "$f")")
	done
	if grep -q '^edition *=' "$here/proto/$1"; then
		gen "$bin/established" "$work/established" "$here/apidiff" "$param" "$@"
		gen "$bin/established" "$work/ours" "$here/apidiff" "$param" "$@"
		for f in "$@"; do
			cp "$here/golden/${f%.proto}_ttrpc.pb.go" "$work/ours/${f%.proto}_ttrpc.pb.go"
		done
	else
		gen "$bin/established" "$work/established" "$here/proto" "$param" "$@"
		gen "$bin/ours" "$work/ours" "$here/proto" "$param" "$@"
	fi
done <"$here/cases.txt"

cat >"$work/established/go.mod" <<EOF
module example.com/ttrpcgen

go 1.21

require github.com/containerd/ttrpc $established
EOF
if [ -n "${TTRPC_VERSION:-}" ]; then
	ours_ttrpc="require github.com/containerd/ttrpc $TTRPC_VERSION"
else
	ours_ttrpc="require github.com/containerd/ttrpc v1.2.10

replace github.com/containerd/ttrpc => $root"
fi
cat >"$work/ours/go.mod" <<EOF
module example.com/ttrpcgen

go 1.21

$ours_ttrpc
EOF

status=0
for side in established ours; do
	(cd "$work/$side" && GOFLAGS=-mod=mod GOWORK=off go mod tidy >/dev/null && GOWORK=off go build ./...)
done
# shellcheck disable=SC2207 # package names have no spaces
packages=($(printf '%s\n' "${packages[@]}" | sort -u))
for p in "${packages[@]}"; do
	(cd "$work/established" && GOWORK=off "$bin/apidiff" -w "$work/$p.established" "example.com/ttrpcgen/$p")
	(cd "$work/ours" && GOWORK=off "$bin/apidiff" -w "$work/$p.ours" "example.com/ttrpcgen/$p")
	report="$("$bin/apidiff" "$work/$p.established" "$work/$p.ours")"
	if [ -z "$report" ]; then
		echo "$p: no difference"
	else
		echo "$p: DIFFERENT"
		echo "$report" | sed 's/^/    /'
		status=1
	fi
done
exit $status
