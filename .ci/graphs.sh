#!/usr/bin/env bash
# Module-graph check: our go.mod's requirements become part of every user's
# build (minimal version selection), so the root package must build inside the
# module graphs of real consumers once they point github.com/containerd/ttrpc
# at this tree with one replace line:
#
#   v2     containerd/v2 v2.4.2 + containerd/api v1.12.0   (split genproto modules)
#   hcs15  hcsshim v0.15.0
#   hcs14  hcsshim v0.14.1
#   nri    nri v0.12.5
#   c15    containerd v1.5.18 with containerd 1.5's own replace pins
#          (golang/protobuf v1.3.5, monolithic genproto 2020-02-24, grpc v1.27.1);
#          here the containerd shim packages are built too.
#
# Each graph is tried two ways:
#   tidy  a scratch module imports the consumer's ttrpc-using packages, runs
#         `go mod tidy`, then builds (the usual flow after adding a replace);
#   raw   the scratch go.mod lists only the consumer, and `go build -mod=mod`
#         resolves our package in the whole graph: an "ambiguous import" of
#         google.golang.org/genproto/googleapis/rpc/status shows up here.
# In c15 the scratch go.mod also requires the monolithic genproto, as every
# tidy go.mod of a containerd 1.5 project does: with the split
# google.golang.org/genproto/googleapis/rpc module in our go.mod, that line is
# what keeps googleapis/rpc/status coming from the pinned monolith (the only
# one whose Status.Details matches golang/protobuf v1.3.5 and grpc v1.27.1).
#
# Uses the default module and build caches, so a second run downloads nothing.
#   .ci/graphs.sh            # all graphs
#   .ci/graphs.sh v2 c15     # some of them
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pins15='	github.com/golang/protobuf => github.com/golang/protobuf v1.3.5
	google.golang.org/genproto => google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63
	google.golang.org/grpc => google.golang.org/grpc v1.27.1'

# world NAME -> sets requires, replaces, pkgs (consumer packages importing ttrpc), build
world() {
	replaces=""
	build="github.com/containerd/ttrpc"
	case $1 in
	v2)
		requires='	github.com/containerd/containerd/v2 v2.4.2
	github.com/containerd/containerd/api v1.12.0'
		pkgs="github.com/containerd/containerd/v2/pkg/shim github.com/containerd/containerd/v2/core/runtime/v2 github.com/containerd/containerd/api/runtime/task/v3" ;;
	hcs15)
		requires='	github.com/Microsoft/hcsshim v0.15.0'
		pkgs="github.com/Microsoft/hcsshim/pkg/migration" ;;
	hcs14)
		requires='	github.com/Microsoft/hcsshim v0.14.1'
		pkgs="github.com/Microsoft/hcsshim/pkg/octtrpc" ;;
	nri)
		requires='	github.com/containerd/nri v0.12.5'
		pkgs="github.com/containerd/nri/pkg/adaptation github.com/containerd/nri/pkg/stub github.com/containerd/nri/pkg/api" ;;
	c15)
		requires='	github.com/containerd/containerd v1.5.18
	google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63'
		replaces=$pins15
		pkgs="github.com/containerd/containerd/runtime/v2/shim github.com/containerd/containerd/runtime/v2/task"
		build="$build $pkgs" ;;
	*) echo "unknown graph $1" >&2; exit 2 ;;
	esac
}

versions() {
	go list -m -f '{{.Path}} {{.Version}}{{with .Replace}} => {{.Version}}{{end}}' all |
		grep -E '^(github.com/gogo/protobuf|github.com/golang/protobuf|golang.org/x/sys|google.golang.org/genproto|google.golang.org/genproto/googleapis/rpc|google.golang.org/grpc|google.golang.org/protobuf) ' |
		sed 's/^/    /'
	echo "    googleapis/rpc/status from: $(go list -f '{{.Module}}' google.golang.org/genproto/googleapis/rpc/status)"
}

fail=0
graphs=${*:-v2 hcs15 hcs14 nri c15}
for w in $graphs; do
	world "$w"
	for mode in tidy raw; do
		d=$work/$w-$mode
		mkdir -p "$d"
		cat >"$d/go.mod" <<MOD
module example.com/graph/$w

go 1.21

require (
$requires
)

replace (
	github.com/containerd/ttrpc => $root
$replaces
)
MOD
		start=$(date +%s)
		echo "== $w ($mode)"
		if [ "$mode" = tidy ]; then
			{
				printf '//go:build tools\n\npackage graph\n\nimport (\n\t_ "github.com/containerd/ttrpc"\n'
				for p in $pkgs; do printf '\t_ "%s"\n' "$p"; done
				printf ')\n'
			} >"$d/tools.go"
			cmd="go mod tidy && go build $build"
		else
			cmd="go build -mod=mod $build"
		fi
		if (cd "$d" && eval "$cmd") >"$d/log" 2>&1; then
			(cd "$d" && { [ "$mode" = tidy ] || export GOFLAGS="${GOFLAGS:-} -mod=mod"; } && versions)
			echo "   ok ($(($(date +%s) - start))s)"
		else
			grep -v '^go: downloading' "$d/log" | head -20 | sed 's/^/    /'
			echo "   FAILED ($(($(date +%s) - start))s)"
			fail=1
		fi
	done
done
exit $fail
