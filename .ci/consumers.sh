#!/usr/bin/env bash
# Swap-in check against today's consumers. Each consumer module is fetched
# from the module proxy, unpacked as a main module of its own, pointed at this
# tree with one line (replace github.com/containerd/ttrpc => <repo root>) and
# then, for its packages that import github.com/containerd/ttrpc:
#   build + vet   for each GOOS the consumer supports (vet type-checks tests);
#   test          on linux, with the exclusions listed in skip_tests below.
# Compile errors are summarised as the ttrpc identifiers they miss; anything
# else (module graph errors, other compile errors) is shown as is.
#
#   .ci/consumers.sh                     # all consumers
#   .ci/consumers.sh nri otelttrpc       # some of them
#   CONSUMERS_TTRPC=upstream .ci/consumers.sh
#        # same, against the release each consumer requires (no replace),
#        # to tell the consumer's own failures from ours
#   CONSUMERS_NOTEST=1 .ci/consumers.sh  # build and vet only
#
# Caches: the default module cache and build cache (test results included)
# are reused, so a second run downloads nothing and re-tests only what
# changed. Work trees go to $CONSUMERS_WORK (default: a temporary directory).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS="${GOFLAGS:-} -mod=mod"
work=${CONSUMERS_WORK:-$(mktemp -d)}
[ -n "${CONSUMERS_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

# name  module  version  GOOS values to build and vet
consumers='
containerd2   github.com/containerd/containerd/v2   v2.4.2  linux,windows
api           github.com/containerd/containerd/api  v1.12.0 linux,windows
containerd17  github.com/containerd/containerd      v1.7.35 linux,windows
hcsshim       github.com/Microsoft/hcsshim          v0.14.1 windows,linux
otelttrpc     github.com/containerd/otelttrpc       v0.1.0  linux,windows
nri           github.com/containerd/nri             v0.12.5 linux
gvisor        gvisor.dev/gvisor                     v0.0.0-20260905035102-160fafc42237 linux
'

# Packages whose tests are not run (an extended regexp on the import path),
# each with its reason. They are still built and vetted.
skip_packages() {
	case $1 in
	containerd2)
		# CRI integration suite: needs a running containerd daemon on
		# /run/containerd/containerd.sock (its TestMain exits otherwise).
		echo '/v2/integration$' ;;
	containerd17)
		# The same CRI integration suite in containerd 1.7.
		echo '^github.com/containerd/containerd/integration$' ;;
	esac
}
# Tests not run inside the tested packages (a go test -skip pattern).
skip_tests() {
	case $1 in
	*) ;;
	esac
}

now() { date +%s; }
ttrpc_re='github.com/containerd/ttrpc( |$)'
missing_re='undefined: ttrpc\.[A-Za-z0-9_]+|type \*?ttrpc\.[A-Za-z0-9_]+ has no (field or )?method [A-Za-z0-9_]+|unknown field [A-Za-z0-9_]+ in struct literal of type ttrpc\.[A-Za-z0-9_]+|ttrpc\.[A-Za-z0-9_]+ undefined'

# summarize LOG: the missing ttrpc identifiers, then other error lines.
summarize() {
	local ids other
	ids=$(grep -oE "$missing_re" "$1" | sed -E \
		-e 's/^undefined: ttrpc\.//' \
		-e 's/^type \*?ttrpc\.([A-Za-z0-9_]+) has no (field or )?method (.*)/\1.\3/' \
		-e 's/^unknown field ([A-Za-z0-9_]+) in struct literal of type ttrpc\.(.*)/\2.\1/' \
		-e 's/^ttrpc\.([A-Za-z0-9_]+) undefined/\1/' | sort -u | tr '\n' ' ')
	[ -n "$ids" ] && echo "    missing ttrpc API: $ids"
	other=$(grep -vE "$missing_re|^#|^go: downloading|too many errors|^ok |^FAIL|^---|^\?|^=== |^PASS" "$1" |
		grep -E 'error|cannot|undefined|ambiguous|not|invalid|panic|mismatch|missing' | sort -u | head -15)
	[ -n "$other" ] && { echo "    other errors:"; echo "$other" | sed 's/^/      /' | cut -c1-300; }
	return 0
}

