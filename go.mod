module github.com/containerd/ttrpc

go 1.21

require (
	github.com/gogo/protobuf v1.3.2
	github.com/golang/protobuf v1.5.0
	go.uber.org/goleak v1.1.10
	golang.org/x/sys v0.0.0-20200930185726-fdedc70b468f
	google.golang.org/genproto/googleapis/rpc v0.0.0-20230525234015-3fc162c6f38a
	google.golang.org/grpc v1.27.1
	google.golang.org/protobuf v1.34.0
)

require (
	golang.org/x/lint v0.0.0-20190930215403-16217165b5de // indirect
	golang.org/x/tools v0.0.0-20210106214847-113979e3529a // indirect
)
