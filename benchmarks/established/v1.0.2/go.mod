// The minimal echo server of cmd/compare built against the established
// ttrpc v1.0.2, under containerd 1.5's dependency pins (the last containerd
// line on ttrpc 1.0): golang/protobuf before APIv2, grpc 1.27.1. go.ours.mod
// is the same with github.com/containerd/ttrpc replaced by this repository.
module github.com/containerd/ttrpc/benchmarks/established/v1.0.2

go 1.21

require (
	github.com/containerd/ttrpc v1.0.2
	github.com/gogo/protobuf v1.3.2
)

require (
	github.com/golang/protobuf v1.3.3 // indirect
	github.com/konsorten/go-windows-terminal-sequences v1.0.2 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/sirupsen/logrus v1.4.2 // indirect
	golang.org/x/sys v0.0.0-20200930185726-fdedc70b468f // indirect
	google.golang.org/genproto v0.0.0-20200117163144-32f20d992d24 // indirect
	google.golang.org/grpc v1.27.0 // indirect
)

replace (
	github.com/golang/protobuf => github.com/golang/protobuf v1.3.5
	google.golang.org/genproto => google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63
	google.golang.org/grpc => google.golang.org/grpc v1.27.1
)
