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
// A service with streaming rpcs (the ttrpc 1.2 protocol) gets the API of
// protoc-gen-go-ttrpc instead, over gogo messages: FooService has
// M(ctx, *In, Foo_MServer) error for a server-streaming rpc,
// M(ctx, Foo_MServer) (*Out, error) for a client-streaming one and
// M(ctx, Foo_MServer) error for a bidirectional one; RegisterFooService
// registers it with srv.RegisterService; NewFooClient returns a FooClient
// interface whose streaming methods return Foo_MClient streams. Foo_MServer
// and Foo_MClient wrap ttrpc.StreamServer and ttrpc.ClientStream with typed
// Send, Recv and CloseAndRecv. The code of services without streaming rpcs
// is the same as ever and needs only the ttrpc 1.0 API.
package plugin

import (
	"fmt"
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
		if len(svc.Method) > 0 {
			p.contextPkg = string(p.gen.AddImport(contextImportPath))
		}
	}
	for i, svc := range file.FileDescriptorProto.Service {
		p.generateService(file, svc, i)
	}
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

// rpc is an rpc of a service being generated.
type rpc struct {
	protoName string // name in the proto file
	goName    string
	in, out   string // Go type names
	path      string // source-info path, for comments
	deprecate bool

	clientStreaming, serverStreaming bool
}

func (m *rpc) streaming() bool { return m.clientStreaming || m.serverStreaming }

// service holds what the code of one service is made of.
type service struct {
	fullName   string // "pkg.Foo", the name on the wire
	goName     string
	ifaceName  string // FooService
	clientType string // fooClient
	path       string // source-info path, for comments
	deprecated bool
	methods    []*rpc
	ttrpcPkg   string
	ctxPkg     string
}

func (p *ttrpcGenerator) generateService(file *generator.FileDescriptor, svc *descriptor.ServiceDescriptorProto, index int) {
	s := &service{
		path:       fmt.Sprintf("%d,%d", serviceFieldNumber, index),
		fullName:   svc.GetName(),
		goName:     generator.CamelCase(svc.GetName()),
		deprecated: svc.GetOptions().GetDeprecated(),
		ttrpcPkg:   p.ttrpcPkg,
		ctxPkg:     p.contextPkg,
	}
	if pkg := file.GetPackage(); pkg != "" {
		s.fullName = pkg + "." + s.fullName
	}
	s.ifaceName = s.goName + "Service"
	s.clientType = unexport(s.goName) + "Client"
	streams := false
	for i, m := range svc.Method {
		r := &rpc{
			protoName:       m.GetName(),
			goName:          generator.CamelCase(m.GetName()),
			in:              p.typeName(m.GetInputType()),
			out:             p.typeName(m.GetOutputType()),
			path:            fmt.Sprintf("%s,%d,%d", s.path, methodFieldNumber, i),
			deprecate:       m.GetOptions().GetDeprecated(),
			clientStreaming: m.GetClientStreaming(),
			serverStreaming: m.GetServerStreaming(),
		}
		streams = streams || r.streaming()
		s.methods = append(s.methods, r)
	}
	if streams {
		p.generateStreamingService(s)
	} else {
		p.generateUnaryService(s)
	}
}

// serviceDoc writes the doc comment of one of the service's interfaces.
func (p *ttrpcGenerator) serviceDoc(s *service, summary string) {
	p.P("// ", summary)
	if p.gen.Comments(s.path) != "" {
		p.P("//")
		p.gen.PrintComments(s.path)
	}
	if s.deprecated {
		p.P("//")
		p.P("// Deprecated: Do not use.")
	}
}

// methodDoc writes the doc comment of an rpc in an interface.
func (p *ttrpcGenerator) methodDoc(m *rpc) {
	if p.gen.PrintComments(m.path) && m.deprecate {
		p.P("//")
	}
	if m.deprecate {
		p.P("// Deprecated: Do not use.")
	}
}

// unaryHandler writes the ttrpc.Method of a unary rpc.
func (p *ttrpcGenerator) unaryHandler(s *service, m *rpc) {
	p.P(fmt.Sprintf("%q", m.protoName), ": func(ctx ", s.ctxPkg, ".Context, unmarshal func(interface{}) error) (interface{}, error) {")
	p.P("var req ", m.in)
	p.P("if err := unmarshal(&req); err != nil {")
	p.P("return nil, err")
	p.P("}")
	p.P("return svc.", m.goName, "(ctx, &req)")
	p.P("},")
}

