package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	plugin "github.com/gogo/protobuf/protoc-gen-gogo/plugin"
)

// The test binary doubles as the protoc plugin: when asPluginEnv is set it
// runs main instead of the tests. That way protoc (and the tests without
// protoc) drive exactly the code the real binary runs, in a fresh process
// each time, since gogo's generator keeps its plugin list in global state.
const (
	asPluginEnv = "GOGOTTRPC_TEST_AS_PLUGIN"
	recordEnv   = "GOGOTTRPC_TEST_RECORD_REQUEST"
)

var update = flag.Bool("update", false, "with protoc: rewrite testdata requests and the golden .pb.go files")

func TestMain(m *testing.M) {
	if os.Getenv(asPluginEnv) == "1" {
		runAsPlugin()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runAsPlugin runs main, first saving the request protoc sent when
// recordEnv names a file.
func runAsPlugin() {
	if path := os.Getenv(recordEnv); path != "" {
		data, err := readAll(os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "reading request:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "recording request:", err)
			os.Exit(1)
		}
		f, err := os.CreateTemp("", "gogottrpc-request")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.Remove(f.Name())
		if _, err := f.Write(data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := f.Seek(0, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdin = f
	}
	main()
}

func readAll(f *os.File) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(f)
	return buf.Bytes(), err
}

// modulePath is the import path prefix of everything generated here.
const modulePath = "github.com/containerd/ttrpc/"

// genCase is one protoc invocation: gogo generates one Go package per run.
type genCase struct {
	name  string   // testdata/<name>.request holds the recorded request
	files []string // proto files, relative to the include root
}

var cases = []genCase{
	{"example", []string{modulePath + "example/example.proto"}},
	{"common", []string{modulePath + "internal/codegentest/common/common.proto"}},
	{"clash", []string{modulePath + "internal/codegentest/clash/ttrpc/tag.proto"}},
	{"multi", []string{modulePath + "internal/codegentest/multi/multi.proto"}},
}

// generatorParams is the parameter string used for every case; it is the
// same as in example/generate.sh and the README.
const generatorParams = "plugins=ttrpc" +
	",Mgogoproto/gogo.proto=github.com/gogo/protobuf/gogoproto" +
	",Mgoogle/protobuf/any.proto=github.com/gogo/protobuf/types" +
	",Mgoogle/protobuf/descriptor.proto=github.com/gogo/protobuf/protoc-gen-gogo/descriptor" +
	",Mgoogle/protobuf/duration.proto=github.com/gogo/protobuf/types" +
	",Mgoogle/protobuf/empty.proto=github.com/gogo/protobuf/types" +
	",Mgoogle/protobuf/field_mask.proto=github.com/gogo/protobuf/types" +
	",Mgoogle/protobuf/struct.proto=github.com/gogo/protobuf/types" +
	",Mgoogle/protobuf/timestamp.proto=github.com/gogo/protobuf/types" +
	",Mgoogle/protobuf/wrappers.proto=github.com/gogo/protobuf/types"

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return root
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// runPlugin runs this binary as the plugin on req and returns its response.
func runPlugin(t *testing.T, req *plugin.CodeGeneratorRequest) (*plugin.CodeGeneratorResponse, string) {
	t.Helper()
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testContext(t), os.Args[0])
	cmd.Env = append(os.Environ(), asPluginEnv+"=1")
	cmd.Stdin = bytes.NewReader(data)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plugin failed: %v\n%s", err, stderr.String())
	}
	var resp plugin.CodeGeneratorResponse
	if err := proto.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatalf("decoding plugin response: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("plugin reported an error: %s", resp.GetError())
	}
	return &resp, stderr.String()
}

func loadRequest(t *testing.T, name string) *plugin.CodeGeneratorRequest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".request"))
	if err != nil {
		t.Fatal(err)
	}
	var req plugin.CodeGeneratorRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	return &req
}

// goldenPath maps a generated file name to its committed copy.
func goldenPath(t *testing.T, root, name string) string {
	t.Helper()
	if !strings.HasPrefix(name, modulePath) {
		t.Fatalf("generated file %q is outside %s", name, modulePath)
	}
	return filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(name, modulePath)))
}

