// Command compare measures this ttrpc and grpc-go side by side on the same
// echo service over unix sockets, client and server in separate processes,
// and prints one table with their ratios. The size and idle-memory rows also
// have the established ttrpc v1.0.2's minimal server (the module in
// established/v1.0.2), and this module's built in that module under the same
// dependency pins. Run it from the benchmarks directory (it builds the
// minimal servers with the go command):
//
//	go run ./cmd/compare
//
// The server processes are this binary re-executed with -serve, and the
// stream clients of this module and grpc-go with -stream-client.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/containerd/ttrpc/benchmarks/internal/grpcecho"
	"github.com/containerd/ttrpc/benchmarks/internal/grpcstream"
	"github.com/containerd/ttrpc/benchmarks/internal/ttrpcecho"
	"github.com/containerd/ttrpc/benchmarks/internal/ttrpcstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var (
	serve        = flag.String("serve", "", "internal: run as the server of this implementation (ttrpc, grpc or raw)")
	sock         = flag.String("sock", "", "internal: socket path for -serve")
	duration     = flag.Duration("d", time.Second, "duration of each throughput and latency measurement")
	rounds       = flag.Int("rounds", 3, "measurements per workload and implementation (the median is reported)")
	idleConn     = flag.Int("conns", 100, "idle connections opened to measure per-connection memory")
	streamClient = flag.String("stream-client", "", "internal: run one stream workload as a client of this implementation (ttrpc or grpc) against -sock; arguments WORKLOAD A B SIZE DURATION as ministream's, prints the rate")
	only         = flag.String("only", "", `run only one part: "streams" (the stream workloads), "unary" (everything else); "" runs both`)
)

func main() {
	flag.Parse()
	if *serve != "" {
		runServer(*serve, *sock)
		return
	}
	if *streamClient != "" {
		if err := runStreamClient(*streamClient, *sock, flag.Args()); err != nil {
			fmt.Fprintln(os.Stderr, "compare -stream-client:", err)
			os.Exit(1)
		}
		return
	}
	if err := compare(); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// runServer is the server process: it serves the echo service and answers
// every stdin line with its allocation counters and goroutine count.
func runServer(impl, path string) {
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Println(ms.Mallocs, ms.TotalAlloc, runtime.NumGoroutine())
		}
		os.Exit(0)
	}()
	fmt.Println("ready")
	switch impl {
	case "ttrpc":
		// The echo service and the stream service (stream.go); the
		// minimal servers of the size rows have only the echo service.
		var s *ttrpc.Server
		if s, err = ttrpcecho.NewTTRPCServer(); err == nil {
			ttrpcstream.Register(s)
			err = s.Serve(context.Background(), l)
		}
	case "grpc":
		s := grpcecho.NewGRPCServer()
		grpcstream.Register(s)
		err = s.Serve(l)
	case "raw":
		err = serveRaw(l)
	default:
		err = fmt.Errorf("unknown implementation %q", impl)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// proc is a child server process with a line protocol on stdin/stdout.
type proc struct {
	cmd *exec.Cmd
	in  *bufio.Writer
	out *bufio.Scanner
	w   interface{ Close() error }
}

func start(path string, args ...string) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, in: bufio.NewWriter(w), out: bufio.NewScanner(r), w: w}
	if line, err := p.readLine(); err != nil || line != "ready" {
		p.stop()
		return nil, fmt.Errorf("%s did not start: %q %v", path, line, err)
	}
	return p, nil
}

