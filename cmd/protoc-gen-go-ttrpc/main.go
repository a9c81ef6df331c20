// Command protoc-gen-go-ttrpc is a protoc plugin that generates ttrpc
// service code for use with the messages protoc-gen-go generates.
//
// For every proto file that declares services it writes <file>_ttrpc.pb.go
// next to protoc-gen-go's <file>.pb.go, in the same Go package. For a
// service Foo in proto package pkg it generates:
//
//   - FooService, the interface a server implements. A unary rpc is
//     M(ctx, *In) (*Out, error); a server-streaming one is
//     M(ctx, *In, Foo_MServer) error; a client-streaming one is
//     M(ctx, Foo_MServer) (*Out, error); a bidirectional one is
//     M(ctx, Foo_MServer) error.
//   - RegisterFooService(srv *ttrpc.Server, svc FooService), registering
//     the service as "pkg.Foo" through srv.RegisterService.
//   - NewFooClient(client *ttrpc.Client). For a service without streaming
//     rpcs it returns FooService, as ttrpc 1.0 code expects. Otherwise it
//     returns FooClient, an interface whose streaming methods open a stream
//     (M(ctx, *In) (Foo_MClient, error) when only the server streams,
//     M(ctx) (Foo_MClient, error) when the client does).
//   - Foo_MServer and Foo_MClient for each streaming rpc, wrapping
//     ttrpc.StreamServer and ttrpc.ClientStream with typed Send, Recv and,
//     for client-streaming rpcs on the client side, CloseAndRecv.
//
// Parameters (--go-ttrpc_opt or the part of --go-ttrpc_out before ':'):
//
//	prefix=NAME    put NAME in front of the service's Go name in every
//	               generated identifier (NAMEFooService, NewNAMEFooClient,
//	               NAMEFoo_MServer, ...); the wire name stays "pkg.Foo".
//
// plus the parameters every protogen plugin understands (paths=,
// module=, M<file>=<import path>). Unknown parameters are ignored with a
// warning on standard error.
//
// The plugin supports proto3 optional fields and protobuf editions up to
// edition 2023.
//
//	protoc -I. --go_out=. --go_opt=paths=source_relative \
//	    --go-ttrpc_out=. --go-ttrpc_opt=paths=source_relative foo.proto
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

const programName = "protoc-gen-go-ttrpc"

func main() {
	if len(os.Args) > 1 {
		os.Exit(commandLine(os.Args[1:], os.Stdout, os.Stderr))
	}
	var cfg config
	options(&cfg, os.Stderr).Run(func(gen *protogen.Plugin) error {
		return generate(gen, cfg)
	})
}

// commandLine handles the program being run by a person rather than by
// protoc, and returns the exit status.
func commandLine(args []string, stdout, stderr io.Writer) int {
	switch args[0] {
	case "--version", "-version":
		fmt.Fprintln(stdout, programName, moduleVersion())
		return 0
	case "--help", "-help", "-h":
		fmt.Fprintf(stdout, "%s is a protoc plugin: protoc --go-ttrpc_out=DIR [--go-ttrpc_opt=prefix=NAME,paths=source_relative] FILE.proto\n", programName)
		return 0
	}
	fmt.Fprintf(stderr, "%s: unknown argument %q (this program is run by protoc; see --help)\n", programName, args[0])
	return 2
}

// moduleVersion is the version of the module the binary was built from, as
// recorded by go install.
func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// config holds the plugin's own parameters.
type config struct {
	// prefix goes in front of each service's Go name.
	prefix string
}

// options returns the protogen options that parse the plugin parameters
// into cfg. Parameters the plugin does not know are reported on warn and
// otherwise ignored, as the established generator ignores them.
func options(cfg *config, warn io.Writer) protogen.Options {
	var flags flag.FlagSet
	flags.StringVar(&cfg.prefix, "prefix", "", "prefix for the Go names of generated services")
	return protogen.Options{
		ParamFunc: func(name, value string) error {
			if flags.Lookup(name) == nil {
				fmt.Fprintf(warn, "%s: ignoring unknown parameter %q\n", programName, name)
				return nil
			}
			return flags.Set(name, value)
		},
	}
}

// generate writes the ttrpc code of every requested file that has
// services.
func generate(gen *protogen.Plugin, cfg config) error {
	gen.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL |
		pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	gen.SupportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	gen.SupportedEditionsMaximum = descriptorpb.Edition_EDITION_2023
	for _, f := range gen.Files {
		if !f.Generate || len(f.Services) == 0 {
			continue
		}
		generateFile(gen, f, cfg)
	}
	return nil
}