// compareGolden checks every generated file against its committed copy and
// checks that it is gofmt-clean.
func compareGolden(t *testing.T, root string, resp *plugin.CodeGeneratorResponse, wantFiles int) {
	t.Helper()
	if len(resp.File) != wantFiles {
		t.Fatalf("got %d generated files, want %d", len(resp.File), wantFiles)
	}
	for _, f := range resp.File {
		got := []byte(f.GetContent())
		formatted, err := format.Source(got)
		if err != nil {
			t.Fatalf("%s does not parse: %v", f.GetName(), err)
		}
		if !bytes.Equal(formatted, got) {
			t.Errorf("%s is not gofmt-clean", f.GetName())
		}
		path := goldenPath(t, root, f.GetName())
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading golden file: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output:\n%s", path, firstDifference(string(want), string(got)))
		}
	}
}

// firstDifference describes the first line where want and got differ.
func firstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  committed: %q\n  generated: %q", i+1, w, g)
		}
	}
	return "(no line differs)"
}

// TestGoldenFromRecordedRequests runs the plugin on the requests protoc sent
// (committed under testdata, so no protoc is needed) and checks that the
// output is byte-for-byte the committed example.pb.go and codegentest code.
func TestGoldenFromRecordedRequests(t *testing.T) {
	root := repoRoot(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := loadRequest(t, c.name)
			if got, want := req.GetParameter(), generatorParams; got != want {
				t.Fatalf("recorded request has parameter %q, want %q (rerun with -update)", got, want)
			}
			if got := req.GetFileToGenerate(); strings.Join(got, ",") != strings.Join(c.files, ",") {
				t.Fatalf("recorded request generates %v, want %v", got, c.files)
			}
			resp, _ := runPlugin(t, req)
			compareGolden(t, root, resp, len(c.files))
		})
	}
}

