package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// peerVersion is one established release the tests run against.
type peerVersion struct {
	name string // the release, also the directory under peers/
	kit  kit    // the message types its codec takes
	bin  string // the peer binary, built by TestMain

	// What it does where versions differ, as measured (README.md):

	// unknownCode is the status code its server answers for an unknown
	// service or method.
	unknownCode codes.Code
	// overResponse is what a caller gets when a handler of its server
	// returns a reply over 4 MiB: v1.0.2 sends the oversized frame (our
	// client drops it and fails the call with RESOURCE_EXHAUSTED; v1.0.2's
	// own client panics); v1.2.10 closes the connection ("closed").
	overResponse string
	// sendsOversizedRequest: its client puts a request over 4 MiB on the
	// wire (v1.0.2) rather than refusing it (v1.2.10).
	sendsOversizedRequest bool
	// shutdownMayDrop: its server's Shutdown may close a connection with
	// a unary call in flight at once, losing the reply. v1.2.10 does so
	// nearly always (it waited in 1 of 36 tries under CPU load, never
	// without load); v1.0.2 always waits, and serves the calls that arrive
	// on that connection meanwhile.
	shutdownMayDrop bool
}

var peerVersions = []*peerVersion{
	{
		name: "v1.0.2", kit: gogoKit{},
		unknownCode:           codes.NotFound,
		overResponse:          "ResourceExhausted",
		sendsOversizedRequest: true,
		shutdownMayDrop:       false,
	},
	{
		name: "v1.2.10", kit: apiv2Kit{},
		unknownCode:           codes.Unimplemented,
		overResponse:          "closed",
		sendsOversizedRequest: false,
		shutdownMayDrop:       true,
	},
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ttrpc-interop-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	errs := make([]error, len(peerVersions))
	var wg sync.WaitGroup
	for i, v := range peerVersions {
		v.bin = filepath.Join(dir, "ttrpcpeer-"+v.name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = buildPeer(v)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "interop: built peers %s in %v\n", versionNames(), time.Since(start).Round(time.Millisecond))
	return m.Run()
}

func versionNames() string {
	var names []string
	for _, v := range peerVersions {
		names = append(names, v.name)
	}
	return strings.Join(names, ", ")
}

// buildPeer builds peers/NAME, a module of its own that requires the
// established library at that release.
func buildPeer(v *peerVersion) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", v.bin, ".")
	cmd.Dir = filepath.Join("peers", v.name)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("building peer %s: %v\n%s", v.name, err, out)
	}
	return nil
}

// forEachVersion runs f as a subtest per established release.
func forEachVersion(t *testing.T, f func(t *testing.T, v *peerVersion)) {
	for _, v := range peerVersions {
		t.Run(v.name, func(t *testing.T) { f(t, v) })
	}
}

// Result is one line printed by a peer (see the Result type in
// peers/*/main.go); the tests describe their own calls with it too.
type Result struct {
	Event       string     `json:"event,omitempty"`
	Step        string     `json:"step,omitempty"`
	OK          bool       `json:"ok"`
	Err         string     `json:"err,omitempty"`
	ErrType     string     `json:"err_type,omitempty"`
	Status      bool       `json:"status,omitempty"`
	Code        string     `json:"code,omitempty"`
	CodeNum     int        `json:"code_num,omitempty"`
	Message     string     `json:"message,omitempty"`
	Details     []Detail   `json:"details,omitempty"`
	Closed      bool       `json:"closed,omitempty"`
	CtxDeadline bool       `json:"ctx_deadline,omitempty"`
	ElapsedMS   float64    `json:"elapsed_ms,omitempty"`
	Value       string     `json:"value,omitempty"`
	Len         int        `json:"len,omitempty"`
	Echo        *EchoReply `json:"echo,omitempty"`

	Calls  int            `json:"calls,omitempty"`
	Failed int            `json:"failed,omitempty"`
	Errors map[string]int `json:"errors,omitempty"`
}

// Detail is one google.protobuf.Any of a status.
type Detail struct {
	TypeURL  string `json:"type_url"`
	ValueHex string `json:"value_hex"`
}

// EchoReply is what the test service's Echo returns, as JSON.
type EchoReply struct {
	Value      string              `json:"value"`
	MD         map[string][]string `json:"md"`
	HasMD      bool                `json:"has_md"`
	DeadlineNS int64               `json:"deadline_ns"`
}

func (r Result) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

func (r Result) elapsed() time.Duration {
	return time.Duration(r.ElapsedMS * float64(time.Millisecond))
}

// line is one line a peer printed, with the time it was read.
type line struct {
	Result
	raw string
	at  time.Time
}

// peerProc is a running peer process. Its standard output is read as JSON
// lines; standard error is kept for failure reports.
type peerProc struct {
	t      *testing.T
	what   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan line // closed at the end of standard output
	exited chan struct{}
	err    error // the process's exit status, once exited is closed

	mu     sync.Mutex
	stderr bytes.Buffer
}

