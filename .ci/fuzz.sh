#!/bin/sh
# Runs every fuzz target of the root package for a bounded number of
# executions each, after their seed corpora. Any crash fails the script; the
# failing input is written under testdata/fuzz/<Target>/.
#
# The bound is a count, not a duration: when a -fuzztime duration runs out,
# Go's fuzz coordinator can report the expiry itself as a failure ("context
# deadline exceeded", with no input), a race inside the engine that a loaded
# 2-core machine hits now and then. Each count below is about 20 s of
# fuzzing on the 2-core VM the project runs on.
#
#   .ci/fuzz.sh              # CI length
#   FUZZTIME=5m .ci/fuzz.sh  # a longer local run, for every target
set -eu
cd "$(dirname "$0")/.."
execs() {
	case $1 in
	FuzzFrameReader) echo 150000x ;;
	FuzzRequestCodec) echo 200000x ;;
	FuzzResponseCodec) echo 200000x ;;
	FuzzServerConn) echo 60000x ;;
	FuzzClientReplies) echo 40000x ;;
	*) echo 50000x ;;
	esac
}
targets=$(go test -list '^Fuzz' . | grep '^Fuzz')
for t in $targets; do
	bound=${FUZZTIME:-$(execs "$t")}
	echo "== $t ($bound)"
	go test -run '^$' -fuzz "^${t}\$" -fuzztime "$bound" -fuzzminimizetime 5s .
done
