module github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc/example

go 1.21

require (
	github.com/containerd/ttrpc v1.2.10
	google.golang.org/protobuf v1.34.0
)

require (
	github.com/golang/protobuf v1.5.0 // indirect
	golang.org/x/net v0.0.0-20201021035429-f5854403a974 // indirect
	golang.org/x/sys v0.0.0-20200930185726-fdedc70b468f // indirect
	golang.org/x/xerrors v0.0.0-20200804184101-5ec99f83aff1 // indirect
	google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63 // indirect
	google.golang.org/grpc v1.27.1 // indirect
)

// The example builds against the code in this repository.
replace github.com/containerd/ttrpc => ../../..
