package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// The test binary doubles as the plugin: with asPluginEnv set it runs main
// instead of the tests, so protoc drives exactly the code the real binary
// runs.
const asPluginEnv = "PROTOC_GEN_GO_TTRPC_TEST_AS_PLUGIN"

var update = flag.Bool("update", false, "rewrite the golden files from the committed descriptor sets")

func TestMain(m *testing.M) {
	if os.Getenv(asPluginEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// genCase is one line of testdata/cases.txt: one protoc run.
type genCase struct {
	name  string
	param string
	files []string // relative to testdata/proto
}

func loadCases(t *testing.T) []genCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []genCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 3 {
			t.Fatalf("cases.txt: bad line %q", sc.Text())
		}
		cases = append(cases, genCase{name: fields[0], param: fields[1], files: fields[2:]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("cases.txt lists no cases")
	}
	return cases
}

// descriptorSet reads the committed FileDescriptorSet of a case.
func descriptorSet(t *testing.T, name string) *descriptorpb.FileDescriptorSet {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "descriptors", name+".binpb"))
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	return &set
}

// request builds the CodeGeneratorRequest protoc would send for c from its
// committed descriptor set: the set holds the files and all they import,
// dependencies first, as protoc lists them.
func request(t *testing.T, c genCase, param string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	return &pluginpb.CodeGeneratorRequest{
		FileToGenerate: c.files,
		Parameter:      proto.String(param),
		ProtoFile:      descriptorSet(t, c.name).File,
	}
}

// runPlugin runs the plugin in-process on req and returns its response and
// what it wrote on standard error.
func runPlugin(t *testing.T, req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, string) {
	t.Helper()
	var cfg config
	var warnings bytes.Buffer
	gen, err := options(&cfg, &warnings).New(req)
	if err != nil {
		t.Fatalf("protogen: %v", err)
	}
	if err := generate(gen, cfg); err != nil {
		gen.Error(err)
	}
	resp := gen.Response()
	if resp.Error != nil {
		t.Fatalf("plugin reported an error: %s", resp.GetError())
	}
	return resp, warnings.String()
}

// wantFiles lists the golden files of a case: one per proto file that
// declares services.
func wantFiles(t *testing.T, c genCase) []string {
	t.Helper()
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range descriptorSet(t, c.name).File {
		byName[f.GetName()] = f
	}
	var want []string
	for _, name := range c.files {
		f, ok := byName[name]
		if !ok {
			t.Fatalf("descriptors/%s.binpb lacks %s", c.name, name)
		}
		if len(f.GetService()) > 0 {
			want = append(want, strings.TrimSuffix(name, ".proto")+"_ttrpc.pb.go")
		}
	}
	return want
}

func goldenPath(name string) string {
	return filepath.Join("testdata", "golden", filepath.FromSlash(name))
}

func responseFiles(resp *pluginpb.CodeGeneratorResponse) []string {
	var names []string
	for _, f := range resp.File {
		names = append(names, f.GetName())
	}
	return names
}

// compareGolden checks that resp holds exactly the golden files of c, that
// they are gofmt-clean and that they match the committed copies.
func compareGolden(t *testing.T, c genCase, resp *pluginpb.CodeGeneratorResponse) {
	t.Helper()
	want := wantFiles(t, c)
	if got := responseFiles(resp); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("generated files %q, want %q", got, want)
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
		path := goldenPath(f.GetName())
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		committed, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading golden file: %v", err)
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("%s differs from the plugin's output (rerun testdata/generate.sh or go test -update):\n%s",
				path, firstDifference(string(committed), string(got)))
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

// TestGolden runs the plugin on the request protoc would send for each case
// and compares the output with the committed golden files.
func TestGolden(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			resp, warnings := runPlugin(t, request(t, c, c.param))
			if warnings != "" {
				t.Errorf("unexpected warnings: %s", warnings)
			}
			compareGolden(t, c, resp)
		})
	}
}