// unaryClientMethod writes the client method of a unary rpc.
func (p *ttrpcGenerator) unaryClientMethod(s *service, m *rpc) {
	p.P("func (c *", s.clientType, ") ", m.goName, "(ctx ", s.ctxPkg, ".Context, req *", m.in, ") (*", m.out, ", error) {")
	p.P("var resp ", m.out)
	p.P("if err := c.client.Call(ctx, ", fmt.Sprintf("%q", s.fullName), ", ", fmt.Sprintf("%q", m.protoName), ", req, &resp); err != nil {")
	p.P("return nil, err")
	p.P("}")
	p.P("return &resp, nil")
	p.P("}")
}

// generateUnaryService writes a service without streaming rpcs, with the
// ttrpc 1.0 API.
func (p *ttrpcGenerator) generateUnaryService(s *service) {
	ttrpcPkg, ctxPkg := s.ttrpcPkg, s.ctxPkg

	// Service interface.
	p.P()
	p.serviceDoc(s, s.ifaceName+" is the ttrpc API of the "+s.fullName+" service.")
	p.P("type ", s.ifaceName, " interface {")
	for _, m := range s.methods {
		p.methodDoc(m)
		p.P(m.goName, "(ctx ", ctxPkg, ".Context, req *", m.in, ") (*", m.out, ", error)")
	}
	p.P("}")
	p.P()

	// Server registration.
	p.P("// Register", s.ifaceName, " registers svc with srv under the service name ", fmt.Sprintf("%q", s.fullName), ".")
	p.P("func Register", s.ifaceName, "(srv *", ttrpcPkg, ".Server, svc ", s.ifaceName, ") {")
	p.P("srv.Register(", fmt.Sprintf("%q", s.fullName), ", map[string]", ttrpcPkg, ".Method{")
	for _, m := range s.methods {
		p.unaryHandler(s, m)
	}
	p.P("})")
	p.P("}")
	p.P()

	// Client.
	p.P("type ", s.clientType, " struct {")
	p.P("client *", ttrpcPkg, ".Client")
	p.P("}")
	p.P()
	p.P("// New", s.goName, "Client returns a client for the ", s.fullName, " service that sends its calls through client.")
	p.P("func New", s.goName, "Client(client *", ttrpcPkg, ".Client) ", s.ifaceName, " {")
	p.P("return &", s.clientType, "{")
	p.P("client: client,")
	p.P("}")
	p.P("}")
	for _, m := range s.methods {
		p.P()
		p.unaryClientMethod(s, m)
	}
	p.P()
}

// Names of the stream types of an rpc. The unexported implementations
// keep the underscore, so service Foo's rpc BarBaz and service FooBar's rpc
// Baz do not clash.
func (s *service) serverStream(m *rpc) string { return s.goName + "_" + m.goName + "Server" }
func (s *service) clientStream(m *rpc) string { return s.goName + "_" + m.goName + "Client" }

