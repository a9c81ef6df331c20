// Command minttrpc is the minimal ttrpc server of the comparison: the echo
// service on a unix socket. Each line read on stdin is answered with the
// number of goroutines, so the comparison can count them.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"

	echo "github.com/containerd/ttrpc/benchmarks/established/v1.0.2/internal/ttrpcecho"
)

func main() {
	l, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Println(runtime.NumGoroutine())
		}
		os.Exit(0)
	}()
	fmt.Println("ready")
	if err := echo.ServeTTRPC(l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