// TestStreamingRPCIsGenerated checks the treatment of streaming rpcs: a
// service with one gets the ttrpc 1.2 API of protoc-gen-go-ttrpc over gogo
// messages, silently, while services without streams keep the 1.0 API.
func TestStreamingRPCIsGenerated(t *testing.T) {
	resp, stderr := runPlugin(t, loadRequest(t, "multi"))
	if stderr != "" {
		t.Errorf("unexpected output on stderr: %s", stderr)
	}
	content := resp.File[0].GetContent()
	for _, want := range []string{
		"Watch(ctx context.Context, req *common.Point, stream Geometry_WatchServer) error",
		"Watch(ctx context.Context, req *common.Point) (Geometry_WatchClient, error)",
		"func NewGeometryClient(client *ttrpc1.Client) GeometryClient {",
		`srv.RegisterService("ttrpc.codegentest.multi.Geometry", &ttrpc1.ServiceDesc{`,
		`}, "ttrpc.codegentest.multi.Geometry", "Watch", req)`,
		// Counter has no streams: the 1.0 API.
		"func NewCounterClient(client *ttrpc1.Client) CounterService {",
		`srv.Register("ttrpc.codegentest.multi.Counter", map[string]ttrpc1.Method{`,
	} {
		if !strings.Contains(content, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	if strings.Contains(content, "CounterClient interface") {
		t.Error("a service without streams got a client interface")
	}
}

// TestVanitySettings checks the message code follows SPEC §5: no getters,
// no GoString, but String, Marshal, Unmarshal and Size methods.
func TestVanitySettings(t *testing.T) {
	resp, _ := runPlugin(t, loadRequest(t, "example"))
	content := resp.File[0].GetContent()
	for _, want := range []string{
		"func (this *GreetRequest) String() string",
		"func (m *GreetRequest) Marshal() (dAtA []byte, err error)",
		"func (m *GreetRequest) Unmarshal(dAtA []byte) error",
		"func (m *GreetRequest) Size() (n int)",
	} {
		if !strings.Contains(content, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	for _, unwanted := range []string{"GetName()", "GoString()"} {
		if strings.Contains(content, unwanted) {
			t.Errorf("generated code has %q", unwanted)
		}
	}
}

// protocPath returns protoc, or skips the test when it is missing outside
// CI. CI installs protoc, so there a missing protoc is a failure.
func protocPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("protoc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("protoc is required in CI (apt-get install protobuf-compiler)")
		}
		t.Skip("protoc not installed; the recorded-request tests cover generation")
	}
	return p
}

// includeRoot makes a directory in which github.com/containerd/ttrpc points
// at the repository, so proto files have the import paths Protobuild gives
// them in a GOPATH layout.
func includeRoot(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	parent := filepath.Join(dir, "github.com", "containerd")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(parent, "ttrpc")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func gogoDir(t *testing.T) string {
	t.Helper()
	out, err := exec.CommandContext(testContext(t), "go", "list", "-m", "-f", "{{.Dir}}", "github.com/gogo/protobuf").Output()
	if err != nil {
		t.Fatalf("locating github.com/gogo/protobuf: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestProtocGolden runs protoc itself with this plugin on the committed
// protos and checks the output against the committed code and that the
// requests protoc sends still give that output. With -update it rewrites
// both instead.
func TestProtocGolden(t *testing.T) {
	protoc := protocPath(t)
	root := repoRoot(t)
	inc := includeRoot(t, root)
	gogo := gogoDir(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			record := filepath.Join(t.TempDir(), "request")
			args := []string{
				"--plugin=protoc-gen-gogottrpc=" + os.Args[0],
				"-I" + inc, "-I/usr/include", "-I" + gogo, "-I" + filepath.Join(gogo, "protobuf"),
				"--gogottrpc_out=" + generatorParams + ":" + out,
			}
			cmd := exec.CommandContext(testContext(t), protoc, append(args, c.files...)...)
			cmd.Env = append(os.Environ(), asPluginEnv+"=1", recordEnv+"="+record)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("protoc: %v\n%s", err, msg)
			}
			var resp plugin.CodeGeneratorResponse
			for _, f := range c.files {
				name := strings.TrimSuffix(f, ".proto") + ".pb.go"
				content, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(name)))
				if err != nil {
					t.Fatalf("protoc did not write %s: %v", name, err)
				}
				resp.File = append(resp.File, &plugin.CodeGeneratorResponse_File{
					Name: proto.String(name), Content: proto.String(string(content)),
				})
			}
			recorded, err := os.ReadFile(record)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				for _, f := range resp.File {
					if err := os.WriteFile(goldenPath(t, root, f.GetName()), []byte(f.GetContent()), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join("testdata", c.name+".request"), recorded, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			compareGolden(t, root, &resp, len(c.files))

			// The committed request must describe the same protos.
			var fresh plugin.CodeGeneratorRequest
			if err := proto.Unmarshal(recorded, &fresh); err != nil {
				t.Fatal(err)
			}
			fromCommitted, _ := runPlugin(t, loadRequest(t, c.name))
			fromFresh, _ := runPlugin(t, &fresh)
			if len(fromCommitted.File) != len(fromFresh.File) {
				t.Fatalf("committed request gives %d files, protoc's gives %d", len(fromCommitted.File), len(fromFresh.File))
			}
			for i := range fromFresh.File {
				if fromCommitted.File[i].GetContent() != fromFresh.File[i].GetContent() {
					t.Errorf("testdata/%s.request is stale: rerun with -update", c.name)
				}
			}
		})
	}
}

// TestGenerateScriptUsesSameParameters keeps example/generate.sh, which CI
// runs to check example.pb.go, in step with the parameters tested here.
func TestGenerateScriptUsesSameParameters(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "example", "generate.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `PARAMS="` + generatorParams + `"`; !strings.Contains(string(script), want) {
		t.Errorf("example/generate.sh does not set %s", want)
	}
}

// TestProtobuildPackagesMatchParameters checks that example/Protobuild.toml
// maps every imported proto file to the same Go package as the M parameters
// used here, so Protobuild and generate.sh produce the same code.
func TestProtobuildPackagesMatchParameters(t *testing.T) {
	toml, err := os.ReadFile(filepath.Join(repoRoot(t), "example", "Protobuild.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(generatorParams, ",") {
		if !strings.HasPrefix(p, "M") {
			continue
		}
		file, pkg, _ := strings.Cut(p[1:], "=")
		if want := fmt.Sprintf("%q = %q", file, pkg); !strings.Contains(string(toml), want) {
			t.Errorf("Protobuild.toml lacks %s", want)
		}
	}
	for _, want := range []string{`generator = "gogottrpc"`, `plugins = ["ttrpc"]`, `packages = ["github.com/gogo/protobuf"]`} {
		if !strings.Contains(string(toml), want) {
			t.Errorf("Protobuild.toml lacks %s", want)
		}
	}
}

// userModuleMain is a program in the temporary module of
// TestGeneratedCodeBuildsInUserModule: it serves and calls a generated
// service over a unix socket and prints the result.
const userModuleMain = `package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/ttrpc"

	"example.com/user/internal/codegentest/multi"
)

type counter struct{ total int64 }

func (c *counter) Add(ctx context.Context, r *multi.AddRequest) (*multi.AddResponse, error) {
	c.total += r.Delta
	return &multi.AddResponse{Total: c.total}, nil
}

func (c *counter) Reset(ctx context.Context, r *types.Empty) (*types.Empty, error) { return r, nil }

func (c *counter) Old(ctx context.Context, r *multi.AddRequest) (*multi.AddResponse, error) {
	return c.Add(ctx, r)
}

func main() {
	dir, err := os.MkdirTemp("", "um")
	check(err)
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	check(err)
	srv, err := ttrpc.NewServer()
	check(err)
	multi.RegisterCounterService(srv, &counter{})
	go srv.Serve(context.Background(), l)
	conn, err := net.Dial("unix", l.Addr().String())
	check(err)
	client := ttrpc.NewClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := multi.NewCounterClient(client)
	_, err = c.Add(ctx, &multi.AddRequest{Delta: 40})
	check(err)
	res, err := c.Add(ctx, &multi.AddRequest{Delta: 2})
	check(err)
	fmt.Println("total", res.Total)
	check(client.Close())
	check(srv.Shutdown(ctx))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// TestGeneratedCodeBuildsInUserModule generates code into a separate module
// that uses this repository through a replace directive, as a user swapping
// this implementation in would, with the repository's (deliberately old)
// dependency versions. The code must build and vet cleanly there, must not
// upgrade any of those versions, and must work over a unix socket.
func TestGeneratedCodeBuildsInUserModule(t *testing.T) {
	root := repoRoot(t)
	dir := t.TempDir()
	const userModule = "example.com/user"

	remap := ""
	for _, c := range cases {
		for _, f := range c.files {
			rel := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(f)), modulePath)
			remap += ",M" + f + "=" + userModule + "/" + rel
		}
	}
	for _, c := range cases {
		req := loadRequest(t, c.name)
		req.Parameter = proto.String(req.GetParameter() + remap)
		resp, _ := runPlugin(t, req)
		for _, f := range resp.File {
			// gogo names output files after go_package; the M parameters
			// above decide the import paths the files use for each other.
			name := f.GetName()
			if !strings.HasPrefix(name, modulePath) {
				t.Fatalf("generated %q outside %s", name, modulePath)
			}
			path := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(name, modulePath)))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	rootMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var mod strings.Builder
	fmt.Fprintf(&mod, "module %s\n\ngo 1.21\n\n", userModule)
	fmt.Fprintf(&mod, "require github.com/containerd/ttrpc v1.0.2\n\nreplace github.com/containerd/ttrpc => %s\n\n", root)
	// The repository's own requirements, so the build uses its pins.
	for _, line := range strings.Split(string(rootMod), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "module" || f[0] == "go" || f[0] == "toolchain") {
			continue
		}
		mod.WriteString(line + "\n")
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	mainSrc := strings.Replace(userModuleMain, `"github.com/containerd/ttrpc"`,
		"\"github.com/containerd/ttrpc\"\n\t\"github.com/gogo/protobuf/types\"", 1)
	for name, content := range map[string]string{
		"go.mod":           mod.String(),
		"go.sum":           string(sum),
		"cmd/user/main.go": mainSrc,
	} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(testContext(t), "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("build", "./...")
	goCmd("vet", "./...")
	if out := goCmd("run", "./cmd/user"); strings.TrimSpace(out) != "total 42" {
		t.Errorf("user program printed %q, want %q", out, "total 42")
	}

	// The user's build must still use the repository's pins.
	pins := map[string]string{}
	for _, line := range strings.Split(string(rootMod), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && strings.Contains(f[0], ".") && strings.HasPrefix(f[1], "v") {
			pins[f[0]] = f[1]
		}
	}
	if len(pins) == 0 {
		t.Fatal("no requirements found in the repository's go.mod")
	}
	listed := goCmd("list", "-m", "-f", "{{.Path}} {{.Version}}", "all")
	for _, line := range strings.Split(listed, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			if want, ok := pins[f[0]]; ok && f[1] != want {
				t.Errorf("user module builds with %s %s, the repository pins %s", f[0], f[1], want)
			}
		}
	}
}
