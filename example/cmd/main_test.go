package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader in
// different goroutines; ready is closed on the first write.
type lockedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready chan struct{}
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{ready: make(chan struct{})} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.once.Do(func() { close(b.ready) })
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func containsAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// TestDemo runs the no-argument flow in-process: server, calls with
// metadata and a deadline, one error, graceful shutdown, exit code 0.
func TestDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(testContext(t), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	containsAll(t, "stdout", stdout.String(),
		`Greet: "hello, ttrpc" (server saw metadata x-client, x-request-id)`,
		"Put: stored color",
		"Get: color = blue",
		`Get missing: error NotFound: no value for key "missing"`,
		"List: color = blue\nList: colour = blau\nList: 2 keys",
		"server shut down",
	)
	logs := stderr.String()
	containsAll(t, "server log", logs,
		"method=/ttrpc.example.v1.Example/Greet",
		"method=/ttrpc.example.v1.Example/Put",
		"x-client=example-cmd",
		"deadline_in=",
		`error="rpc error: code = NotFound`,
	)
	if n := strings.Count(logs, `msg="ttrpc call"`); n != 5 {
		t.Errorf("server logged %d calls, want 5:\n%s", n, logs)
	}
	containsAll(t, "server log", logs, `msg="ttrpc stream" method=/ttrpc.example.v1.Example/List`)
}

// TestServerAndClientCommands runs "server SOCKET" and several
// "client SOCKET ..." commands against it, then stops the server.
func TestServerAndClientCommands(t *testing.T) {
	dir, err := os.MkdirTemp("", "excmd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "s.sock")

	srvCtx, stop := context.WithCancel(testContext(t))
	defer stop()
	srvOut, srvErr := newLockedBuffer(), newLockedBuffer()
	exited := make(chan int, 1)
	go func() { exited <- run(srvCtx, []string{"server", socket}, srvOut, srvErr) }()
	select {
	case <-srvOut.ready:
	case code := <-exited:
		t.Fatalf("server exited with %d: %s", code, srvErr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start listening")
	}
	containsAll(t, "server output", srvOut.String(), "listening on "+socket)

	client := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(testContext(t), append([]string{"client", socket}, args...), &stdout, &stderr)
		if code != wantCode {
			t.Fatalf("client %v: exit code %d, want %d\n%s%s", args, code, wantCode, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	out, _ := client(0, "greet", "tester")
	containsAll(t, "greet output", out, "hello, tester (server saw metadata x-client, x-request-id)")
	out, _ = client(0, "put", "k", "v1")
	containsAll(t, "put output", out, "stored k")
	out, _ = client(0, "get", "k")
	containsAll(t, "get output", out, "k = v1")
	_, errOut := client(1, "get", "nope")
	containsAll(t, "get error", errOut, `NotFound: no value for key "nope"`)
	out, _ = client(0, "list", "")
	containsAll(t, "list output", out, "k = v1\n1 keys")
	_, errOut = client(1, "greet", "")
	containsAll(t, "greet error", errOut, "InvalidArgument: name is empty")
	client(1, "frobnicate")

	stop()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("server exit code %d: %s", code, srvErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not shut down")
	}
	containsAll(t, "server log", srvErr.String(), "method=/ttrpc.example.v1.Example/Get", "x-client=example-cmd")
}

// TestUsage checks that bad arguments print the usage and exit 2.
func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(testContext(t), []string{"bogus"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	containsAll(t, "usage", stderr.String(), "cmd server SOCKET")
}

// TestBinary builds the command and runs it with no arguments as a user
// would with "go run ./example/cmd": it must exit 0 after the demo.
func TestBinary(t *testing.T) {
	ctx := testContext(t)
	bin := filepath.Join(t.TempDir(), "example-cmd")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("example exited with %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	containsAll(t, "stdout", stdout.String(), "Get: color = blue", "Get missing: error NotFound", "server shut down")
}
