//go:build linux

package ttrpc

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"
)

// The peer-credential tests connect from a real child process running as
// another uid/gid: the test binary re-executed as TestPeerCredHelperProcess
// under syscall.Credential. Changing credentials needs root; without it the
// tests skip, saying so.

const peerCredHelperEnv = "TTRPC_PEERCRED_HELPER_SOCKET"

// TestPeerCredHelperProcess is not a test: it is the body of the child
// process of the peer-credential tests, and does nothing in a normal run.
func TestPeerCredHelperProcess(t *testing.T) {
	path := os.Getenv(peerCredHelperEnv)
	if path == "" {
		return
	}
	fmt.Println(peerCredHelperCall(path))
	os.Exit(0)
}

// peerCredHelperCall makes one call and describes its outcome in one word.
func peerCredHelperCall(path string) string {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return "DIAL-ERROR " + err.Error()
	}
	c := NewClient(conn)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out types.BytesValue
	err = c.Call(ctx, relService, "Echo", &types.BytesValue{Value: []byte("child")}, &out)
	switch {
	case err == nil && string(out.Value) == "child":
		return "ACCEPTED"
	case err == ErrClosed:
		return "REFUSED"
	default:
		return "ERROR " + fmt.Sprint(err)
	}
}

// peerCredSetup copies the test binary and makes a socket directory where an
// unprivileged child can reach both.
func peerCredSetup(t *testing.T) (bin, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: starting a peer under another uid needs root (CI runs tests as root); this run is uid", os.Geteuid())
	}
	dir, err := os.MkdirTemp("", "ttrpc-peercred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin = filepath.Join(dir, "helper.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin, dir
}

// runPeer runs the helper as uid/gid against the socket and returns its
// verdict.
func runPeer(t *testing.T, bin, sock string, uid, gid uint32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^TestPeerCredHelperProcess$", "-test.count=1")
	cmd.Env = []string{peerCredHelperEnv + "=" + sock, "PATH=/usr/bin:/bin"}
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("peer as %d:%d: %v\n%s", uid, gid, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 0 && (f[0] == "ACCEPTED" || f[0] == "REFUSED" || f[0] == "ERROR" || f[0] == "DIAL-ERROR"):
			return line
		}
	}
	t.Fatalf("peer as %d:%d said nothing useful:\n%s", uid, gid, out)
	return ""
}

// TestPeerCredentialsRealProcess: peers in child processes with other
// credentials are refused by UnixSocketRequireSameUser and admitted or
// refused by UnixSocketRequireUidGid as their ids say, while the server
// keeps serving the peers it admits.
func TestPeerCredentialsRealProcess(t *testing.T) {
	bin, dir := peerCredSetup(t)
	const nobody = 65534
	cases := []struct {
		name      string
		handshake UnixCredentialsFunc
		uid, gid  uint32
		want      string
		selfWant  string // the verdict for this (root) process
	}{
		{"same-user/other-uid", UnixSocketRequireSameUser(), nobody, nobody, "REFUSED", "ACCEPTED"},
		{"same-user/other-gid", UnixSocketRequireSameUser(), 0, nobody, "REFUSED", "ACCEPTED"},
		{"uidgid/match", UnixSocketRequireUidGid(nobody, nobody), nobody, nobody, "ACCEPTED", "REFUSED"},
		{"uidgid/any-gid", UnixSocketRequireUidGid(nobody, -1), nobody, 0, "ACCEPTED", "REFUSED"},
		{"uidgid/wrong-gid", UnixSocketRequireUidGid(nobody, nobody), nobody, 0, "REFUSED", "REFUSED"},
	}
	for i, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			relCheckLeaks(t)
			sock := filepath.Join(dir, fmt.Sprintf("s%d", i))
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(sock, 0o777); err != nil {
				t.Fatal(err)
			}
			s := relServe(t, l, map[string]Method{"Echo": relEcho}, WithServerHandshaker(tc.handshake))

			// An admitted peer of this process stays connected throughout.
			var kept *Client
			if tc.selfWant == "ACCEPTED" {
				conn, err := net.Dial("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				kept = NewClient(conn)
				defer kept.Close()
				if got, err := relCall(kept, []byte("before"), 10*time.Second); err != nil || string(got) != "before" {
					t.Fatalf("same-process peer: %q, %v", got, err)
				}
			}

			if got := runPeer(t, bin, sock, tc.uid, tc.gid); got != tc.want {
				t.Fatalf("peer as %d:%d: %s, want %s", tc.uid, tc.gid, got, tc.want)
			}
			if got := peerCredHelperCall(sock); got != tc.selfWant {
				t.Fatalf("new peer of this process (uid %d): %s, want %s", os.Geteuid(), got, tc.selfWant)
			}
			if kept != nil {
				if got, err := relCall(kept, []byte("after"), 10*time.Second); err != nil || string(got) != "after" {
					t.Fatalf("admitted peer after a refusal: %q, %v", got, err)
				}
				kept.Close()
			}
			relWaitConns(t, s, 0, 10*time.Second)
		})
	}
}