// TestSupportedFeatures checks what the plugin declares to protoc: proto3
// optional fields and editions from proto2 through 2023.
func TestSupportedFeatures(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := runPlugin(t, request(t, c, c.param))
			want := uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL | pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
			if got := resp.GetSupportedFeatures(); got != want {
				t.Errorf("supported features %b, want %b", got, want)
			}
			if got, want := resp.GetMinimumEdition(), int32(descriptorpb.Edition_EDITION_PROTO2); got != want {
				t.Errorf("minimum edition %d, want %d", got, want)
			}
			if got, want := resp.GetMaximumEdition(), int32(descriptorpb.Edition_EDITION_2023); got != want {
				t.Errorf("maximum edition %d, want %d", got, want)
			}
		})
	}
}

// TestCasesCoverTheContract keeps the cases what the golden files are meant
// to show: every kind of rpc, a file without services, proto3 optional,
// editions and the prefix option.
func TestCasesCoverTheContract(t *testing.T) {
	var sawOptional, sawEditions, sawPrefix, sawNoService bool
	kinds := map[[2]bool]bool{}
	for _, c := range loadCases(t) {
		if strings.Contains(c.param, "prefix=") {
			sawPrefix = true
		}
		byName := map[string]*descriptorpb.FileDescriptorProto{}
		for _, f := range descriptorSet(t, c.name).File {
			byName[f.GetName()] = f
		}
		for _, name := range c.files {
			f := byName[name]
			if f.GetSyntax() == "editions" {
				sawEditions = true
			}
			if len(f.GetService()) == 0 {
				sawNoService = true
			}
			for _, m := range f.GetMessageType() {
				for _, field := range m.GetField() {
					if field.GetProto3Optional() {
						sawOptional = true
					}
				}
			}
			for _, s := range f.GetService() {
				for _, m := range s.GetMethod() {
					kinds[[2]bool{m.GetClientStreaming(), m.GetServerStreaming()}] = true
				}
			}
		}
	}
	if !sawOptional || !sawEditions || !sawPrefix || !sawNoService || len(kinds) != 4 {
		t.Errorf("cases lack coverage: optional %v, editions %v, prefix %v, file without services %v, rpc kinds %d of 4",
			sawOptional, sawEditions, sawPrefix, sawNoService, len(kinds))
	}
}

// TestUnknownParameterIsIgnored checks that a parameter the plugin does not
// know is reported and otherwise changes nothing, as in the established
// generator.
func TestUnknownParameterIsIgnored(t *testing.T) {
	c := loadCases(t)[0]
	resp, warnings := runPlugin(t, request(t, c, c.param+",bogus=1"))
	if !strings.Contains(warnings, `ignoring unknown parameter "bogus"`) {
		t.Errorf("warnings %q do not name the unknown parameter", warnings)
	}
	compareGolden(t, c, resp)
}

