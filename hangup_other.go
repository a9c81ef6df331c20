//go:build !linux

package ttrpc

import "net"

// watchHangup watches nothing here: see hangup_linux.go. A reader paused
// on its connection's stream budget notices that the peer has gone once it
// reads again.
func watchHangup(conn net.Conn, onHangup func()) (stop func()) { return func() {} }
