#!/usr/bin/env bash
# Regenerates the ttrpc code of containerd's api module with this repository's
# protoc-gen-go-ttrpc and checks that it is a drop-in for the checked-in code
# (written by the established generator):
#
#  1. github.com/containerd/containerd/api@$api_version is fetched from the
#     module proxy and copied twice into a scratch directory: "orig" (as
#     released) and "regen".
#  2. For every *_ttrpc.pb.go in it, the .proto beside it is run through
#     protoc with cmd/protoc-gen-go-ttrpc built from this tree, with the
#     options of the module's buf.gen.yaml (paths=source_relative,
#     prefix=TTRPC), and the output replaces the checked-in _ttrpc.pb.go in
#     "regen". Nothing else is regenerated: the protoc-gen-go, grpc and
#     fieldpath output stays as released. google/rpc/status.proto comes from
#     github.com/gogo/googleapis (module proxy), the well-known types from
#     protoc's include directory.
#  3. Both copies get `replace github.com/containerd/ttrpc => <this tree>` and
#     must `go build ./...` and `go vet ./...` for linux and windows. The
#     string literals of each regenerated file outside comments (service and
#     method names on the wire, import paths) must be those of the checked-in
#     file, and golang.org/x/exp/cmd/apidiff must find no difference at all,
#     compatible or not, between each package of "orig" and of "regen" (and
#     between the two modules), for each GOOS.
#  4. containerd/v2 $containerd_version is built against "regen" (replace
#     github.com/containerd/containerd/api => regen, github.com/containerd/ttrpc
#     => this tree): every package of it that imports a regenerated package
#     (go build, and go vet, which also compiles their tests), and the
#     binaries cmd/containerd, cmd/ctr (linux, windows) and
#     cmd/containerd-shim-runc-v2 (linux).
#
#   .ci/regen-containerd-api.sh                # all four steps
#   REGEN_CONSUMERS=0 .ci/regen-containerd-api.sh   # steps 1-3 only
#   KEEP_WORK=1 .ci/regen-containerd-api.sh    # keep the scratch directory
#
# Needs protoc (3.21 is what Debian ships) and the Go module proxy; uses the
# default module and build caches. Any failure or difference exits non-zero.
# Time on the 2-core machine (module cache filled): with a warm build cache
# about 2 1/4 minutes, 55 s for steps 1-3 and 80 s for step 4; with an empty
# build cache about 4 1/2 minutes, 110 s for steps 1-3 and 170 s for step 4.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

api_version=v1.12.0                                 # github.com/containerd/containerd/api
containerd_version=v2.4.2                           # github.com/containerd/containerd/v2
googleapis_version=v1.4.1                           # github.com/gogo/googleapis (google/rpc/status.proto)
apidiff_version=v0.0.0-20261113113407-e3970619a1a4  # golang.org/x/exp
goos_list="linux windows"
protoc=${PROTOC:-protoc}
api_mod=github.com/containerd/containerd/api
ctrd_mod=github.com/containerd/containerd/v2

start=$(date +%s)
step_start=$start
step() {
	local now
	now=$(date +%s)
	printf '   (%ds)\n\n== %s\n' "$((now - step_start))" "$*"
	step_start=$now
}
summary=()
note() { summary+=("$*"); echo "-- $*"; }

work=$(mktemp -d /tmp/regen-containerd-api.XXXXXX)
if [ -n "${KEEP_WORK:-}" ]; then
	echo "scratch directory (kept): $work"
else
	trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
fi

# moddir MODULE@VERSION: download into the module cache and print its Dir.
moddir() {
	go mod download -json "$1" >"$work/download.json"
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$work/download.json"
}

step "1. fetch $api_mod@$api_version"
command -v "$protoc" >/dev/null || { echo "protoc not found" >&2; exit 1; }
"$protoc" --version
api_dir=$(moddir "$api_mod@$api_version")
googleapis_dir=$(moddir "github.com/gogo/googleapis@$googleapis_version")
[ -f "$googleapis_dir/google/rpc/status.proto" ] || { echo "no google/rpc/status.proto in $googleapis_dir" >&2; exit 1; }
wkt_dir=
for d in /usr/include /usr/local/include "$(dirname "$(command -v "$protoc")")/../include"; do
	if [ -f "$d/google/protobuf/descriptor.proto" ]; then wkt_dir=$d; break; fi
done
[ -n "$wkt_dir" ] || { echo "protoc's well-known types (google/protobuf/*.proto) not found" >&2; exit 1; }
echo "api: $api_dir"
echo "google/rpc/status.proto: $googleapis_dir; google/protobuf: $wkt_dir"
cp -r "$api_dir" "$work/orig"
cp -r "$api_dir" "$work/regen"
chmod -R u+w "$work/orig" "$work/regen"

