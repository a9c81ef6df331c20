#!/bin/sh
# Builds and tests the library under the dependency pins of a real consumer:
# containerd 1.5.x replaces grpc, golang/protobuf and genproto with these
# versions (golang/protobuf before APIv2, genproto's monolithic module), so
# spb.Status.Details is the old golang/protobuf any.Any. A copy of the tree
# gets those replace lines and runs the root package's tests.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/." "$work/"
cd "$work"
rm -rf benchmarks .git
# The one line a containerd 1.5-era go.mod has that ours cannot: the
# monolithic genproto. It keeps googleapis/rpc/status coming from the pinned
# monolith rather than from the split googleapis/rpc module we require.
go mod edit -droprequire google.golang.org/genproto/googleapis/rpc -require google.golang.org/genproto@v0.0.0-20200224152610-e50cd9704f63
cat >>go.mod <<'MOD'

replace (
	github.com/golang/protobuf => github.com/golang/protobuf v1.3.5
	google.golang.org/genproto => google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63
	google.golang.org/grpc => google.golang.org/grpc v1.27.1
)
MOD
go mod tidy >/dev/null 2>&1 || true
echo "== module versions under containerd 1.5 pins"
go list -m github.com/golang/protobuf google.golang.org/genproto google.golang.org/grpc github.com/gogo/protobuf
go build ./...
go vet .
go test -race -count=1 . ${OLDPINS_TESTFLAGS:-}
