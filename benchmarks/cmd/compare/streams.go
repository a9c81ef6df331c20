package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/containerd/ttrpc/benchmarks/internal/grpcstream"
	"github.com/containerd/ttrpc/benchmarks/internal/ttrpcstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The stream workloads: this module's ttrpc, grpc-go and the established
// ttrpc v1.2.10, each a client and a server in separate processes over a
// unix socket. Every measurement starts a client process of its own: this
// binary with -stream-client for this module and grpc-go, against the
// -serve processes (which serve the stream service next to the echo
// service); established/v1.2.10's cmd/ministream for v1.2.10, against a
// ministream server started once.
// The workloads are internal/ttrpcstream's and internal/grpcstream's: the
// same code for this module and v1.2.10 (a copy), the same shape for
// grpc-go.

const (
	establishedStreamDir = "established/v1.2.10"
	streamSize           = 1 << 10
	// longStream is the number of messages of a server stream: long enough
	// that opening and ending streams is a small part of the rate (see the
	// short-streams row for that part).
	longStream = 65536
)

// streamer runs the stream workloads of one library.
type streamer interface {
	serverStreams(streams, perStream int, d time.Duration) (float64, error)
	bidi(inflight int, d time.Duration) (float64, error)
	short(d time.Duration) (float64, error)
}

// processStreamer runs each workload in a client process of its own,
// started with argv plus the workload's arguments, which prints the rate on
// one line: v1.2.10's ministream, and this binary with -stream-client for
// this module and grpc-go. Every library's client thus starts from the same
// state, alone in its process: no other library's heap and goroutines for
// its garbage collector to scan, nothing left over from earlier workloads.
type processStreamer struct{ argv []string }

