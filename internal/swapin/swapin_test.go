// Package swapin proves the swap-in promise: a program written only against
// the ttrpc 1.0 API builds unchanged when a replace directive points
// github.com/containerd/ttrpc at this module, under the dependency pins of
// containerd 1.5, and runs. Like every containerd 1.5-era go.mod, the
// program's lists the monolithic genproto it pins: that line is what keeps
// googleapis/rpc/status coming from it rather than from the split
// googleapis/rpc module this module requires (see README, Swapping it in).
package swapin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const goMod = `module example.com/shim

go 1.21

require (
	github.com/containerd/ttrpc v1.0.2
	github.com/gogo/protobuf v1.3.2
	google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63
	google.golang.org/grpc v1.27.1
)

replace (
	github.com/containerd/ttrpc => REPO
	github.com/golang/protobuf => github.com/golang/protobuf v1.3.5
	google.golang.org/genproto => google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63
	google.golang.org/grpc => google.golang.org/grpc v1.27.1
)
`

func TestSwapIn(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	repo, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(filepath.Dir(file), "testdata", "shim", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(strings.Replace(goMod, "REPO", repo, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	run("vet", ".")
	bin := filepath.Join(dir, "shim")
	run("build", "-o", bin, ".")
	versions := run("list", "-m", "github.com/golang/protobuf", "google.golang.org/grpc", "google.golang.org/genproto")
	for _, want := range []string{"v1.3.5", "v1.27.1", "v0.0.0-20200224152610-e50cd9704f63"} {
		if !strings.Contains(versions, want) {
			t.Fatalf("pin %s not in effect:\n%s", want, versions)
		}
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("shim: %v\n%s", err, out)
	}
	want := "default/t1: running\nmissing: NotFound\nclosed: ttrpc: closed\n"
	if string(out) != want {
		t.Fatalf("shim printed:\n%s\nwant:\n%s", out, want)
	}
}
