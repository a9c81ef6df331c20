// Command compare measures this ttrpc and grpc-go side by side on the same
// echo service over unix sockets, client and server in separate processes,
// and prints one table with their ratios. Run it from the benchmarks
// directory (it builds the minimal servers with the go command):
//
//	go run ./cmd/compare
//
// The server processes are this binary re-executed with -serve.
package main

import (
	"bufio"
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
	"github.com/containerd/ttrpc/benchmarks/internal/ttrpcecho"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var (
	serve    = flag.String("serve", "", "internal: run as the server of this implementation (ttrpc, grpc or raw)")
	sock     = flag.String("sock", "", "internal: socket path for -serve")
	duration = flag.Duration("d", time.Second, "duration of each throughput and latency measurement")
	rounds   = flag.Int("rounds", 3, "measurements per workload and implementation (the median is reported)")
	idleConn = flag.Int("conns", 100, "idle connections opened to measure per-connection memory")
)

func main() {
	flag.Parse()
	if *serve != "" {
		runServer(*serve, *sock)
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
		err = ttrpcecho.ServeTTRPC(l)
	case "grpc":
		err = grpcecho.ServeGRPC(l)
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

// row is one line of the table: a value per implementation.
type row struct {
	name   string
	unit   string
	vals   [2]float64
	better string // "lower" or "higher"
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

	// Static and idle measurements on the stripped minimal servers, built
	// as go build does by default (cgo on: dynamically linked through package
	// net) and as containerd builds its shims (CGO_ENABLED=0: static).
	fmt.Fprintln(os.Stderr, "building minimal servers (-ldflags='-s -w') ...")
	bins := make([]string, len(impls))
	static := make([]string, len(impls))
	for i, im := range impls {
		bins[i] = filepath.Join(dir, filepath.Base(im.minimal))
		static[i] = bins[i] + "-static"
		for _, b := range []struct {
			out string
			env []string
		}{{bins[i], nil}, {static[i], []string{"CGO_ENABLED=0"}}} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", b.out, im.minimal)
			cmd.Env = append(os.Environ(), b.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("building %s: %v\n%s", im.minimal, err, out)
			}
		}
	}
	size := func(bins []string) func(i int) (float64, error) {
		return func(i int) (float64, error) {
			st, err := os.Stat(bins[i])
			if err != nil {
				return 0, err
			}
			return float64(st.Size()) / 1024, nil
		}
	}
	if err := add("stripped minimal server", "KiB", "lower", size(bins)); err != nil {
		return err
	}
	if err := add("stripped minimal server, static", "KiB", "lower", size(static)); err != nil {
		return err
	}
	// Each server is started -rounds times, alternating the libraries, and
	// the medians are reported: a single start's RSS varies by a few %.
	idle := make([]idleResult, len(impls))
	idleStatic := make([]idleResult, len(impls))
	idleRuns := make([][]idleResult, 2*len(impls))
	for r := 0; r < *rounds; r++ {
		for i := range impls {
			for k, bin := range []string{bins[i], static[i]} {
				res, err := measureIdle(impls[i], bin, filepath.Join(dir, fmt.Sprintf("idle%d-%d-%d.sock", r, i, k)))
				if err != nil {
					return fmt.Errorf("idle %s (%s): %w", impls[i].name, bin, err)
				}
				idleRuns[2*i+k] = append(idleRuns[2*i+k], res)
			}
		}
	}
	for i := range impls {
		idle[i], idleStatic[i] = medianIdle(idleRuns[2*i]), medianIdle(idleRuns[2*i+1])
	}
	add("idle server RSS", "KiB", "lower", func(i int) (float64, error) { return float64(idle[i].rss), nil })
	add("idle server RSS, static", "KiB", "lower", func(i int) (float64, error) { return float64(idleStatic[i].rss), nil })
	add("RSS per idle connection", "KiB", "lower", func(i int) (float64, error) { return idle[i].rssPerConn, nil })
	add("goroutines per idle connection", "", "lower", func(i int) (float64, error) { return idle[i].gPerConn, nil })

	// Workloads against full server processes (this binary, -serve).
	servers := make([]*proc, len(impls))
	clients := make([]caller, len(impls))
	for i, im := range impls {
		path := filepath.Join(dir, fmt.Sprintf("srv%d.sock", i))
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
	serialP50 := len(rows)
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

	printTable(rows)
	fmt.Printf("raw-frame floor (bare 10-byte-header echo, same sockets and processes, measured in the same rounds):\n")
	fmt.Printf("serial 1 KiB p50 %s µs; ttrpc %.2f× the floor, grpc-go %.2f×.\n",
		format(floor), rows[serialP50].vals[0]/floor, rows[serialP50].vals[1]/floor)
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
	fmt.Printf("ttrpc (this module) vs grpc-go, unix sockets, client and server in separate processes\n")
	fmt.Printf("%s, %s/%s, %d CPUs (GOMAXPROCS %d), %s, host %s\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), host)
	fmt.Printf("| %-40s | %12s | %12s | %13s |\n", "metric", "ttrpc", "grpc-go", "ttrpc/grpc-go")
	fmt.Printf("|%s|%s|%s|%s|\n", strings.Repeat("-", 42), strings.Repeat("-", 13)+":", strings.Repeat("-", 13)+":", strings.Repeat("-", 14)+":")
	for _, r := range rows {
		name := r.name
		if r.unit != "" {
			name += " (" + r.unit + ")"
		}
		ratio := "n/a"
		if r.vals[1] != 0 {
			ratio = fmt.Sprintf("%.2f×", r.vals[0]/r.vals[1])
		}
		fmt.Printf("| %-40s | %12s | %12s | %13s |\n", name, format(r.vals[0]), format(r.vals[1]), ratio)
	}
	fmt.Printf("\nratios: lower is better for sizes, memory, latency and allocations; higher is better for calls/s.\n")
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