func (s processStreamer) run(args ...string) (float64, error) {
	cmd := exec.Command(s.argv[0], append(append([]string{}, s.argv[1:]...), args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %v", strings.Join(s.argv, " "), strings.Join(args, " "), err)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}

func (s processStreamer) serverStreams(n, per int, d time.Duration) (float64, error) {
	return s.run("streams", strconv.Itoa(n), strconv.Itoa(per), strconv.Itoa(streamSize), d.String())
}
func (s processStreamer) bidi(inflight int, d time.Duration) (float64, error) {
	return s.run("bidi", strconv.Itoa(inflight), "-", strconv.Itoa(streamSize), d.String())
}
func (s processStreamer) short(d time.Duration) (float64, error) {
	return s.run("short", "-", "-", strconv.Itoa(streamSize), d.String())
}

// ttrpcStreamer and grpcStreamer are the workloads of this module's and
// grpc-go's clients, run in a -stream-client process.
type ttrpcStreamer struct {
	c    *ttrpc.Client
	size int
}

func (s ttrpcStreamer) serverStreams(n, per int, d time.Duration) (float64, error) {
	return ttrpcstream.ServerStreams(s.c, n, per, s.size, d)
}
func (s ttrpcStreamer) bidi(inflight int, d time.Duration) (float64, error) {
	return ttrpcstream.BidiEcho(s.c, s.size, inflight, d)
}
func (s ttrpcStreamer) short(d time.Duration) (float64, error) {
	return ttrpcstream.ShortStreams(s.c, s.size, d)
}

type grpcStreamer struct {
	c    *grpc.ClientConn
	size int
}

func (s grpcStreamer) serverStreams(n, per int, d time.Duration) (float64, error) {
	return grpcstream.ServerStreams(s.c, n, per, s.size, d)
}
func (s grpcStreamer) bidi(inflight int, d time.Duration) (float64, error) {
	return grpcstream.BidiEcho(s.c, s.size, inflight, d)
}
func (s grpcStreamer) short(d time.Duration) (float64, error) {
	return grpcstream.ShortStreams(s.c, s.size, d)
}

// runStreamClient is the -stream-client process: one workload of impl's
// client against the server at sock, with ministream's arguments
// (WORKLOAD A B SIZE DURATION); it prints the rate.
func runStreamClient(impl, sock string, args []string) error {
	if len(args) != 5 {
		return fmt.Errorf("want WORKLOAD A B SIZE DURATION, got %q", args)
	}
	var nums [3]int
	for i, s := range args[1:4] {
		if s == "-" { // not used by the workload
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		nums[i] = n
	}
	a, b, size := nums[0], nums[1], nums[2]
	d, err := time.ParseDuration(args[4])
	if err != nil {
		return err
	}
	var s streamer
	switch impl {
	case "ttrpc":
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return err
		}
		c := ttrpc.NewClient(conn)
		defer c.Close()
		s = ttrpcStreamer{c, size}
	case "grpc":
		c, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer c.Close()
		s = grpcStreamer{c, size}
	default:
		return fmt.Errorf("-stream-client %q: want ttrpc or grpc", impl)
	}
	var rate float64
	switch args[0] {
	case "streams":
		rate, err = s.serverStreams(a, b, d)
	case "bidi":
		rate, err = s.bidi(a, d)
	case "short":
		rate, err = s.short(d)
	default:
		err = fmt.Errorf("unknown workload %q", args[0])
	}
	if err != nil {
		return err
	}
	fmt.Println(rate)
	return nil
}

// streamWorkloads measures the stream workloads of this module's ttrpc
// (servers[0]'s socket), grpc-go (servers[1]'s) and v1.2.10, alternating
// the libraries in each round, and prints their table.
func streamWorkloads(dir string, sockets []string) error {
	if err := checkStreamCopy(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "building ttrpc v1.2.10's stream server and client ...")
	bin := filepath.Join(dir, "ministream-v1.2.10")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ministream")
	cmd.Dir = establishedStreamDir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s/cmd/ministream: %v\n%s", establishedStreamDir, err, out)
	}
	oldSock := filepath.Join(dir, "ministream.sock")
	oldSrv, err := start(bin, "serve", oldSock)
	if err != nil {
		return err
	}
	defer oldSrv.stop()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	libs := []streamer{
		processStreamer{[]string{self, "-stream-client", "ttrpc", "-sock", sockets[0]}},
		processStreamer{[]string{self, "-stream-client", "grpc", "-sock", sockets[1]}},
		processStreamer{[]string{bin, "client", oldSock}},
	}

	workloads := []struct {
		name, unit string
		run        func(s streamer) (float64, error)
	}{
		{"1 server stream × 1 KiB", "msgs/s", func(s streamer) (float64, error) { return s.serverStreams(1, longStream, *duration) }},
		{"bidi echo 1 KiB, 1 in flight", "msgs/s", func(s streamer) (float64, error) { return s.bidi(1, *duration) }},
		{"bidi echo 1 KiB, 32 in flight", "msgs/s", func(s streamer) (float64, error) { return s.bidi(32, *duration) }},
		{"8 server streams × 1 KiB, one connection", "msgs/s", func(s streamer) (float64, error) {
			return s.serverStreams(8, longStream/8, *duration)
		}},
		{"short streams, serial (open, 1 msg, end)", "streams/s", func(s streamer) (float64, error) { return s.short(*duration) }},
	}
	type streamRow struct {
		name, unit string
		vals       [3]float64
	}
	var rows []streamRow
	for _, w := range workloads {
		fmt.Fprintf(os.Stderr, "%s ...\n", w.name)
		runs := make([][]float64, len(libs))
		for r := 0; r < *rounds; r++ {
			for i, l := range libs {
				v, err := w.run(l)
				if err != nil {
					return fmt.Errorf("%s, library %d: %w", w.name, i, err)
				}
				runs[i] = append(runs[i], v)
			}
		}
		row := streamRow{name: w.name, unit: w.unit}
		for i := range libs {
			row.vals[i] = median(runs[i])
		}
		fmt.Fprintf(os.Stderr, "  %-42s %12.4g %12.4g %12.4g\n", row.name, row.vals[0], row.vals[1], row.vals[2])
		rows = append(rows, row)
	}

	host, _ := os.Hostname()
	fmt.Printf("\nstreams: ttrpc (this module) vs grpc-go vs the established ttrpc v1.2.10 (%s),\n", establishedStreamDir)
	fmt.Printf("median of %d rounds of %v; unix sockets, client and server in separate processes\n", *rounds, *duration)
	fmt.Printf("%s, %s/%s, %d CPUs (GOMAXPROCS %d), %s, host %s\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), host)
	fmt.Printf("| %-58s | %10s | %10s | %13s | %13s | %13s |\n", "workload", "ttrpc", "grpc-go", "ttrpc/grpc-go", "ttrpc v1.2.10", "ttrpc/v1.2.10")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 60), strings.Repeat("-", 11)+":", strings.Repeat("-", 11)+":",
		strings.Repeat("-", 14)+":", strings.Repeat("-", 14)+":", strings.Repeat("-", 14)+":")
	for _, r := range rows {
		fmt.Printf("| %-58s | %10s | %10s | %12.2f× | %13s | %12.2f× |\n", r.name+" ("+r.unit+")",
			format(r.vals[0]), format(r.vals[1]), r.vals[0]/r.vals[1], format(r.vals[2]), r.vals[0]/r.vals[2])
	}
	fmt.Printf("\nratios: higher is better. 1 server stream: Download streams of %d messages back to back; 8 server streams:\n", longStream)
	fmt.Printf("8 goroutines, each with streams of %d back to back; bidi: one Echo stream, \"32 in flight\": a sending goroutine\n", longStream/8)
	fmt.Printf("at most 33 messages ahead of the receiving one; short streams: one goroutine, each stream read to its end.\n")
	return nil
}

// checkStreamCopy makes sure v1.2.10's module runs the same stream service
// and workloads (established/v1.2.10/sync.sh refreshes the copy).
func checkStreamCopy() error {
	const f = "internal/ttrpcstream/stream.go"
	want, err := os.ReadFile(f)
	if err != nil {
		return fmt.Errorf("%v (run compare from the benchmarks directory)", err)
	}
	got, err := os.ReadFile(filepath.Join(establishedStreamDir, f))
	if err != nil {
		return err
	}
	if !bytes.Equal(want, got) {
		return fmt.Errorf("%s/%s is not a copy of %s: run %s/sync.sh", establishedStreamDir, f, f, establishedStreamDir)
	}
	return nil
}
