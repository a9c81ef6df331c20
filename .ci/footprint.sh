#!/usr/bin/env bash
# Binary-size budget against a real consumer: containerd's shim
# (containerd-shim-runc-v2), built as shims ship (CGO_ENABLED=0, -trimpath,
# -ldflags='-s -w', -tags no_btrfs), once on the established ttrpc and once
# with `replace github.com/containerd/ttrpc => <this tree>`, both from the Go
# module proxy in scratch modules. Prints both sizes and the ratio and fails
# when the ratio exceeds the budget.
#
#   .ci/footprint.sh [-m 1.5|2|all] [-b BUDGET] [-B]
#
# -m 1.5 (default)  containerd v1.5.7 under its own pins (golang/protobuf
#                   v1.3.5, grpc v1.27.1, genproto 2020-02-24) on ttrpc v1.0.2
# -m 2              containerd/v2 v2.4.2 on ttrpc v1.2.10 (needs the 1.2 API;
#                   until this module has it, the swapped-in build fails)
# -m all            both; the exit status is the worst of the two
# -b BUDGET         largest accepted ratio ours/established (default 1.01,
#                   or $FOOTPRINT_BUDGET)
# -B                breakdown too: `go version -m` differences, then unstripped
#                   builds compared symbol by symbol (bytes per module and per
#                   package, references from ttrpc into google.golang.org/protobuf
#                   and log/slog, how the linker reached them, and the functions
#                   that make it keep every exported method) by the command in
#                   benchmarks/footprint
#
# Exit status: 0 within budget, 1 over budget, 2 usage, 3 a build failed.
#
# Cache: scratch modules and binaries live in $FOOTPRINT_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/ttrpc-footprint); the module and build caches
# are Go's own (GOMODCACHE, GOCACHE). The established build is reused while
# its go.mod, go.sum, toolchain and flags are unchanged; the swapped-in one
# is relinked every run (Go's build cache recompiles only what changed).
# Versions can be overridden: FOOTPRINT_CONTAINERD15, FOOTPRINT_TTRPC10,
# FOOTPRINT_CONTAINERD2, FOOTPRINT_TTRPC12.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${FOOTPRINT_MODE:-1.5}
budget=${FOOTPRINT_BUDGET:-1.01}
breakdown=${FOOTPRINT_BREAKDOWN:-0}
cache=${FOOTPRINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ttrpc-footprint}

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	-m | --mode) mode=${2:?}; shift 2 ;;
	--mode=*) mode=${1#*=}; shift ;;
	-b | --budget) budget=${2:?}; shift 2 ;;
	--budget=*) budget=${1#*=}; shift ;;
	-B | --breakdown) breakdown=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $mode in 1.5 | 2 | all) ;; *) echo "footprint: unknown mode $mode (1.5, 2 or all)" >&2; exit 2 ;; esac
if ! awk -v b="$budget" 'BEGIN { exit !(b + 0 > 0) }'; then
	echo "footprint: budget must be a positive number, got $budget" >&2
	exit 2
fi

# Nothing outside the scratch modules may change what is built: no
# workspace, no toolchain switch, no cgo.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -mod=mod"
tags=no_btrfs
mkdir -p "$cache"
start=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
note() { printf '%s\n' "$*" >&2; }

# prepare DIR SEED PKG@VERSION: (re)creates the scratch module in DIR when
# its seed go.mod changed, resolving the shim package's dependencies.
prepare() {
	local dir=$1 seed=$2 pkg=$3
	mkdir -p "$dir"
	if [ -f "$dir/go.mod" ] && [ -f "$dir/seed" ] && [ "$(cat "$dir/seed")" = "$seed" ]; then
		return 0
	fi
	rm -f "$dir/go.mod" "$dir/go.sum" "$dir/seed" "$dir/stamp" "$dir/stamp-full"
	printf '%s\n' "$seed" >"$dir/go.mod"
	(cd "$dir" && go get "$pkg") >"$dir/get.log" 2>&1 || { cat "$dir/get.log" >&2; return 1; }
	printf '%s\n' "$seed" >"$dir/seed"
}

# build DIR PKG OUT LDFLAGS [cached]: builds the shim; with "cached", skips
# the build when OUT was built from the same go.mod, go.sum, toolchain and
# flags. With -dumpdep in LDFLAGS, the linker's graph goes to OUT.dumpdep.
build() {
	local dir=$1 pkg=$2 out=$3 ldflags=$4 cached=${5:-} key stamp
	stamp="$out.stamp"
	key=$(cat "$dir/go.mod" "$dir/go.sum" 2>/dev/null | cksum)" $(go version) $(go env GOOS GOARCH) $tags $ldflags"
	if [ -n "$cached" ] && [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	rm -f "$stamp"
	local log="$out.log" link=$ldflags
	case $ldflags in
	*-dumpdep*)
		# The go command caches linked binaries: a -X of a variable that
		# does not exist changes nothing in the output but forces the link
		# whose graph is wanted.
		log="$out.dumpdep"
		link="$ldflags -X=main.footprintRelink=$(date +%s%N)"
		;;
	esac
	if ! (cd "$dir" && go build -trimpath -tags "$tags" -ldflags="$link" -o "$out" "$pkg") 2>"$log"; then
		grep -v -e ' -> ' "$log" | tail -40 >&2
		return 1
	fi
	printf '%s\n' "$key" >"$stamp"
}

