#!/bin/sh
# Refreshes the copies this module builds against ttrpc v1.0.2: the
# benchmark's generated echo service and its minimal server's main (with the
# import path of this module's copy). cmd/compare refuses to run while they
# differ from the originals.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bench=$here/../..
cp "$bench/internal/ttrpcecho/echo.pb.go" "$here/internal/ttrpcecho/echo.pb.go"
sed 's#github.com/containerd/ttrpc/benchmarks/internal/ttrpcecho#github.com/containerd/ttrpc/benchmarks/established/v1.0.2/internal/ttrpcecho#' \
	"$bench/cmd/minttrpc/main.go" >"$here/cmd/minttrpc/main.go"
