#!/bin/sh
# Refreshes the copy of the stream service and workloads this module builds
# against ttrpc v1.2.10. cmd/compare refuses to run while it differs from
# benchmarks/internal/ttrpcstream/stream.go.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cp "$here/../../internal/ttrpcstream/stream.go" "$here/internal/ttrpcstream/stream.go"