func (p *proc) readLine() (string, error) {
	if !p.out.Scan() {
		if err := p.out.Err(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("server exited")
	}
	return p.out.Text(), nil
}

// query asks the server for its counters: one line of integers.
func (p *proc) query() ([]int64, error) {
	p.in.WriteString("q\n")
	if err := p.in.Flush(); err != nil {
		return nil, err
	}
	line, err := p.readLine()
	if err != nil {
		return nil, err
	}
	var vals []int64
	for _, f := range strings.Fields(line) {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// rssKiB reads VmRSS of the process from /proc.
func (p *proc) rssKiB() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func (p *proc) stop() {
	p.w.Close()
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// impl is one library under test: a way to start its server and to make
// calls with a client of it.
type impl struct {
	name    string
	minimal string // package of the minimal server
	dial    func(path string) (caller, error)
	dir     string // module directory of the minimal server ("" for this one)
	modfile string // go.mod to build it with instead of dir's (copied to a temporary directory)
}

// caller makes echo calls of a given size; one caller is one client
// connection, shared by concurrent goroutines.
type caller interface {
	newCall(size int) func(ctx context.Context) error
	close()
}

type ttrpcCaller struct{ c *ttrpc.Client }

func dialTTRPC(path string) (caller, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	return ttrpcCaller{ttrpc.NewClient(conn)}, nil
}

func (t ttrpcCaller) newCall(size int) func(ctx context.Context) error {
	req := &ttrpcecho.Payload{Value: make([]byte, size)}
	resp := &ttrpcecho.Payload{}
	return func(ctx context.Context) error {
		if err := ttrpcecho.TTRPCCall(ctx, t.c, req, resp); err != nil {
			return err
		}
		if len(resp.Value) != size {
			return fmt.Errorf("echo returned %d bytes, sent %d", len(resp.Value), size)
		}
		return nil
	}
}

func (t ttrpcCaller) close() { t.c.Close() }

type grpcCaller struct{ c *grpc.ClientConn }

func dialGRPC(path string) (caller, error) {
	c, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20), grpc.MaxCallSendMsgSize(8<<20)))
	if err != nil {
		return nil, err
	}
	return grpcCaller{c}, nil
}

func (g grpcCaller) newCall(size int) func(ctx context.Context) error {
	req := &wrapperspb.BytesValue{Value: make([]byte, size)}
	resp := &wrapperspb.BytesValue{}
	return func(ctx context.Context) error {
		if err := grpcecho.GRPCCall(ctx, g.c, req, resp); err != nil {
			return err
		}
		if len(resp.Value) != size {
			return fmt.Errorf("echo returned %d bytes, sent %d", len(resp.Value), size)
		}
		return nil
	}
}

func (g grpcCaller) close() { g.c.Close() }

// The raw floor: bare ttrpc-framed echo over the same kind of socket, with no
// protobuf, no call table and no multiplexing. The server answers each frame
// with one write from the goroutine that read it; the client writes a frame
// and reads the echo on the calling goroutine. No RPC library can beat it.

const rawHeader = 10

func serveRaw(l net.Listener) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 16<<10)
			buf := make([]byte, rawHeader, 64<<10)
			for {
				if _, err := io.ReadFull(br, buf[:rawHeader]); err != nil {
					return
				}
				n := int(binary.BigEndian.Uint32(buf))
				if cap(buf) < rawHeader+n {
					nb := make([]byte, rawHeader+n)
					copy(nb, buf[:rawHeader])
					buf = nb
				}
				buf = buf[:rawHeader+n]
				if _, err := io.ReadFull(br, buf[rawHeader:]); err != nil {
					return
				}
				buf[8] = 2 // response
				if _, err := conn.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}

type rawCaller struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(path string) (caller, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	return &rawCaller{conn: conn, br: bufio.NewReaderSize(conn, 16<<10)}, nil
}

func (r *rawCaller) newCall(size int) func(ctx context.Context) error {
	frame := make([]byte, rawHeader+size)
	binary.BigEndian.PutUint32(frame, uint32(size))
	binary.BigEndian.PutUint32(frame[4:], 1)
	frame[8] = 1 // request
	in := make([]byte, rawHeader+size)
	return func(ctx context.Context) error {
		if _, err := r.conn.Write(frame); err != nil {
			return err
		}
		if _, err := io.ReadFull(r.br, in); err != nil {
			return err
		}
		if got := binary.BigEndian.Uint32(in); got != uint32(size) {
			return fmt.Errorf("raw echo returned %d bytes, sent %d", got, size)
		}
		return nil
	}
}