step "2. regenerate the _ttrpc.pb.go files with this tree's protoc-gen-go-ttrpc"
(cd "$root" && go build -o "$work/bin/protoc-gen-go-ttrpc" ./cmd/protoc-gen-go-ttrpc)
"$work/bin/protoc-gen-go-ttrpc" --version
cd "$work/regen"
mapfile -t ttrpc_files < <(find . -name '*_ttrpc.pb.go' | sed 's|^\./||' | LC_ALL=C sort)
[ "${#ttrpc_files[@]}" -gt 0 ] || { echo "no _ttrpc.pb.go files in $api_mod@$api_version" >&2; exit 1; }
protos=()
for f in "${ttrpc_files[@]}"; do
	p=${f%_ttrpc.pb.go}.proto
	[ -f "$p" ] || { echo "$f: no $p beside it" >&2; exit 1; }
	[ -f "${f%_ttrpc.pb.go}.pb.go" ] || { echo "$f: no ${f%_ttrpc.pb.go}.pb.go beside it" >&2; exit 1; }
	src=$(sed -n 's|^// source: ||p' "$f" | head -n1)
	[ "$src" = "$p" ] || { echo "$f: its source line names '$src', not $p" >&2; exit 1; }
	protos+=("$p")
done
# Protos that declare a service but have no _ttrpc.pb.go are left alone, as
# the module's own generation leaves them; list them for the record.
for p in $(find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort); do
	if grep -q '^service ' "$p" && [ ! -f "${p%.proto}_ttrpc.pb.go" ]; then
		echo "note: $p declares a service but has no _ttrpc.pb.go (not regenerated)"
	fi
done
mkdir -p "$work/out"
"$protoc" -I. -I"$wkt_dir" -I"$googleapis_dir" \
	--plugin=protoc-gen-go-ttrpc="$work/bin/protoc-gen-go-ttrpc" \
	--go-ttrpc_out="$work/out" \
	--go-ttrpc_opt=paths=source_relative,prefix=TTRPC,Mgoogle/rpc/status.proto=google.golang.org/genproto/googleapis/rpc/status \
	"${protos[@]}"
