package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// ttrpcVersionEnv names an env variable that, when set to a version such as
// v1.2.10, makes TestGeneratedCodeRuns build against that release of
// github.com/containerd/ttrpc from the module proxy instead of this
// repository.
const ttrpcVersionEnv = "PROTOC_GEN_GO_TTRPC_TEST_TTRPC_VERSION"

// TestGeneratedCodeRuns builds a module of the golden files and the message
// code protoc-gen-go generates for the same requests, against this
// repository's ttrpc package (through a replace directive, as a user
// swapping it in would). The code must build and vet cleanly, and
// testdata/check must serve and call every generated service, every kind
// of rpc, successfully over a unix socket.
func TestGeneratedCodeRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	dir := t.TempDir()
	protocGenGo := filepath.Join(t.TempDir(), "protoc-gen-go")
	// The protoc-gen-go of the protobuf version this module requires.
	goCmd(t, ".", nil, "build", "-o", protocGenGo, "google.golang.org/protobuf/cmd/protoc-gen-go")

	for _, c := range loadCases(t) {
		// protoc-gen-go does not know the prefix parameter.
		var params []string
		for _, p := range strings.Split(c.param, ",") {
			if !strings.HasPrefix(p, "prefix=") {
				params = append(params, p)
			}
		}
		resp := runExternalPlugin(t, protocGenGo, request(t, c, strings.Join(params, ",")))
		for _, f := range resp.File {
			writeFile(t, filepath.Join(dir, filepath.FromSlash(f.GetName())), f.GetContent())
		}
	}
	err := filepath.WalkDir(filepath.Join("testdata", "golden"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(filepath.Join("testdata", "golden"), path)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dir, rel), string(content))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check, err := os.ReadFile(filepath.Join("testdata", "check", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "check", "main.go"), string(check))

	protobufVersion := strings.TrimSpace(goCmd(t, ".", nil, "list", "-m", "-f", "{{.Version}}", "google.golang.org/protobuf"))
	var mod strings.Builder
	fmt.Fprintf(&mod, "module example.com/ttrpcgen\n\ngo 1.21\n\nrequire google.golang.org/protobuf %s\n", protobufVersion)
	if v := os.Getenv(ttrpcVersionEnv); v != "" {
		fmt.Fprintf(&mod, "\nrequire github.com/containerd/ttrpc %s\n", v)
	} else {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			t.Fatalf("repository root not found: %v", err)
		}
		fmt.Fprintf(&mod, "\nrequire github.com/containerd/ttrpc v1.2.10\n\nreplace github.com/containerd/ttrpc => %s\n", root)
	}
	writeFile(t, filepath.Join(dir, "go.mod"), mod.String())

	env := []string{"GOFLAGS=-mod=mod", "GOWORK=off"}
	goCmd(t, dir, env, "mod", "tidy")
	goCmd(t, dir, env, "build", "./...")
	goCmd(t, dir, env, "vet", "./...")
	if out := goCmd(t, dir, env, "run", "./check"); strings.TrimSpace(out) != "ok" {
		t.Errorf("check printed %q, want ok", out)
	}
}

// runExternalPlugin runs a protoc plugin binary on req.
func runExternalPlugin(t *testing.T, path string, req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testContext(t), path)
	cmd.Stdin = bytes.NewReader(data)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, stderr.String())
	}
	var resp pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil {
		t.Fatalf("%s: %s", path, resp.GetError())
	}
	return &resp
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goCmd runs the go command in dir and returns its combined output.
func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(testContext(t), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
