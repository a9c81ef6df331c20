// go.mod with github.com/containerd/ttrpc replaced by this repository, under
// the same pins: cmd/compare builds the same minimal server with
// -modfile=go.ours.mod, so the two builds differ only in ttrpc.
module github.com/containerd/ttrpc/benchmarks/established/v1.0.2

go 1.21

require (
	github.com/containerd/ttrpc v1.0.2
	github.com/gogo/protobuf v1.3.2
)

require (
	github.com/golang/protobuf v1.4.0 // indirect
	golang.org/x/sys v0.0.0-20200930185726-fdedc70b468f // indirect
	google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63 // indirect
	google.golang.org/grpc v1.27.1 // indirect
	google.golang.org/protobuf v1.22.0 // indirect
)

replace (
	github.com/containerd/ttrpc => ../../..
	github.com/golang/protobuf => github.com/golang/protobuf v1.3.5
	google.golang.org/genproto => google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63
	google.golang.org/grpc => google.golang.org/grpc v1.27.1
)