status=0
report=""
add() { report="$report$(printf '%-13s %-16s %-4s %5ss  %s' "$@")
"; }
only=${*:-}
while read -r name mod ver goos; do
	[ -n "$name" ] || continue
	if [ -n "$only" ] && ! printf ' %s ' "$only" | grep -q " $name "; then continue; fi
	echo
	echo "=== $name: $mod@$ver"
	dir=$work/$name
	t=$(now)
	rm -rf "$dir"
	src=$(go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$src" ]; then
		echo "    cannot download $mod@$ver"; add "$name" setup - "$(($(now) - t))" FAIL; status=1; continue
	fi
	cp -r "$src" "$dir" && chmod -R u+w "$dir" && rm -rf "$dir/vendor"
	cd "$dir"
	if [ "${CONSUMERS_TTRPC:-}" != upstream ]; then
		go mod edit -replace "github.com/containerd/ttrpc=$root"
	fi
	# Resolve the graph (a replace may need new go.sum lines); this is
	# where module graph errors such as ambiguous imports show up.
	if go mod download >"$dir/log.setup" 2>&1 && go list -e ./... >/dev/null 2>>"$dir/log.setup"; then
		add "$name" setup - "$(($(now) - t))" ok
	else
		add "$name" setup - "$(($(now) - t))" FAIL; status=1; summarize "$dir/log.setup"
	fi
	# What a user runs after adding the replace line. It also resolves the
	# go.mod "tool" directives, which name packages of ttrpc too.
	t=$(now)
	cp go.mod go.mod.before-tidy
	if go mod tidy >"$dir/log.tidy" 2>&1; then
		add "$name" tidy - "$(($(now) - t))" ok
	else
		add "$name" tidy - "$(($(now) - t))" FAIL; status=1
		echo "  go mod tidy failed:"; grep -v '^go: \(downloading\|finding\)' "$dir/log.tidy" | head -5 | sed 's/^/    /'
		cp go.mod.before-tidy go.mod
	fi
	for os in ${goos//,/ }; do
		# The consumer's packages that import ttrpc, in code or in tests.
		GOOS=$os go list -e -f '{{if not .Error}}{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}{{end}}' ./... 2>/dev/null |
			grep -E " $ttrpc_re" | cut -d' ' -f1 >"$dir/pkgs.$os"
		GOOS=$os go list -e -f '{{if not .Error}}{{.ImportPath}} {{join .Imports " "}}{{end}}' ./... 2>/dev/null |
			grep -E " $ttrpc_re" | cut -d' ' -f1 >"$dir/pkgs-nontest.$os"
		echo "--- GOOS=$os: $(wc -l <"$dir/pkgs-nontest.$os") packages import ttrpc, $(wc -l <"$dir/pkgs.$os") with tests"
		sed 's/^/    /' "$dir/pkgs.$os"
		[ -s "$dir/pkgs.$os" ] || continue
		t=$(now)
		if GOOS=$os go build -gcflags=all=-e $(cat "$dir/pkgs-nontest.$os") >"$dir/log.build.$os" 2>&1; then
			add "$name" build "$os" "$(($(now) - t))" ok
		else
			add "$name" build "$os" "$(($(now) - t))" FAIL; status=1
			echo "  build ($os) failed:"; summarize "$dir/log.build.$os"
		fi
		t=$(now)
		if GOOS=$os go vet $(cat "$dir/pkgs.$os") >"$dir/log.vet.$os" 2>&1; then
			add "$name" vet "$os" "$(($(now) - t))" ok
		else
			add "$name" vet "$os" "$(($(now) - t))" FAIL; status=1
			echo "  vet ($os) failed:"; summarize "$dir/log.vet.$os"
		fi
		if [ "$os" = linux ] && [ -z "${CONSUMERS_NOTEST:-}" ]; then
			t=$(now)
			skip=$(skip_tests "$name")
			skippkg=$(skip_packages "$name")
			grep -vE "${skippkg:-^$}" "$dir/pkgs.$os" >"$dir/pkgs-test" || true
			[ -z "$skippkg" ] || echo "    tests not run in: $(grep -E "$skippkg" "$dir/pkgs.$os" | tr '\n' ' ')"
			[ -n "$skip" ] && echo "    tests skipped: $skip"
			[ -s "$dir/pkgs-test" ] || continue
			if go test ${skip:+-skip "$skip"} -timeout 10m $(cat "$dir/pkgs-test") >"$dir/log.test" 2>&1; then
				add "$name" test "$os" "$(($(now) - t))" ok
			else
				add "$name" test "$os" "$(($(now) - t))" FAIL; status=1
				echo "  test failed:"; summarize "$dir/log.test"
				grep -E '^(--- FAIL|FAIL|panic:)' "$dir/log.test" | head -20 | sed 's/^/    /'
			fi
			grep -E '^(ok|FAIL|---)' "$dir/log.test" | grep -vE '^--- (PASS|SKIP)' | sed 's/^/    /' | head -60
		fi
	done
	cd "$root"
done <<EOF
$consumers
EOF
echo
echo "=== summary (step, GOOS, seconds, result); logs in $work/<name>/log.*"
printf '%s' "$report"
exit $status
