// Command protoc-gen-gogottrpc is a protoc plugin that generates gogo
// protobuf message code together with ttrpc service stubs.
//
// It applies gogo's vanity settings to every file it is given except
// google/protobuf/descriptor.proto, which is skipped: getters off, GoStringer
// off, Stringer on, and Marshaler, Unmarshaler and Sizer on. Options a file
// sets itself are kept. The ttrpc stubs are enabled with the plugins
// parameter:
//
//	protoc -I. -I/usr/include -I$(go list -m -f '{{.Dir}}' github.com/gogo/protobuf) \
//	    --gogottrpc_out=plugins=ttrpc,Mgoogle/protobuf/empty.proto=github.com/gogo/protobuf/types:OUT \
//	    foo.proto
package main

import (
	"github.com/gogo/protobuf/protoc-gen-gogo/descriptor"
	"github.com/gogo/protobuf/vanity"
	"github.com/gogo/protobuf/vanity/command"

	_ "github.com/containerd/ttrpc/plugin"
)

func main() {
	req := command.Read()
	files := vanity.FilterFiles(req.GetProtoFile(), vanity.NotGoogleProtobufDescriptorProto)
	applyVanity(files)
	command.Write(command.Generate(req))
}

// applyVanity sets the gogo file options of SPEC §5 on files, leaving any
// option a file sets explicitly as it is.
func applyVanity(files []*descriptor.FileDescriptorProto) {
	vanity.ForEachFile(files, vanity.TurnOffGoGettersAll)
	vanity.ForEachFile(files, vanity.TurnOffGoStringerAll)
	vanity.ForEachFile(files, vanity.TurnOnStringerAll)
	vanity.ForEachFile(files, vanity.TurnOnMarshalerAll)
	vanity.ForEachFile(files, vanity.TurnOnUnmarshalerAll)
	vanity.ForEachFile(files, vanity.TurnOnSizerAll)
}
