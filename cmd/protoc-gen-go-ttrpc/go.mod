module github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc

go 1.21

require google.golang.org/protobuf v1.34.0