func (r *rawCaller) close() { r.conn.Close() }

var impls = []impl{
	{name: "ttrpc", minimal: "./cmd/minttrpc", dial: dialTTRPC},
	{name: "grpc-go", minimal: "./cmd/mingrpc", dial: dialGRPC},
}

// The established ttrpc v1.0.2's minimal server: the same generated echo
// service and main (copies, see established/v1.0.2) in a module of its own
// under containerd 1.5's dependency pins; and this module's built in that
// module with github.com/containerd/ttrpc replaced by this repository (same
// pins, same code, only ttrpc differs). Both serve our client, which speaks
// the same protocol; they are measured only for size and idle memory.
const establishedDir = "established/v1.0.2"

var (
	established = impl{name: "ttrpc v1.0.2", minimal: "./cmd/minttrpc", dial: dialTTRPC, dir: establishedDir}
	pinned      = impl{name: "ttrpc, v1.0.2's pins", minimal: "./cmd/minttrpc", dial: dialTTRPC, dir: establishedDir, modfile: "go.ours.mod"}
)

// row is one line of the table: a value per implementation, and the
// established v1.0.2's value where it was measured.
type row struct {
	name   string
	unit   string
	vals   [2]float64
	old    float64 // established v1.0.2 (0: not measured)
	better string  // "lower" or "higher"
}

func compare() error {
	dir, err := os.MkdirTemp("", "ttrpc-compare")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}

	var rows []row
	add := func(name, unit, better string, f func(i int) (float64, error)) error {
		r := row{name: name, unit: unit, better: better}
		for i := range impls {
			v, err := f(i)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", name, impls[i].name, err)
			}
			r.vals[i] = v
		}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "  %-34s %12.4g %12.4g\n", name, r.vals[0], r.vals[1])
		return nil
	}

	if err := checkEstablishedCopies(); err != nil {
		return err
	}
	if *only != "" && *only != "streams" && *only != "unary" {
		return fmt.Errorf("-only %q: want streams or unary", *only)
	}
	unary := *only != "streams"
	if unary {
		if err := sizeAndIdle(dir, add, &rows); err != nil {
			return err
		}
	}

	// Workloads against full server processes (this binary, -serve).
	servers := make([]*proc, len(impls))
	clients := make([]caller, len(impls))
	sockets := make([]string, len(impls))
	for i, im := range impls {
		path := filepath.Join(dir, fmt.Sprintf("srv%d.sock", i))
		sockets[i] = path
		name := strings.TrimSuffix(im.name, "-go")
		p, err := start(self, "-serve", name, "-sock", path)
		if err != nil {
			return err
		}
		defer p.stop()
		servers[i] = p
		if clients[i], err = im.dial(path); err != nil {
			return err
		}
		defer clients[i].close()
	}

	if unary {
		if err := unaryWorkloads(self, dir, servers, clients, add, &rows); err != nil {
			return err
		}
	}
	if *only != "unary" {
		// Every library's stream client is a process of its own
		// (streams.go), so the unary part leaves nothing behind for it.
		return streamWorkloads(dir, sockets)
	}
	return nil
}

