#!/usr/bin/env bash
# API compatibility against the established releases: for each version below,
# the exported API of github.com/containerd/ttrpc (and of .../plugin, where
# that release has it) is written out from the release as fetched from the
# module proxy, then compared by golang.org/x/exp/cmd/apidiff with the package
# in this repository. Every incompatible change (a removed identifier, a
# changed signature, ...) is printed; any one fails the script.
#
#   .ci/apidiff.sh                   # v1.0.2, v1.2.8, v1.2.10
#   .ci/apidiff.sh v1.2.10           # one of them
#   APIDIFF_ALL=1 .ci/apidiff.sh     # also print the compatible changes
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
apidiff_version=v0.0.0-20261113113407-e3970619a1a4 # golang.org/x/exp
versions=${*:-v1.0.2 v1.2.8 v1.2.10}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
GOBIN="$work/bin" go install "golang.org/x/exp/cmd/apidiff@$apidiff_version"
apidiff="$work/bin/apidiff"
flags=-incompatible
[ -n "${APIDIFF_ALL:-}" ] && flags=

total=0
for v in $versions; do
	# The release, from the proxy into the module cache.
	go mod download -json "github.com/containerd/ttrpc@$v" >"$work/download.json"
	old="$work/old-$v"
	mkdir -p "$old"
	cat >"$old/go.mod" <<MOD
module example.com/apidiff/old

go 1.21

require github.com/containerd/ttrpc $v
MOD
	# The library packages to compare: the root one, and plugin/ where the
	# release has it (v1.2.10 dropped it).
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$work/download.json")
	pkgs=github.com/containerd/ttrpc
	[ -d "$dir/plugin" ] && pkgs="$pkgs github.com/containerd/ttrpc/plugin"
	{
		printf 'package old\n\nimport (\n'
		for p in $pkgs; do printf '\t_ "%s"\n' "$p"; done
		printf ')\n'
	} >"$old/old.go"
	(cd "$old" && go mod tidy >/dev/null 2>&1 || go mod tidy)
	for p in $pkgs; do
		exp="$work/$v-$(basename "$p").exp"
		(cd "$old" && "$apidiff" -w "$exp" "$p")
		echo "== $p: $v (old) -> $root (new)"
		if ! out=$(cd "$root" && "$apidiff" $flags "$exp" "$p" 2>&1); then
			echo "$out"
			echo "apidiff could not load $p from $root" >&2
			exit 2
		fi
		if [ -n "$out" ]; then
			echo "$out"
		fi
		n=$(printf '%s\n' "$out" | grep -c '^- ' || true)
		[ -n "$flags" ] || n=$(printf '%s\n' "$out" | sed -n '/^Incompatible/,/^Compatible/p' | grep -c '^- ' || true)
		echo "-- $n incompatible change(s)"
		total=$((total + n))
	done
done
if [ "$total" -ne 0 ]; then
	echo "apidiff: $total incompatible change(s) in all"
	exit 1
fi
echo "apidiff: no incompatible changes"
