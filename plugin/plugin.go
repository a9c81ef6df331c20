// Package plugin is a gogo protobuf generator plugin, named "ttrpc", that
// writes ttrpc service stubs next to the message code gogo generates.
//
// The plugin registers itself with gogo's generator when this package is
// imported, so a protoc plugin binary only needs a blank import:
//
//	import _ "github.com/containerd/ttrpc/plugin"
//
// and protoc enables it with the "plugins=ttrpc" parameter, for example
// --gogottrpc_out=plugins=ttrpc:OUT. For every service Foo in proto package
// pkg it generates:
//
//   - a FooService interface with one method per rpc,
//     M(ctx context.Context, req *In) (*Out, error);
//   - RegisterFooService(srv *ttrpc.Server, svc FooService), which registers
//     the service under the name "pkg.Foo";
//   - NewFooClient(client *ttrpc.Client) FooService, backed by an unexported
//     client type that issues client.Call(ctx, "pkg.Foo", "M", req, &resp).
//
// Streaming rpcs are not part of the ttrpc 1.0 protocol. The plugin leaves
// them out of the generated interface, writes a comment in their place and
// prints a warning on standard error; the rest of the file is generated as
// usual.
package plugin

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gogo/protobuf/protoc-gen-gogo/descriptor"
	"github.com/gogo/protobuf/protoc-gen-gogo/generator"
)

const (
	// pluginName is the name selected with "plugins=ttrpc".
	pluginName = "ttrpc"

	contextImportPath = "context"
	ttrpcImportPath   = "github.com/containerd/ttrpc"

	// Field numbers in descriptor.proto used to build source-info paths.
	serviceFieldNumber = 6 // FileDescriptorProto.service
	methodFieldNumber  = 2 // ServiceDescriptorProto.method
)

// warnings receives notices about rpcs that were skipped. Tests replace it.
var warnings io.Writer = os.Stderr

func init() {
	generator.RegisterPlugin(&ttrpcGenerator{})
}

// ttrpcGenerator implements generator.Plugin.
type ttrpcGenerator struct {
	gen *generator.Generator

	// Package names for this file, filled in per file by Generate.
	contextPkg string
	ttrpcPkg   string
}

// Name reports the plugin name used in the plugins= parameter.
func (p *ttrpcGenerator) Name() string { return pluginName }

// Init remembers the generator the plugin writes to.
func (p *ttrpcGenerator) Init(g *generator.Generator) { p.gen = g }

// GenerateImports does nothing: imports are added through the generator's
// AddImport so they are named consistently with the rest of the file.
func (p *ttrpcGenerator) GenerateImports(file *generator.FileDescriptor) {}

// Generate writes the stubs for every service in file.
func (p *ttrpcGenerator) Generate(file *generator.FileDescriptor) {
	if len(file.FileDescriptorProto.Service) == 0 {
		return
	}
	p.ttrpcPkg = string(p.gen.AddImport(ttrpcImportPath))
	p.contextPkg = ""
	for _, svc := range file.FileDescriptorProto.Service {
		for _, m := range svc.Method {
			if !isStreaming(m) {
				p.contextPkg = string(p.gen.AddImport(contextImportPath))
			}
		}
	}
	for i, svc := range file.FileDescriptorProto.Service {
		p.generateService(file, svc, i)
	}
}

// generating reports whether protoc asked for output for file. The generator
// runs plugins over every file, dependencies included, and discards the
// output of those it was not asked for.
func (p *ttrpcGenerator) generating(file *generator.FileDescriptor) bool {
	for _, name := range p.gen.Request.GetFileToGenerate() {
		if name == file.GetName() {
			return true
		}
	}
	return false
}

func isStreaming(m *descriptor.MethodDescriptorProto) bool {
	return m.GetClientStreaming() || m.GetServerStreaming()
}

// typeName resolves a fully qualified proto type name (".pkg.Msg") to the Go
// type expression valid in the file being generated, importing its package
// when it lives elsewhere.
func (p *ttrpcGenerator) typeName(protoName string) string {
	p.gen.RecordTypeUse(protoName)
	return p.gen.TypeName(p.gen.ObjectNamed(protoName))
}

// P writes one line of generated code.
func (p *ttrpcGenerator) P(args ...interface{}) { p.gen.P(args...) }

