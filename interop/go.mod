module github.com/containerd/ttrpc/interop

go 1.26.0

replace github.com/containerd/ttrpc => ../

require (
	github.com/containerd/ttrpc v0.0.0
	github.com/gogo/protobuf v1.3.2
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/golang/protobuf v1.5.4 // indirect
	golang.org/x/sys v0.48.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
)
