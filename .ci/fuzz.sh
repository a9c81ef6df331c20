#!/bin/sh
# Runs every fuzz target of the root package for a bounded time each
# (FUZZTIME, default 20s), after their seed corpora. Any crash fails the
# script; the failing input is written under testdata/fuzz/<Target>/.
#
#   .ci/fuzz.sh            # CI length
#   FUZZTIME=5m .ci/fuzz.sh  # a longer local run
set -eu
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}
targets=$(go test -list '^Fuzz' . | grep '^Fuzz')
for t in $targets; do
	echo "== $t ($FUZZTIME)"
	go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s .
done