func (p *peerProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *peerProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// startPeer starts v's peer binary with args; label names it in messages.
func startPeer(t *testing.T, v *peerVersion, label string, args ...string) *peerProc {
	t.Helper()
	p := &peerProc{
		t:      t,
		what:   v.name + " " + label,
		lines:  make(chan line, 1024),
		exited: make(chan struct{}),
	}
	p.cmd = exec.Command(v.bin, args...)
	p.cmd.Stderr = p
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting peer %s: %v", p.what, err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			l := line{raw: sc.Text(), at: time.Now()}
			if err := json.Unmarshal(sc.Bytes(), &l.Result); err != nil {
				l.Result = Result{Event: "unparsed", Err: err.Error()}
			}
			p.lines <- l
		}
	}()
	go func() {
		<-readDone // Wait closes stdout: read it all first
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.stop)
	return p
}

// stop ends the peer: standard input is closed (a server shuts down, an
// interactive client gives up), then after 10s the process is killed.
func (p *peerProc) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.t.Errorf("peer %s still running 10s after its stdin closed; killing it", p.what)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	if text := p.stderrText(); p.t.Failed() && text != "" {
		p.t.Logf("peer %s stderr:\n%s", p.what, text)
	}
}

// signal sends sig to the peer process.
func (p *peerProc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signalling peer %s: %v", p.what, err)
	}
}

// waitExit waits up to d for the process to end and returns its status.
func (p *peerProc) waitExit(d time.Duration) error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(d):
		p.t.Fatalf("peer %s did not exit within %v", p.what, d)
		return nil
	}
}

// next returns the next line, failing the test if none comes within d.
func (p *peerProc) next(d time.Duration) line {
	p.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("peer %s ended its output (exit: %v); stderr:\n%s", p.what, p.waitExitQuiet(), p.stderrText())
		}
		p.t.Logf("%s: %s", p.what, l.raw)
		return l
	case <-timer.C:
		p.t.Fatalf("peer %s printed nothing for %v; stderr:\n%s", p.what, d, p.stderrText())
		return line{}
	}
}

func (p *peerProc) waitExitQuiet() error {
	select {
	case <-p.exited:
		return p.err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("still running")
	}
}

// until returns the first line for which match is true, reading for at most
// d. A "done" event that does not match ends the wait with a failure.
func (p *peerProc) until(d time.Duration, desc string, match func(Result) bool) line {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			p.t.Fatalf("peer %s: no %s within %v", p.what, desc, d)
		}
		l := p.next(left)
		if match(l.Result) {
			return l
		}
		if l.Event == "done" {
			p.t.Fatalf("peer %s finished (%s) before %s", p.what, l.raw, desc)
		}
	}
}

// event waits for an event line of that name.
func (p *peerProc) event(name string, d time.Duration) line {
	p.t.Helper()
	return p.until(d, "event "+name, func(r Result) bool { return r.Event == name })
}

// step waits for the result line of that step.
func (p *peerProc) step(name string, d time.Duration) line {
	p.t.Helper()
	return p.until(d, "step "+name, func(r Result) bool { return r.Step == name && r.Event == "" })
}

// send writes one line to the peer's standard input.
func (p *peerProc) send(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, s+"\n"); err != nil {
		p.t.Fatalf("writing to peer %s: %v", p.what, err)
	}
}

// finish waits for a client peer's "done" event and its exit, and fails the
// test unless both report success.
func (p *peerProc) finish(d time.Duration) {
	p.t.Helper()
	done := p.event("done", d)
	err := p.waitExit(d)
	if !done.OK || err != nil {
		p.t.Errorf("peer %s failed: %s (exit: %v)", p.what, done.raw, err)
	}
}

// shortTempDir returns a new directory with a path short enough for unix
// socket names (t.TempDir can exceed the 108-byte limit with long test names).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ti")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startPeerServer starts v's server on a fresh socket and waits until it
// listens.
func startPeerServer(t *testing.T, v *peerVersion) (*peerProc, string) {
	t.Helper()
	sock := filepath.Join(shortTempDir(t), "s")
	p := startPeer(t, v, "server", "server", sock)
	l := p.event("listening", 20*time.Second)
	if l.Value != v.name {
		t.Fatalf("peer says it is %q, want %q", l.Value, v.name)
	}
	return p, sock
}

// startPeerClient runs a scenario of v's client against sock.
func startPeerClient(t *testing.T, v *peerVersion, sock, scenario string, args ...string) *peerProc {
	t.Helper()
	return startPeer(t, v, "client "+scenario, append([]string{"client", sock, scenario}, args...)...)
}

// waitListenerGone polls (bounded) until nothing accepts connections on sock:
// the sign that a server's Shutdown or Close has begun.
func waitListenerGone(t *testing.T, sock string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("unix", sock, time.Second)
		if err != nil {
			return
		}
		conn.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections after %v", sock, d)
}