// unaryWorkloads adds the rows of the unary workloads against the servers,
// with the raw-frame floor, and prints the table.
func unaryWorkloads(self, dir string, servers []*proc, clients []caller, add func(name, unit, better string, f func(i int) (float64, error)) error, rowsp *[]row) error {
	rawSrv, err := start(self, "-serve", "raw", "-sock", filepath.Join(dir, "raw.sock"))
	if err != nil {
		return err
	}
	defer rawSrv.stop()
	rawClient, err := dialRaw(filepath.Join(dir, "raw.sock"))
	if err != nil {
		return err
	}
	defer rawClient.close()

	fmt.Fprintln(os.Stderr, "serial 1 KiB calls: latency and allocations ...")
	lat := make([]latResult, len(impls))
	var rawLat latResult
	for r := 0; r < *rounds; r++ {
		res, err := measureSerial(rawClient, rawSrv, 1<<10, *duration)
		if err != nil {
			return err
		}
		rawLat.add(res)
		for i := range impls {
			res, err := measureSerial(clients[i], servers[i], 1<<10, *duration)
			if err != nil {
				return err
			}
			lat[i].add(res)
		}
	}
	floor := rawLat.median(func(l latResult) float64 { return l.p50 })
	serialP50 := len(*rowsp)
	add("serial 1 KiB: p50 latency", "µs", "lower", func(i int) (float64, error) { return lat[i].median(func(l latResult) float64 { return l.p50 }), nil })
	add("serial 1 KiB: p99 latency", "µs", "lower", func(i int) (float64, error) { return lat[i].median(func(l latResult) float64 { return l.p99 }), nil })
	add("serial 1 KiB: calls/s", "calls/s", "higher", func(i int) (float64, error) { return lat[i].median(func(l latResult) float64 { return l.rate }), nil })
	add("allocs per call (client+server)", "", "lower", func(i int) (float64, error) {
		return lat[i].median(func(l latResult) float64 { return l.allocs }), nil
	})
	add("bytes per call (client+server)", "B", "lower", func(i int) (float64, error) {
		return lat[i].median(func(l latResult) float64 { return l.bytes }), nil
	})

	for _, w := range []struct {
		name          string
		callers, size int
	}{
		{"64 callers × 1 KiB: calls/s", 64, 1 << 10},
		{"8 callers × 64 KiB: calls/s", 8, 64 << 10},
		{"8 callers × 1 MiB: calls/s", 8, 1 << 20},
	} {
		fmt.Fprintf(os.Stderr, "%s ...\n", w.name)
		rates := make([][]float64, len(impls))
		for r := 0; r < *rounds; r++ {
			for i := range impls {
				rate, err := measureThroughput(clients[i], w.callers, w.size, *duration)
				if err != nil {
					return err
				}
				rates[i] = append(rates[i], rate)
			}
		}
		add(w.name, "calls/s", "higher", func(i int) (float64, error) { return median(rates[i]), nil })
	}

	printTable(*rowsp)
	fmt.Printf("raw-frame floor (bare 10-byte-header echo, same sockets and processes, measured in the same rounds):\n")
	fmt.Printf("serial 1 KiB p50 %s µs; ttrpc %.2f× the floor, grpc-go %.2f×.\n",
		format(floor), (*rowsp)[serialP50].vals[0]/floor, (*rowsp)[serialP50].vals[1]/floor)
	return nil
}

