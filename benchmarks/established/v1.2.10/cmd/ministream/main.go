// Command ministream is the established ttrpc v1.2.10's side of the stream
// comparison (cmd/compare): a minimal stream server, and the client
// workloads in a process of their own.
//
//	ministream serve SOCKET
//	    Serve bench.Stream on a unix socket; prints "ready", exits when
//	    standard input closes.
//	ministream client SOCKET streams STREAMS PERSTREAM SIZE DURATION
//	ministream client SOCKET bidi INFLIGHT - SIZE DURATION
//	ministream client SOCKET short - - SIZE DURATION
//	    Run one workload of internal/ttrpcstream (ServerStreams, BidiEcho,
//	    ShortStreams) against SOCKET and print its rate on one line.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/containerd/ttrpc/benchmarks/established/v1.2.10/internal/ttrpcstream"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ministream:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 2 && args[0] == "serve" {
		return serve(args[1])
	}
	if len(args) == 7 && args[0] == "client" {
		num := func(s string) int {
			n, _ := strconv.Atoi(s)
			return n
		}
		a, b, size := num(args[3]), num(args[4]), num(args[5])
		d, err := time.ParseDuration(args[6])
		if err != nil {
			return err
		}
		conn, err := net.Dial("unix", args[1])
		if err != nil {
			return err
		}
		c := ttrpc.NewClient(conn)
		defer c.Close()
		var rate float64
		switch args[2] {
		case "streams":
			rate, err = ttrpcstream.ServerStreams(c, a, b, size, d)
		case "bidi":
			rate, err = ttrpcstream.BidiEcho(c, size, a, d)
		case "short":
			rate, err = ttrpcstream.ShortStreams(c, size, d)
		default:
			return fmt.Errorf("unknown workload %q", args[2])
		}
		if err != nil {
			return err
		}
		fmt.Println(rate)
		return nil
	}
	return fmt.Errorf("usage: ministream serve SOCKET | client SOCKET streams|bidi|short A B SIZE DURATION")
}

func serve(path string) error {
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	s, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	ttrpcstream.Register(s)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Println("ready")
	return s.Serve(context.Background(), l)
}