// generateStreamingService writes a service with streaming rpcs, with the
// API protoc-gen-go-ttrpc generates for ttrpc 1.2.
func (p *ttrpcGenerator) generateStreamingService(s *service) {
	ttrpcPkg, ctxPkg := s.ttrpcPkg, s.ctxPkg
	clientIface := s.goName + "Client"

	// Service interface.
	p.P()
	p.serviceDoc(s, s.ifaceName+" is the ttrpc API of the "+s.fullName+" service.")
	p.P("type ", s.ifaceName, " interface {")
	for _, m := range s.methods {
		p.methodDoc(m)
		switch {
		case m.clientStreaming && m.serverStreaming:
			p.P(m.goName, "(ctx ", ctxPkg, ".Context, stream ", s.serverStream(m), ") error")
		case m.clientStreaming:
			p.P(m.goName, "(ctx ", ctxPkg, ".Context, stream ", s.serverStream(m), ") (*", m.out, ", error)")
		case m.serverStreaming:
			p.P(m.goName, "(ctx ", ctxPkg, ".Context, req *", m.in, ", stream ", s.serverStream(m), ") error")
		default:
			p.P(m.goName, "(ctx ", ctxPkg, ".Context, req *", m.in, ") (*", m.out, ", error)")
		}
	}
	p.P("}")
	p.P()

	// Server registration. Each rpc is registered under its proto name
	// and, where that differs, under its Go name too: protoc-gen-go-ttrpc's
	// clients open streams by the Go name.
	var aliased []*rpc
	for _, m := range s.methods {
		if m.goName != m.protoName {
			aliased = append(aliased, m)
		}
	}
	p.P("// Register", s.ifaceName, " registers svc with srv under the service name ", fmt.Sprintf("%q", s.fullName), ".")
	p.P("func Register", s.ifaceName, "(srv *", ttrpcPkg, ".Server, svc ", s.ifaceName, ") {")
	if len(aliased) == 0 {
		p.P("srv.RegisterService(", fmt.Sprintf("%q", s.fullName), ", &", ttrpcPkg, ".ServiceDesc{")
	} else {
		p.P("desc := &", ttrpcPkg, ".ServiceDesc{")
	}
	var unary, streams []*rpc
	for _, m := range s.methods {
		if m.streaming() {
			streams = append(streams, m)
		} else {
			unary = append(unary, m)
		}
	}
	if len(unary) > 0 {
		p.P("Methods: map[string]", ttrpcPkg, ".Method{")
		for _, m := range unary {
			p.unaryHandler(s, m)
		}
		p.P("},")
	}
	p.P("Streams: map[string]", ttrpcPkg, ".Stream{")
	for _, m := range streams {
		impl := unexport(s.serverStream(m))
		p.P(fmt.Sprintf("%q", m.protoName), ": {")
		p.P("Handler: func(ctx ", ctxPkg, ".Context, ss ", ttrpcPkg, ".StreamServer) (interface{}, error) {")
		switch {
		case m.clientStreaming && m.serverStreaming:
			p.P("return nil, svc.", m.goName, "(ctx, &", impl, "{ss})")
		case m.clientStreaming:
			p.P("return svc.", m.goName, "(ctx, &", impl, "{ss})")
		default:
			// The request is the stream's first message.
			p.P("var req ", m.in)
			p.P("if err := ss.RecvMsg(&req); err != nil {")
			p.P("return nil, err")
			p.P("}")
			p.P("return nil, svc.", m.goName, "(ctx, &req, &", impl, "{ss})")
		}
		p.P("},")
		if m.clientStreaming {
			p.P("StreamingClient: true,")
		}
		if m.serverStreaming {
			p.P("StreamingServer: true,")
		}
		p.P("},")
	}
	p.P("},")
	if len(aliased) == 0 {
		p.P("})")
	} else {
		p.P("}")
		p.P("// Clients may name an rpc by its Go name too.")
		for _, m := range aliased {
			table := "desc.Methods"
			if m.streaming() {
				table = "desc.Streams"
			}
			p.P(table, "[", fmt.Sprintf("%q", m.goName), "] = ", table, "[", fmt.Sprintf("%q", m.protoName), "]")
		}
		p.P("srv.RegisterService(", fmt.Sprintf("%q", s.fullName), ", desc)")
	}
	p.P("}")

	// Server side of the streams.
	for _, m := range streams {
		iface, impl := s.serverStream(m), unexport(s.serverStream(m))
		p.P()
		switch {
		case m.clientStreaming && m.serverStreaming:
			p.P("// ", iface, " is the stream of a handler of ", m.goName, ": Recv receives the client's")
			p.P("// messages, io.EOF after the last one, and Send sends messages to the client.")
		case m.serverStreaming:
			p.P("// ", iface, " is the stream a handler of ", m.goName, " sends its responses on.")
		default:
			p.P("// ", iface, " is the stream a handler of ", m.goName, " receives the client's")
			p.P("// messages from: Recv returns io.EOF after the last one; the handler then")
			p.P("// returns its response.")
		}
		p.P("type ", iface, " interface {")
		if m.serverStreaming {
			p.P("Send(*", m.out, ") error")
		}
		if m.clientStreaming {
			p.P("Recv() (*", m.in, ", error)")
		}
		p.P(ttrpcPkg, ".StreamServer")
		p.P("}")
		p.P()
		p.P("type ", impl, " struct {")
		p.P(ttrpcPkg, ".StreamServer")
		p.P("}")
		if m.serverStreaming {
			p.P()
			p.P("func (x *", impl, ") Send(m *", m.out, ") error {")
			p.P("return x.StreamServer.SendMsg(m)")
			p.P("}")
		}
		if m.clientStreaming {
			p.P()
			p.P("func (x *", impl, ") Recv() (*", m.in, ", error) {")
			p.P("m := new(", m.in, ")")
			p.P("if err := x.StreamServer.RecvMsg(m); err != nil {")
			p.P("return nil, err")
			p.P("}")
			p.P("return m, nil")
			p.P("}")
		}
	}
	p.P()

	// Client interface.
	p.serviceDoc(s, clientIface+" is the ttrpc client API of the "+s.fullName+" service.")
	p.P("type ", clientIface, " interface {")
	for _, m := range s.methods {
		p.methodDoc(m)
		p.P(m.goName, s.clientSignature(m))
	}
	p.P("}")
	p.P()

	// Client.
	p.P("type ", s.clientType, " struct {")
	p.P("client *", ttrpcPkg, ".Client")
	p.P("}")
	p.P()
	p.P("// New", s.goName, "Client returns a client for the ", s.fullName, " service that sends its calls through client.")
	p.P("func New", s.goName, "Client(client *", ttrpcPkg, ".Client) ", clientIface, " {")
	p.P("return &", s.clientType, "{")
	p.P("client: client,")
	p.P("}")
	p.P("}")
	for _, m := range s.methods {
		p.P()
		if !m.streaming() {
			p.unaryClientMethod(s, m)
			continue
		}
		p.P("func (c *", s.clientType, ") ", m.goName, s.clientSignature(m), " {")
		p.P("stream, err := c.client.NewStream(ctx, &", ttrpcPkg, ".StreamDesc{")
		if m.clientStreaming {
			p.P("StreamingClient: true,")
		}
		if m.serverStreaming {
			p.P("StreamingServer: true,")
		}
		req := "req"
		if m.clientStreaming {
			// The client sends its messages on the stream.
			req = "nil"
		}
		// Streams are opened by the Go name, which servers of both
		// generators know.
		p.P("}, ", fmt.Sprintf("%q", s.fullName), ", ", fmt.Sprintf("%q", m.goName), ", ", req, ")")
		p.P("if err != nil {")
		p.P("return nil, err")
		p.P("}")
		p.P("return &", unexport(s.clientStream(m)), "{stream}, nil")
		p.P("}")
	}

	// Client side of the streams.
	for _, m := range streams {
		iface, impl := s.clientStream(m), unexport(s.clientStream(m))
		p.P()
		switch {
		case m.clientStreaming && m.serverStreaming:
			p.P("// ", iface, " is the client side of a call to ", m.goName, ": Send sends messages")
			p.P("// and CloseSend ends them; Recv receives the server's messages, io.EOF after")
			p.P("// the last one.")
		case m.clientStreaming:
			p.P("// ", iface, " is the client side of a call to ", m.goName, ": Send sends messages,")
			p.P("// and CloseAndRecv ends them and returns the server's response.")
		default:
			p.P("// ", iface, " is the client side of a call to ", m.goName, ": Recv receives the")
			p.P("// server's messages, io.EOF after the last one.")
		}
		p.P("type ", iface, " interface {")
		if m.clientStreaming {
			p.P("Send(*", m.in, ") error")
		}
		if m.serverStreaming {
			p.P("Recv() (*", m.out, ", error)")
		} else {
			p.P("CloseAndRecv() (*", m.out, ", error)")
		}
		p.P(ttrpcPkg, ".ClientStream")
		p.P("}")
		p.P()
		p.P("type ", impl, " struct {")
		p.P(ttrpcPkg, ".ClientStream")
		p.P("}")
		if m.clientStreaming {
			p.P()
			p.P("func (x *", impl, ") Send(m *", m.in, ") error {")
			p.P("return x.ClientStream.SendMsg(m)")
			p.P("}")
		}
		p.P()
		if m.serverStreaming {
			p.P("func (x *", impl, ") Recv() (*", m.out, ", error) {")
		} else {
			p.P("func (x *", impl, ") CloseAndRecv() (*", m.out, ", error) {")
			p.P("if err := x.ClientStream.CloseSend(); err != nil {")
			p.P("return nil, err")
			p.P("}")
		}
		p.P("m := new(", m.out, ")")
		p.P("if err := x.ClientStream.RecvMsg(m); err != nil {")
		p.P("return nil, err")
		p.P("}")
		p.P("return m, nil")
		p.P("}")
	}
	p.P()
}

// clientSignature is the parameter and result list of an rpc's client
// method.
func (s *service) clientSignature(m *rpc) string {
	switch {
	case m.clientStreaming:
		return "(ctx " + s.ctxPkg + ".Context) (" + s.clientStream(m) + ", error)"
	case m.serverStreaming:
		return "(ctx " + s.ctxPkg + ".Context, req *" + m.in + ") (" + s.clientStream(m) + ", error)"
	default:
		return "(ctx " + s.ctxPkg + ".Context, req *" + m.in + ") (*" + m.out + ", error)"
	}
}