// TestCommandLine checks the program's answers to a person running it.
func TestCommandLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := commandLine([]string{"--version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), programName+" ") {
		t.Errorf("--version: exit %d, output %q", code, stdout.String())
	}
	stdout.Reset()
	if code := commandLine([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "protoc") {
		t.Errorf("--help: exit %d, output %q", code, stdout.String())
	}
	if code := commandLine([]string{"foo"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `"foo"`) {
		t.Errorf("unknown argument: exit %d, stderr %q", code, stderr.String())
	}
}

func TestUnexport(t *testing.T) {
	for in, want := range map[string]string{
		"Foo":          "foo",
		"TTRPCTask":    "ttrpcTask",
		"HTTPServer":   "httpServer",
		"ABC":          "abc",
		"A":            "a",
		"LowerService": "lowerService",
		"X9":           "x9",
	} {
		if got := unexport(in); got != want {
			t.Errorf("unexport(%q) = %q, want %q", in, got, want)
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
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
		t.Skip("protoc not installed; TestGolden covers generation")
	}
	return p
}

// protocSupportsEditions reports whether protoc compiles edition 2023
// files (protoc 27 and later).
func protocSupportsEditions(t *testing.T, protoc string) bool {
	out, err := exec.CommandContext(testContext(t), protoc, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(out)) // "libprotoc 3.21.12", "libprotoc 27.1"
	if len(fields) < 2 {
		t.Fatalf("protoc --version printed %q", out)
	}
	var major int
	fmt.Sscanf(fields[1], "%d", &major)
	return major >= 27
}

func usesEditions(t *testing.T, c genCase) bool {
	for _, f := range descriptorSet(t, c.name).File {
		if f.GetSyntax() == "editions" {
			return true
		}
	}
	return false
}

func wellKnownInclude(t *testing.T) string {
	inc := os.Getenv("PROTOC_INCLUDE")
	if inc == "" {
		inc = "/usr/include"
	}
	if _, err := os.Stat(filepath.Join(inc, "google", "protobuf", "empty.proto")); err != nil {
		t.Skipf("no well-known types under %s (set PROTOC_INCLUDE)", inc)
	}
	return inc
}

// TestProtoc runs protoc itself with this plugin, as testdata/generate.sh
// does, and checks that it writes the golden files and that the committed
// descriptor sets give the same output as the ones protoc builds now.
func TestProtoc(t *testing.T) {
	protoc := protocPath(t)
	include := wellKnownInclude(t)
	editions := protocSupportsEditions(t, protoc)
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			if usesEditions(t, c) && !editions {
				t.Skip("this protoc does not support editions")
			}
			out := t.TempDir()
			set := filepath.Join(t.TempDir(), "set.binpb")
			args := append([]string{
				"-I.", "-I" + include,
				"--include_imports", "--include_source_info", "--descriptor_set_out=" + set,
				"--plugin=protoc-gen-go-ttrpc=" + os.Args[0],
				"--go-ttrpc_out=" + c.param + ":" + out,
			}, c.files...)
			cmd := exec.CommandContext(testContext(t), protoc, args...)
			cmd.Dir = filepath.Join("testdata", "proto")
			cmd.Env = append(os.Environ(), asPluginEnv+"=1")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("protoc: %v\n%s", err, msg)
			}
			var resp pluginpb.CodeGeneratorResponse
			err := filepath.Walk(out, func(path string, info os.FileInfo, err error) error {
				if err != nil || info.IsDir() {
					return err
				}
				content, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				rel, err := filepath.Rel(out, path)
				if err != nil {
					return err
				}
				resp.File = append(resp.File, &pluginpb.CodeGeneratorResponse_File{
					Name: proto.String(filepath.ToSlash(rel)), Content: proto.String(string(content)),
				})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Slice(resp.File, func(i, j int) bool {
				return indexOf(c, resp.File[i].GetName()) < indexOf(c, resp.File[j].GetName())
			})
			compareGolden(t, c, &resp)

			data, err := os.ReadFile(set)
			if err != nil {
				t.Fatal(err)
			}
			var fresh descriptorpb.FileDescriptorSet
			if err := proto.Unmarshal(data, &fresh); err != nil {
				t.Fatal(err)
			}
			fromFresh, _ := runPlugin(t, &pluginpb.CodeGeneratorRequest{
				FileToGenerate: c.files, Parameter: proto.String(c.param), ProtoFile: fresh.File,
			})
			fromCommitted, _ := runPlugin(t, request(t, c, c.param))
			if !proto.Equal(fromFresh, fromCommitted) {
				t.Errorf("testdata/descriptors/%s.binpb is stale: run testdata/generate.sh", c.name)
			}
		})
	}
}

// indexOf orders generated files as their protos are listed in the case.
func indexOf(c genCase, generated string) int {
	for i, f := range c.files {
		if strings.TrimSuffix(f, ".proto")+"_ttrpc.pb.go" == generated {
			return i
		}
	}
	return len(c.files)
}
