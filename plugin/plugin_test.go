package plugin

import (
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/protoc-gen-gogo/descriptor"
	"github.com/gogo/protobuf/protoc-gen-gogo/generator"
	plugin "github.com/gogo/protobuf/protoc-gen-gogo/plugin"
)

// These tests drive gogo's generator in-process on hand-built descriptors,
// for cases the protoc-based golden tests in cmd/protoc-gen-gogottrpc do not
// cover. gogo keeps the enabled plugins in global state, so every run here
// uses the same "plugins=ttrpc" parameter.

func message(name string) *descriptor.DescriptorProto {
	return &descriptor.DescriptorProto{Name: proto.String(name)}
}

func method(name, in, out string, stream bool) *descriptor.MethodDescriptorProto {
	m := &descriptor.MethodDescriptorProto{
		Name:       proto.String(name),
		InputType:  proto.String(in),
		OutputType: proto.String(out),
	}
	if stream {
		m.ServerStreaming = proto.Bool(true)
	}
	return m
}

// generate runs the generator with the ttrpc plugin on file and returns the
// Go source produced for it.
func generate(t *testing.T, file *descriptor.FileDescriptorProto) string {
	t.Helper()
	g := generator.New()
	g.Request = &plugin.CodeGeneratorRequest{
		FileToGenerate: []string{file.GetName()},
		Parameter:      proto.String("plugins=ttrpc"),
		ProtoFile:      []*descriptor.FileDescriptorProto{file},
	}
	g.CommandLineParameters(g.Request.GetParameter())
	g.WrapTypes()
	g.SetPackageNames()
	g.BuildTypeNameMap()
	g.GenerateAllFiles()
	if len(g.Response.File) != 1 {
		t.Fatalf("got %d files, want 1", len(g.Response.File))
	}
	src := g.Response.File[0].GetContent()
	formatted, err := format.Source([]byte(src))
	if err != nil {
		t.Fatalf("generated code does not parse: %v\n%s", err, src)
	}
	return string(formatted)
}

func parse(t *testing.T, src string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "gen.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func imports(f *ast.File) map[string]bool {
	m := map[string]bool{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		m[p] = true
	}
	return m
}

// decls lists the names of top-level functions and types.
func decls(f *ast.File) map[string]bool {
	m := map[string]bool{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				m[d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok {
					m[ts.Name.Name] = true
				}
			}
		}
	}
	return m
}

// TestNoProtoPackage checks that a file without a proto package registers
// its service under the bare service name.
func TestNoProtoPackage(t *testing.T) {
	src := generate(t, &descriptor.FileDescriptorProto{
		Name:        proto.String("nopkg.proto"),
		Syntax:      proto.String("proto3"),
		Options:     &descriptor.FileOptions{GoPackage: proto.String("example.com/nopkg;nopkg")},
		MessageType: []*descriptor.DescriptorProto{message("Req"), message("Resp")},
		Service: []*descriptor.ServiceDescriptorProto{{
			Name:   proto.String("Plain"),
			Method: []*descriptor.MethodDescriptorProto{method("Do", ".Req", ".Resp", false)},
		}},
	})
	for _, want := range []string{
		`srv.Register("Plain", map[string]ttrpc.Method{`,
		`c.client.Call(ctx, "Plain", "Do", req, &resp)`,
		"Do(ctx context.Context, req *Req) (*Resp, error)",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("generated code lacks %q:\n%s", want, src)
		}
	}
	d := decls(parse(t, src))
	for _, name := range []string{"PlainService", "RegisterPlainService", "NewPlainClient", "plainClient"} {
		if !d[name] {
			t.Errorf("no declaration of %s", name)
		}
	}
}

// TestNoServicesNoImports checks that a file without services gets none of
// the ttrpc plugin's imports.
func TestNoServicesNoImports(t *testing.T) {
	src := generate(t, &descriptor.FileDescriptorProto{
		Name:        proto.String("msgs.proto"),
		Package:     proto.String("msgs"),
		Syntax:      proto.String("proto3"),
		Options:     &descriptor.FileOptions{GoPackage: proto.String("example.com/msgs;msgs")},
		MessageType: []*descriptor.DescriptorProto{message("Only")},
	})
	imp := imports(parse(t, src))
	if imp["github.com/containerd/ttrpc"] || imp["context"] {
		t.Errorf("unexpected imports %v", imp)
	}
	if strings.Contains(src, "Service") {
		t.Errorf("service code generated for a file without services:\n%s", src)
	}
}

// TestOnlyStreamingMethods checks a service whose rpcs all stream: it gets
// the 1.2 API, registered through RegisterService with no Methods.
func TestOnlyStreamingMethods(t *testing.T) {
	src := generate(t, &descriptor.FileDescriptorProto{
		Name:        proto.String("stream.proto"),
		Package:     proto.String("s.v1"),
		Syntax:      proto.String("proto3"),
		Options:     &descriptor.FileOptions{GoPackage: proto.String("example.com/s;s")},
		MessageType: []*descriptor.DescriptorProto{message("Ev")},
		Service: []*descriptor.ServiceDescriptorProto{{
			Name:   proto.String("Events"),
			Method: []*descriptor.MethodDescriptorProto{method("Subscribe", ".s.v1.Ev", ".s.v1.Ev", true)},
		}},
	})
	f := parse(t, src)
	imp := imports(f)
	if !imp["context"] || !imp["github.com/containerd/ttrpc"] {
		t.Errorf("imports %v lack context or ttrpc", imp)
	}
	for _, want := range []string{
		`srv.RegisterService("s.v1.Events", &ttrpc.ServiceDesc{`,
		"Subscribe(ctx context.Context, req *Ev, stream Events_SubscribeServer) error",
		"Subscribe(ctx context.Context, req *Ev) (Events_SubscribeClient, error)",
		"func NewEventsClient(client *ttrpc.Client) EventsClient {",
		`}, "s.v1.Events", "Subscribe", req)`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("generated code lacks %q:\n%s", want, src)
		}
	}
	if strings.Contains(src, "Methods:") {
		t.Errorf("a service without unary rpcs has a Methods map:\n%s", src)
	}
}