# Exactly one output per checked-in file, and nothing else.
mapfile -t out_files < <(cd "$work/out" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
if [ "${out_files[*]}" != "${ttrpc_files[*]}" ]; then
	echo "the plugin's output files differ from the checked-in _ttrpc.pb.go files:" >&2
	diff <(printf '%s\n' "${ttrpc_files[@]}") <(printf '%s\n' "${out_files[@]}") >&2 || true
	exit 1
fi
unformatted=$(cd "$work/out" && gofmt -l .)
[ -z "$unformatted" ] || { echo "not gofmt-clean: $unformatted" >&2; exit 1; }
for f in "${ttrpc_files[@]}"; do
	cp "$work/out/$f" "$f"
	printf '%-52s %4d lines (checked-in %4d)\n' "$f" "$(wc -l <"$f")" "$(wc -l <"$work/orig/$f")"
done
# Only the _ttrpc.pb.go files changed.
changed=$(diff -rq "$work/orig" "$work/regen" | grep -v '_ttrpc\.pb\.go differ$' || true)
[ -z "$changed" ] || { echo "unexpected changes: $changed" >&2; exit 1; }
note "regenerated ${#ttrpc_files[@]} _ttrpc.pb.go files from ${#protos[@]} protos"

# String literals outside comments: service and method names, import paths.
literals() { grep -v '^[[:space:]]*//' "$1" | grep -o '"[^"]*"' | LC_ALL=C sort -u; }
lit_diffs=0
for f in "${ttrpc_files[@]}"; do
	if ! d=$(diff <(literals "$work/orig/$f") <(literals "$f")); then
		echo "$f: string literals differ (< checked-in, > regenerated):"
		echo "$d"
		lit_diffs=$((lit_diffs + 1))
	fi
done
[ "$lit_diffs" -eq 0 ] || { echo "string literals differ in $lit_diffs file(s)" >&2; exit 1; }
note "service and method names and import paths: the same in every file"

step "3. build and vet both copies against this tree (GOOS: $goos_list); apidiff"
for c in orig regen; do
	(
		cd "$work/$c"
		go mod edit -replace "github.com/containerd/ttrpc=$root"
		go mod tidy
		for os in $goos_list; do
			echo "-- $c: GOOS=$os go build ./... && go vet ./..."
			GOOS=$os go build ./...
			GOOS=$os go vet ./...
		done
	)
done
note "api module, checked-in and regenerated: build and vet pass for $goos_list"

GOBIN="$work/bin" go install "golang.org/x/exp/cmd/apidiff@$apidiff_version"
apidiff="$work/bin/apidiff"
mapfile -t pkgs < <(printf '%s\n' "${ttrpc_files[@]}" | xargs -n1 dirname | LC_ALL=C sort -u | sed "s|^|$api_mod/|")
api_diffs=0
mkdir -p "$work/exp"
for os in $goos_list; do
	for p in "${pkgs[@]}"; do
		exp="$work/exp/$(echo "$p" | tr / _).$os"
		(cd "$work/orig" && GOOS=$os "$apidiff" -w "$exp" "$p")
		out=$(cd "$work/regen" && GOOS=$os "$apidiff" "$exp" "$p")
		if [ -n "$out" ]; then
			echo "== GOOS=$os $p: checked-in (old) -> regenerated (new)"
			echo "$out"
			api_diffs=$((api_diffs + 1))
		fi
	done
	(cd "$work/orig" && GOOS=$os "$apidiff" -m -w "$work/exp/module.$os" "$api_mod")
	out=$(cd "$work/regen" && GOOS=$os "$apidiff" -m "$work/exp/module.$os" "$api_mod")
	if [ -n "$out" ]; then
		echo "== GOOS=$os module $api_mod: checked-in (old) -> regenerated (new)"
		echo "$out"
		api_diffs=$((api_diffs + 1))
	fi
	echo "-- GOOS=$os: apidiff compared ${#pkgs[@]} packages and the module"
done
[ "$api_diffs" -eq 0 ] || { echo "apidiff: differences in $api_diffs comparison(s)" >&2; exit 1; }
note "apidiff ($apidiff_version): no difference in ${#pkgs[@]} packages or the module, GOOS $goos_list"

if [ "${REGEN_CONSUMERS:-1}" != 0 ]; then
	step "4. build $ctrd_mod $containerd_version against the regenerated api"
	mkdir -p "$work/consumer"
	cd "$work/consumer"
	cat >go.mod <<MOD
module example.com/regen/consumer

go 1.21

require $ctrd_mod $containerd_version

replace (
	$api_mod => $work/regen
	github.com/containerd/ttrpc => $root
)
MOD
	# This tree's ttrpc imports github.com/golang/protobuf, which
	# containerd's go.mod (tidied against the established ttrpc) does not
	# list: pin it at the version the api module's graph selected instead of
	# letting -mod=mod look up the latest.
	if pb=$(cd "$work/regen" && go list -m -f '{{.Version}}' github.com/golang/protobuf 2>/dev/null) && [ -n "$pb" ]; then
		go mod edit -require "github.com/golang/protobuf@$pb"
	fi
	# -mod=mod lets go fill go.sum from the module cache and proxy.
	printf '%s\n' "${pkgs[@]}" >"$work/regen-pkgs.txt"
	for os in $goos_list; do
		GOOS=$os go list -mod=mod -e -f '{{if not .Error}}{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}{{end}}' "$ctrd_mod/..." >"$work/imports.$os"
		mapfile -t users < <(awk 'NR==FNR{r[$1]=1;next}{for(i=2;i<=NF;i++) if($i in r){print $1; break}}' "$work/regen-pkgs.txt" "$work/imports.$os")
		[ "${#users[@]}" -gt 0 ] || { echo "no package of $ctrd_mod imports a regenerated package (GOOS=$os)" >&2; exit 1; }
		bins="$ctrd_mod/cmd/containerd $ctrd_mod/cmd/ctr"
		[ "$os" = linux ] && bins="$bins $ctrd_mod/cmd/containerd-shim-runc-v2"
		echo "-- GOOS=$os: go build and go vet of ${#users[@]} packages that import a regenerated package; go build of $bins"
		printf '   %s\n' "${users[@]}"
		GOOS=$os go build -mod=mod -o /dev/null "${users[@]}"
		GOOS=$os go vet -mod=mod "${users[@]}"
		# shellcheck disable=SC2086
		GOOS=$os go build -mod=mod -o /dev/null $bins
		note "containerd/v2 $containerd_version, GOOS=$os: ${#users[@]} importing packages build and vet, and $(echo "$bins" | wc -w) binaries build"
	done
	ver=$(go list -mod=mod -m -f '{{.Path}} {{.Version}} => {{.Replace.Path}}' $api_mod github.com/containerd/ttrpc)
	echo "$ver"
fi

step "summary"
printf '%s\n' "${summary[@]}"
echo "regen-containerd-api: all checks passed in $(($(date +%s) - start))s"