// unexport lower-cases the first letter of s.
func unexport(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// unaryMethod is an rpc the stubs include.
type unaryMethod struct {
	protoName string // name on the wire
	goName    string
	in, out   string // Go type names
	path      string // source-info path, for comments
	deprecate bool
}

func (p *ttrpcGenerator) generateService(file *generator.FileDescriptor, svc *descriptor.ServiceDescriptorProto, index int) {
	path := fmt.Sprintf("%d,%d", serviceFieldNumber, index)
	fullName := svc.GetName()
	if pkg := file.GetPackage(); pkg != "" {
		fullName = pkg + "." + fullName
	}
	goName := generator.CamelCase(svc.GetName())
	ifaceName := goName + "Service"
	clientType := unexport(goName) + "Client"
	ttrpcPkg := p.ttrpcPkg
	ctxPkg := p.contextPkg

	var methods []unaryMethod
	var skipped []*descriptor.MethodDescriptorProto
	for i, m := range svc.Method {
		if isStreaming(m) {
			skipped = append(skipped, m)
			if !p.generating(file) {
				continue
			}
			fmt.Fprintf(warnings, "protoc-gen-gogottrpc: %s: skipping streaming rpc %s.%s: ttrpc 1.0 supports unary rpcs only\n",
				file.GetName(), fullName, m.GetName())
			continue
		}
		methods = append(methods, unaryMethod{
			protoName: m.GetName(),
			goName:    generator.CamelCase(m.GetName()),
			in:        p.typeName(m.GetInputType()),
			out:       p.typeName(m.GetOutputType()),
			path:      fmt.Sprintf("%s,%d,%d", path, methodFieldNumber, i),
			deprecate: m.GetOptions().GetDeprecated(),
		})
	}

	// Service interface.
	p.P()
	p.P("// ", ifaceName, " is the ttrpc API of the ", fullName, " service.")
	if p.gen.Comments(path) != "" {
		p.P("//")
		p.gen.PrintComments(path)
	}
	if svc.GetOptions().GetDeprecated() {
		p.P("//")
		p.P("// Deprecated: Do not use.")
	}
	p.P("type ", ifaceName, " interface {")
	for _, m := range methods {
		if p.gen.PrintComments(m.path) && m.deprecate {
			p.P("//")
		}
		if m.deprecate {
			p.P("// Deprecated: Do not use.")
		}
		p.P(m.goName, "(ctx ", ctxPkg, ".Context, req *", m.in, ") (*", m.out, ", error)")
	}
	for _, m := range skipped {
		p.P("// ", m.GetName(), " is a streaming rpc and is not generated: ttrpc 1.0 supports unary rpcs only.")
	}
	p.P("}")
	p.P()

	// Server registration.
	p.P("// Register", ifaceName, " registers svc with srv under the service name ", fmt.Sprintf("%q", fullName), ".")
	p.P("func Register", ifaceName, "(srv *", ttrpcPkg, ".Server, svc ", ifaceName, ") {")
	p.P("srv.Register(", fmt.Sprintf("%q", fullName), ", map[string]", ttrpcPkg, ".Method{")
	for _, m := range methods {
		p.P(fmt.Sprintf("%q", m.protoName), ": func(ctx ", ctxPkg, ".Context, unmarshal func(interface{}) error) (interface{}, error) {")
		p.P("var req ", m.in)
		p.P("if err := unmarshal(&req); err != nil {")
		p.P("return nil, err")
		p.P("}")
		p.P("return svc.", m.goName, "(ctx, &req)")
		p.P("},")
	}
	p.P("})")
	p.P("}")
	p.P()

	// Client.
	p.P("type ", clientType, " struct {")
	p.P("client *", ttrpcPkg, ".Client")
	p.P("}")
	p.P()
	p.P("// New", goName, "Client returns a client for the ", fullName, " service that sends its calls through client.")
	p.P("func New", goName, "Client(client *", ttrpcPkg, ".Client) ", ifaceName, " {")
	p.P("return &", clientType, "{")
	p.P("client: client,")
	p.P("}")
	p.P("}")
	for _, m := range methods {
		p.P()
		p.P("func (c *", clientType, ") ", m.goName, "(ctx ", ctxPkg, ".Context, req *", m.in, ") (*", m.out, ", error) {")
		p.P("var resp ", m.out)
		p.P("if err := c.client.Call(ctx, ", fmt.Sprintf("%q", fullName), ", ", fmt.Sprintf("%q", m.protoName), ", req, &resp); err != nil {")
		p.P("return nil, err")
		p.P("}")
		p.P("return &resp, nil")
		p.P("}")
	}
	p.P()
}
