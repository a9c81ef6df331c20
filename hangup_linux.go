package ttrpc

import (
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// watchHangup calls onHangup if the peer of conn hangs up before stop is
// called. It is for a reader that has stopped reading (its connection's
// stream budget is spent): the end of the byte stream then lies behind
// frames nobody reads, and only the kernel, through POLLRDHUP, can tell
// that the peer has gone. A goroutine waits in poll(2) on the socket and on
// a pipe that stop writes to, so nothing depends on timing. Linux kernel
// sockets only; elsewhere, and for other connections, the reader notices
// the end once it reads again.
func watchHangup(conn net.Conn, onHangup func()) (stop func()) {
	sc := fastPathConn(conn)
	if sc == nil {
		return func() {}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	fd := -1
	if raw.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return func() {}
	}
	var wake [2]int
	if unix.Pipe2(wake[:], unix.O_CLOEXEC) != nil {
		return func() {}
	}
	go func() {
		defer unix.Close(wake[0])
		fds := []unix.PollFd{
			{Fd: int32(fd), Events: unix.POLLRDHUP},
			{Fd: int32(wake[0]), Events: unix.POLLIN},
		}
		for {
			_, err := unix.Poll(fds, -1)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil || fds[1].Revents != 0:
				return // stopped, or poll failed: the reader carries on alone
			case fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0:
				onHangup()
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			unix.Write(wake[1], []byte{0})
			unix.Close(wake[1])
		})
	}
}
