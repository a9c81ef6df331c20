//go:build !linux

package ttrpc

// directWriter is the direct-write fast path, which exists only on Linux
// (see client_send_linux.go). Here every frame goes through the sender
// goroutine, which works on any net.Conn.
type directWriter struct{}

func (c *Client) initDirectWrite() {}

func (d *directWriter) ok() bool { return false }

func (d *directWriter) write(b []byte) (int, error) { return 0, nil }