// sizeAndIdle adds the size and idle-memory rows: the stripped minimal
// servers of both libraries, the established v1.0.2's, and this module's
// under v1.0.2's pins.
func sizeAndIdle(dir string, add func(name, unit, better string, f func(i int) (float64, error)) error, rowsp *[]row) error {
	// Static and idle measurements on the stripped minimal servers, built
	// as go build does by default (cgo on: dynamically linked through package
	// net) and as containerd builds its shims (CGO_ENABLED=0: static). The
	// idle measurements also cover the established v1.0.2 and this module
	// under its pins (indexes 2 and 3 of all).
	all := append(append([]impl(nil), impls...), established, pinned)
	const iOld, iPinned = 2, 3
	fmt.Fprintln(os.Stderr, "building minimal servers (-ldflags='-s -w') ...")
	bins := make([]string, len(all))
	static := make([]string, len(all))
	for i, im := range all {
		bins[i] = filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(im.minimal)))
		static[i] = bins[i] + "-static"
		for _, b := range []struct {
			out string
			env []string
		}{{bins[i], nil}, {static[i], []string{"CGO_ENABLED=0"}}} {
			if err := buildMinimal(im, b.out, dir, b.env); err != nil {
				return err
			}
		}
	}
	sizes := make([][2]float64, len(all))
	for i := range all {
		for k, bin := range []string{bins[i], static[i]} {
			st, err := os.Stat(bin)
			if err != nil {
				return err
			}
			sizes[i][k] = float64(st.Size()) / 1024
		}
	}
	// Each server is started -rounds times, alternating the libraries, and
	// the medians are reported: a single start's RSS varies by a few %.
	idle := make([]idleResult, len(all))
	idleStatic := make([]idleResult, len(all))
	idleRuns := make([][]idleResult, 2*len(all))
	for r := 0; r < *rounds; r++ {
		for i := range all {
			for k, bin := range []string{bins[i], static[i]} {
				res, err := measureIdle(all[i], bin, filepath.Join(dir, fmt.Sprintf("idle%d-%d-%d.sock", r, i, k)))
				if err != nil {
					return fmt.Errorf("idle %s (%s): %w", all[i].name, bin, err)
				}
				idleRuns[2*i+k] = append(idleRuns[2*i+k], res)
			}
		}
	}
	for i := range all {
		idle[i], idleStatic[i] = medianIdle(idleRuns[2*i]), medianIdle(idleRuns[2*i+1])
	}
	// withOld adds a row with the established v1.0.2's value (old) too;
	// pinnedRow one whose ttrpc value is this module's under v1.0.2's pins.
	withOld := func(name, unit string, v func(i int) float64) {
		add(name, unit, "lower", func(i int) (float64, error) { return v(i), nil })
		(*rowsp)[len(*rowsp)-1].old = v(iOld)
	}
	pinnedRow := func(name, unit string, v func(i int) float64) {
		r := row{name: name, unit: unit, better: "lower", vals: [2]float64{v(iPinned), 0}, old: v(iOld)}
		*rowsp = append(*rowsp, r)
		fmt.Fprintf(os.Stderr, "  %-34s %12.4g %12s %12.4g\n", name, r.vals[0], "", r.old)
	}
	withOld("stripped minimal server", "KiB", func(i int) float64 { return sizes[i][0] })
	withOld("stripped minimal server, static", "KiB", func(i int) float64 { return sizes[i][1] })
	withOld("idle server RSS", "KiB", func(i int) float64 { return float64(idle[i].rss) })
	withOld("idle server RSS, static", "KiB", func(i int) float64 { return float64(idleStatic[i].rss) })
	withOld("RSS per idle connection", "KiB", func(i int) float64 { return idle[i].rssPerConn })
	withOld("goroutines per idle connection", "", func(i int) float64 { return idle[i].gPerConn })
	pinnedRow("v1.0.2's pins: stripped minimal server", "KiB", func(i int) float64 { return sizes[i][0] })
	pinnedRow("v1.0.2's pins: …, static", "KiB", func(i int) float64 { return sizes[i][1] })
	pinnedRow("v1.0.2's pins: idle server RSS", "KiB", func(i int) float64 { return float64(idle[i].rss) })
	pinnedRow("v1.0.2's pins: idle server RSS, static", "KiB", func(i int) float64 { return float64(idleStatic[i].rss) })
	pinnedRow("v1.0.2's pins: RSS per idle connection", "KiB", func(i int) float64 { return idle[i].rssPerConn })

	return nil
}

type idleResult struct {
	rss        int64
	rssPerConn float64
	gPerConn   float64
}

// medianIdle returns the median of each figure of runs.
func medianIdle(runs []idleResult) idleResult {
	var rss, perConn, g []float64
	for _, r := range runs {
		rss = append(rss, float64(r.rss))
		perConn = append(perConn, r.rssPerConn)
		g = append(g, r.gPerConn)
	}
	return idleResult{rss: int64(median(rss)), rssPerConn: median(perConn), gPerConn: median(g)}
}