// TestEveryKindOfRPC checks the shapes of each kind of rpc in a service
// that has streams, and that rpcs whose proto name is not their Go name are
// registered under both.
func TestEveryKindOfRPC(t *testing.T) {
	stream := func(name string, client, server bool) *descriptor.MethodDescriptorProto {
		m := method(name, ".k.In", ".k.Out", false)
		m.ClientStreaming = proto.Bool(client)
		m.ServerStreaming = proto.Bool(server)
		return m
	}
	src := generate(t, &descriptor.FileDescriptorProto{
		Name:        proto.String("kinds.proto"),
		Package:     proto.String("k"),
		Syntax:      proto.String("proto3"),
		Options:     &descriptor.FileOptions{GoPackage: proto.String("example.com/k;k")},
		MessageType: []*descriptor.DescriptorProto{message("In"), message("Out")},
		Service: []*descriptor.ServiceDescriptorProto{{
			Name: proto.String("Kinds"),
			Method: []*descriptor.MethodDescriptorProto{
				stream("get_one", false, false),
				stream("Watch", false, true),
				stream("Upload", true, false),
				stream("chat_all", true, true),
			},
		}},
	})
	for _, want := range []string{
		// Server API.
		"GetOne(ctx context.Context, req *In) (*Out, error)",
		"Watch(ctx context.Context, req *In, stream Kinds_WatchServer) error",
		"Upload(ctx context.Context, stream Kinds_UploadServer) (*Out, error)",
		"ChatAll(ctx context.Context, stream Kinds_ChatAllServer) error",
		// Client API.
		"Watch(ctx context.Context, req *In) (Kinds_WatchClient, error)",
		"Upload(ctx context.Context) (Kinds_UploadClient, error)",
		"ChatAll(ctx context.Context) (Kinds_ChatAllClient, error)",
		"CloseAndRecv() (*Out, error)",
		// Wire names.
		`c.client.Call(ctx, "k.Kinds", "get_one", req, &resp)`,
		`}, "k.Kinds", "ChatAll", nil)`,
		`}, "k.Kinds", "Upload", nil)`,
		`}, "k.Kinds", "Watch", req)`,
		`desc.Methods["GetOne"] = desc.Methods["get_one"]`,
		`desc.Streams["ChatAll"] = desc.Streams["chat_all"]`,
		`srv.RegisterService("k.Kinds", desc)`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("generated code lacks %q:\n%s", want, src)
		}
	}
	d := decls(parse(t, src))
	for _, name := range []string{
		"KindsService", "KindsClient", "RegisterKindsService", "NewKindsClient",
		"Kinds_WatchServer", "Kinds_UploadServer", "Kinds_ChatAllServer",
		"Kinds_WatchClient", "Kinds_UploadClient", "Kinds_ChatAllClient",
		"kinds_WatchServer", "kinds_UploadServer", "kinds_ChatAllServer",
		"kinds_WatchClient", "kinds_UploadClient", "kinds_ChatAllClient",
	} {
		if !d[name] {
			t.Errorf("no declaration of %s", name)
		}
	}
	if d["Kinds_GetOneServer"] || d["Kinds_GetOneClient"] {
		t.Error("stream types generated for a unary rpc")
	}
}

// TestMethodOrderFollowsProto checks that interface methods, registrations
// and client methods appear in the order of the proto file, so regenerating
// is deterministic.
func TestMethodOrderFollowsProto(t *testing.T) {
	names := []string{"Zeta", "Alpha", "Mid"}
	var methods []*descriptor.MethodDescriptorProto
	for _, n := range names {
		methods = append(methods, method(n, ".o.M", ".o.M", false))
	}
	file := &descriptor.FileDescriptorProto{
		Name:        proto.String("order.proto"),
		Package:     proto.String("o"),
		Syntax:      proto.String("proto3"),
		Options:     &descriptor.FileOptions{GoPackage: proto.String("example.com/o;o")},
		MessageType: []*descriptor.DescriptorProto{message("M")},
		Service:     []*descriptor.ServiceDescriptorProto{{Name: proto.String("S"), Method: methods}},
	}
	first := generate(t, file)
	for _, pattern := range []string{"%s(ctx context.Context", `"%s": func(`, "func (c *sClient) %s("} {
		last := -1
		for _, n := range names {
			i := strings.Index(first, strings.Replace(pattern, "%s", n, 1))
			if i < 0 || i < last {
				t.Fatalf("pattern %q: %s missing or out of order", pattern, n)
			}
			last = i
		}
	}
	second := generate(t, file)
	if first != second {
		t.Error("two runs on the same input differ")
	}
}