# measure LABEL CTRD_MOD CTRD_VERSION TTRPC_VERSION GO_LINE EXTRA_REPLACES
measure() {
	local label=$1 mod=$2 ver=$3 tver=$4 goline=$5 pins=$6
	local pkg=$mod/cmd/containerd-shim-runc-v2 dir=$cache/$label t0
	local seed_head="module example.com/ttrpcfootprint

$goline

require $mod $ver
"
	local base_seed="$seed_head
replace github.com/containerd/ttrpc => github.com/containerd/ttrpc $tver
$pins"
	# The root's go.mod is part of the seed: a change in its requirements
	# re-resolves the scratch module from scratch rather than on top of the
	# previous selection.
	local ours_seed="$seed_head
replace github.com/containerd/ttrpc => $root
$pins
// root go.mod $(cksum <"$root/go.mod")"

	echo "== containerd-shim-runc-v2 of $mod $ver: ttrpc $tver vs this module ($root)"
	t0=$(date +%s.%N)
	prepare "$dir/base" "$base_seed" "$pkg@$ver" || return 3
	prepare "$dir/ours" "$ours_seed" "$pkg@$ver" || return 3
	note "  modules resolved in $(elapsed "$t0")"
	t0=$(date +%s.%N)
	build "$dir/base" "$pkg" "$dir/base/shim" "-s -w" cached || { echo "established build failed" >&2; return 3; }
	note "  established build ready in $(elapsed "$t0")"
	local b o
	b=$(wc -c <"$dir/base/shim")
	printf "  %-34s %12d bytes\n" "established ttrpc $tver:" "$b"
	t0=$(date +%s.%N)
	if ! build "$dir/ours" "$pkg" "$dir/ours/shim" "-s -w"; then
		echo "  FAIL: the shim does not build with this module swapped in (errors on stderr)"
		return 3
	fi
	note "  swapped-in build ready in $(elapsed "$t0")"
	o=$(wc -c <"$dir/ours/shim")
	awk -v b="$b" -v o="$o" -v max="$budget" 'BEGIN {
		printf "  %-34s %12d bytes  (%+d)\n", "this module:", o, o - b
		printf "  %-34s %12.4f (budget %s, i.e. at most %d bytes)\n", "ratio:", o / b, max, int(b * max)
	}'
	local status=0
	if awk -v b="$b" -v o="$o" -v max="$budget" 'BEGIN { exit !(o / b <= max) }'; then
		echo "  OK: within budget"
	else
		echo "  FAIL: over budget"
		status=1
	fi
	if [ "$breakdown" = 1 ]; then
		echo
		echo "-- go version -m: module lines that differ (< established, > this module)"
		local mods
		mods=$(diff <(go version -m "$dir/base/shim" | sed 1d | grep -v '^	build' | sed 's/	h1:.*//') \
			<(go version -m "$dir/ours/shim" | sed 1d | grep -v '^	build' | sed 's/	h1:.*//') | grep '^[<>]' || true)
		echo "${mods:-(none)}"
		t0=$(date +%s.%N)
		build "$dir/base" "$pkg" "$dir/base/shim.full" "-dumpdep" cached || return 3
		build "$dir/ours" "$pkg" "$dir/ours/shim.full" "-dumpdep" || return 3
		note "  unstripped builds ready in $(elapsed "$t0")"
		echo
		(cd "$root/benchmarks/footprint" && GOFLAGS= go run . \
			-base "$dir/base/shim.full" -ours "$dir/ours/shim.full" \
			-dumpdep "$dir/ours/shim.full.dumpdep" -basedumpdep "$dir/base/shim.full.dumpdep" \
			${FOOTPRINT_ANALYZE_FLAGS:-}) || return 3
	fi
	return $status
}

worst=0
run() {
	local rc=0
	measure "$@" || rc=$?
	[ $rc -gt $worst ] && worst=$rc
	echo
}
if [ "$mode" = 1.5 ] || [ "$mode" = all ]; then
	# A containerd 1.5-era go.mod lists the monolithic genproto it pins
	# (containerd's own does); README, Swapping it in, says why it matters.
	run containerd-1.5 github.com/containerd/containerd "${FOOTPRINT_CONTAINERD15:-v1.5.7}" "${FOOTPRINT_TTRPC10:-v1.0.2}" "go 1.21" "
require google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63

replace (
	github.com/golang/protobuf => github.com/golang/protobuf v1.3.5
	google.golang.org/genproto => google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63
	google.golang.org/grpc => google.golang.org/grpc v1.27.1
)"
fi
if [ "$mode" = 2 ] || [ "$mode" = all ]; then
	run containerd-2 github.com/containerd/containerd/v2 "${FOOTPRINT_CONTAINERD2:-v2.4.2}" "${FOOTPRINT_TTRPC12:-v1.2.10}" "go 1.21" ""
fi
note "footprint: done in $(elapsed "$start") (cache: $cache)"
exit $worst