// measureIdle starts a stripped minimal server, reads its RSS when idle,
// then opens idle connections (each makes one call, so that grpc-go's lazy
// connections are really up) and reads RSS and goroutines again.
func measureIdle(im impl, bin, path string) (idleResult, error) {
	var res idleResult
	p, err := start(bin, path)
	if err != nil {
		return res, err
	}
	defer p.stop()
	time.Sleep(500 * time.Millisecond)
	if res.rss, err = p.rssKiB(); err != nil {
		return res, err
	}
	g0, err := p.query()
	if err != nil {
		return res, err
	}
	var conns []caller
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	for i := 0; i < *idleConn; i++ {
		c, err := im.dial(path)
		if err != nil {
			return res, err
		}
		conns = append(conns, c)
		if err := c.newCall(0)(context.Background()); err != nil {
			return res, err
		}
	}
	time.Sleep(500 * time.Millisecond)
	rss, err := p.rssKiB()
	if err != nil {
		return res, err
	}
	g1, err := p.query()
	if err != nil {
		return res, err
	}
	res.rssPerConn = float64(rss-res.rss) / float64(*idleConn)
	res.gPerConn = float64(g1[0]-g0[0]) / float64(*idleConn)
	return res, nil
}

type latResult struct {
	p50, p99, rate, allocs, bytes float64
	runs                          []latResult
}

func (l *latResult) add(r latResult) { l.runs = append(l.runs, r) }

