#!/bin/sh
# Interop check: runs this module's ttrpc against the established
# github.com/containerd/ttrpc v1.0.2 and v1.2.10, each in a process of its own,
# in both directions (see interop/README.md). The test builds the peer
# programs itself (interop/peers/*, each its own module), so the first run
# needs the Go module proxy or a filled module cache.
#
#   .ci/interop.sh                          # the whole suite
#   .ci/interop.sh -run TestShutdown -v     # extra flags go to go test
set -eu
cd "$(dirname "$0")/../interop"
start=$(date +%s)
status=0
go test -race -count=1 -timeout 10m "$@" ./... || status=$?
end=$(date +%s)
echo "interop: go test -race took $((end - start))s (exit status $status)"
exit "$status"