func (l *latResult) median(f func(latResult) float64) float64 {
	vals := make([]float64, len(l.runs))
	for i, r := range l.runs {
		vals[i] = f(r)
	}
	return median(vals)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// measureSerial makes calls one at a time for d and reports latency
// percentiles, the call rate and allocations per call on both sides.
func measureSerial(c caller, srv *proc, size int, d time.Duration) (latResult, error) {
	call := c.newCall(size)
	ctx := context.Background()
	for i := 0; i < 100; i++ { // warm up
		if err := call(ctx); err != nil {
			return latResult{}, err
		}
	}
	s0, err := srv.query()
	if err != nil {
		return latResult{}, err
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	lats := make([]time.Duration, 0, 1<<16)
	start := time.Now()
	for time.Since(start) < d {
		t := time.Now()
		if err := call(ctx); err != nil {
			return latResult{}, err
		}
		lats = append(lats, time.Since(t))
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m1)
	s1, err := srv.query()
	if err != nil {
		return latResult{}, err
	}
	n := float64(len(lats))
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	// The latency slice's own growth is counted on the client side; it is a
	// handful of allocations over tens of thousands of calls.
	return latResult{
		p50:    float64(lats[len(lats)/2].Nanoseconds()) / 1e3,
		p99:    float64(lats[len(lats)*99/100].Nanoseconds()) / 1e3,
		rate:   n / elapsed.Seconds(),
		allocs: (float64(m1.Mallocs-m0.Mallocs) + float64(s1[0]-s0[0])) / n,
		bytes:  (float64(m1.TotalAlloc-m0.TotalAlloc) + float64(s1[1]-s0[1])) / n,
	}, nil
}

// measureThroughput runs callers goroutines on one connection for d.
func measureThroughput(c caller, callers, size int, d time.Duration) (float64, error) {
	var (
		count   atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for w := 0; w < callers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := c.newCall(size)
			for !stop.Load() {
				if err := call(context.Background()); err != nil {
					errOnce.Do(func() { first = err })
					return
				}
				count.Add(1)
			}
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds(), first
}

func printTable(rows []row) {
	host, _ := os.Hostname()
	fmt.Printf("ttrpc (this module) vs grpc-go, unix sockets, client and server in separate processes;\n")
	fmt.Printf("size and idle rows also vs the established ttrpc v1.0.2 (%s, containerd 1.5's pins)\n", establishedDir)
	fmt.Printf("%s, %s/%s, %d CPUs (GOMAXPROCS %d), %s, host %s\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), host)
	fmt.Printf("| %-46s | %12s | %12s | %13s | %12s | %12s |\n", "metric", "ttrpc", "grpc-go", "ttrpc/grpc-go", "ttrpc v1.0.2", "ttrpc/v1.0.2")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 48), strings.Repeat("-", 13)+":", strings.Repeat("-", 13)+":", strings.Repeat("-", 14)+":",
		strings.Repeat("-", 13)+":", strings.Repeat("-", 13)+":")
	cell := func(v float64) string {
		if v == 0 {
			return ""
		}
		return format(v)
	}
	for _, r := range rows {
		name := r.name
		if r.unit != "" {
			name += " (" + r.unit + ")"
		}
		ratio := ""
		if r.vals[1] != 0 {
			ratio = fmt.Sprintf("%.2f×", r.vals[0]/r.vals[1])
		}
		oldRatio := ""
		if r.old != 0 {
			oldRatio = fmt.Sprintf("%.2f×", r.vals[0]/r.old)
		}
		fmt.Printf("| %-46s | %12s | %12s | %13s | %12s | %12s |\n", name, cell(r.vals[0]), cell(r.vals[1]), ratio, cell(r.old), oldRatio)
	}
	fmt.Printf("\nratios: lower is better for sizes, memory, latency and allocations; higher is better for calls/s.\n")
	fmt.Printf("\"v1.0.2's pins\" rows: this module's minimal server built in %s's module with ttrpc replaced by this\n", establishedDir)
	fmt.Printf("repository (go.ours.mod): the same code and dependency pins as the v1.0.2 column, only ttrpc differs.\n")
}

// buildMinimal builds im's stripped minimal server into out.
func buildMinimal(im impl, out, tmp string, env []string) error {
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}
	if im.modfile != "" {
		// A copy, so that resolving a changed root go.mod (-mod=mod)
		// does not rewrite the checked-in file.
		mf := filepath.Join(tmp, "ours.mod")
		for _, ext := range []string{".mod", ".sum"} {
			b, err := os.ReadFile(filepath.Join(im.dir, strings.TrimSuffix(im.modfile, ".mod")+ext))
			if err != nil {
				return err
			}
			if err := os.WriteFile(strings.TrimSuffix(mf, ".mod")+ext, b, 0o644); err != nil {
				return err
			}
		}
		args = append(args, "-modfile="+mf, "-mod=mod")
	}
	cmd := exec.Command("go", append(args, im.minimal)...)
	cmd.Dir = im.dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s (%s) in %q: %v\n%s", im.minimal, im.name, im.dir, err, out)
	}
	return nil
}

// checkEstablishedCopies makes sure the v1.0.2 module builds the same
// generated code and main as the ttrpc side here (established/v1.0.2/sync.sh
// refreshes them).
func checkEstablishedCopies() error {
	const here, there = "github.com/containerd/ttrpc/benchmarks/internal/ttrpcecho", "github.com/containerd/ttrpc/benchmarks/" + establishedDir + "/internal/ttrpcecho"
	for _, f := range []struct {
		path    string
		rewrite bool // the import path of the echo package is the copy's
	}{{"internal/ttrpcecho/echo.pb.go", false}, {"cmd/minttrpc/main.go", true}} {
		want, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("%v (run compare from the benchmarks directory)", err)
		}
		if f.rewrite {
			want = bytes.ReplaceAll(want, []byte(here), []byte(there))
		}
		got, err := os.ReadFile(filepath.Join(establishedDir, f.path))
		if err != nil {
			return err
		}
		if !bytes.Equal(want, got) {
			return fmt.Errorf("%s/%s is not a copy of %s: run %s/sync.sh", establishedDir, f.path, f.path, establishedDir)
		}
	}
	return nil
}

func format(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
