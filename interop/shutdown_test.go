package interop

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"
)

// Scenario 6: shutdown. A graceful Shutdown while a call is in flight still
// delivers that call's reply; a call sent on the same connection after
// Shutdown began fails; once the server is gone, calls fail with the
// client's closed error promptly. When the server's process ends (or our
// server is closed) with a call pending, that call fails promptly too.

func TestShutdown(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v *peerVersion) {
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			p, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			k := v.kit
			inflight := make(chan Result, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				inflight <- ourCall(ctx, c, "inflight", serviceName, "Sleep", k.str("1s"), k.newStr())
			}()
			p.event("sleep-start", 10*time.Second)
			p.signal(syscall.SIGTERM)
			p.event("shutdown-start", 10*time.Second)
			waitListenerGone(t, sock, 10*time.Second)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			during := ourCall(ctx, c, "during", serviceName, "Ping", k.str("during"), k.newStr())
			t.Logf("our client: %s", during)
			var in Result
			select {
			case in = <-inflight:
			case <-time.After(15 * time.Second):
				t.Fatal("the call in flight during Shutdown has not returned after 15s")
			}
			t.Logf("our client: %s", in)
			waitPeerShutdown(t, p, v)
			after := ourCall(ctx, c, "after", serviceName, "Ping", k.str("after"), k.newStr())
			t.Logf("our client: %s", after)
			checkTheirShutdown(t, v, in, during, after)
			if conn, err := net.Dial("unix", sock); err == nil {
				conn.Close()
				t.Errorf("the socket still accepts connections after the server exited")
			}
		})
		// The same with both ends established: the version's own behaviour,
		// which the subtest above expects our client to see.
		t.Run("TheirClient_TheirServer", func(t *testing.T) {
			srv, sock := startPeerServer(t, v)
			p := startPeerClient(t, v, sock, "shutdown")
			p.event("sleep-sent", 20*time.Second)
			srv.event("sleep-start", 10*time.Second)
			srv.signal(syscall.SIGTERM)
			srv.event("shutdown-start", 10*time.Second)
			waitListenerGone(t, sock, 10*time.Second)
			p.event("waiting", 10*time.Second)
			p.send("go")
			during := p.step("during", 10*time.Second)
			in := p.step("inflight", 15*time.Second)
			waitPeerShutdown(t, srv, v)
			p.event("waiting", 10*time.Second)
			p.send("go")
			after := p.step("after", 10*time.Second)
			checkTheirShutdown(t, v, in.Result, during.Result, after.Result)
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, v.kit)
			p := startPeerClient(t, v, s.sock, "shutdown")
			p.event("sleep-sent", 20*time.Second)
			s.waitSleep(t, 10*time.Second)
			shutdownErr := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				shutdownErr <- s.srv.Shutdown(ctx)
			}()
			waitListenerGone(t, s.sock, 10*time.Second)
			p.event("waiting", 10*time.Second)
			p.send("go")
			during := p.step("during", 10*time.Second)
			in := p.step("inflight", 15*time.Second)
			if !in.OK {
				t.Errorf("the call in flight when Shutdown began failed: %s", in.raw)
			}
			select {
			case err := <-shutdownErr:
				if err != nil {
					t.Errorf("our server's Shutdown: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("our server's Shutdown has not returned 15s after its last call ended")
			}
			p.event("waiting", 10*time.Second)
			p.send("go")
			after := p.step("after", 10*time.Second)
			p.finish(10 * time.Second)
			// Our server answers a request that arrives during Shutdown with
			// UNAVAILABLE (SPEC §6.5).
			if during.OK || during.Code != "Unavailable" {
				t.Errorf("a call sent during our server's Shutdown: got %s, want UNAVAILABLE", during.raw)
			}
			if !after.Closed || after.elapsed() > promptSlack {
				t.Errorf("a call after our server shut down: got %s, want the %s client's ErrClosed within %v", after.raw, v.name, promptSlack)
			}
		})
	})
}

// waitPeerShutdown waits for a peer server's Shutdown to return (it must
// report success) and for its process to exit.
func waitPeerShutdown(t *testing.T, p *peerProc, v *peerVersion) {
	t.Helper()
	if done := p.event("shutdown-done", 15*time.Second); !done.OK {
		t.Errorf("%s server's Shutdown: %s", v.name, done.raw)
	}
	if err := p.waitExit(10 * time.Second); err != nil {
		t.Errorf("%s server exited with %v", v.name, err)
	}
}

// checkTheirShutdown checks what a client saw of an established server's
// graceful Shutdown: the call in flight when it began, a call sent on the
// same connection after it began, and a call after the server exited.
func checkTheirShutdown(t *testing.T, v *peerVersion, inflight, during, after Result) {
	t.Helper()
	switch {
	case inflight.OK:
		// The server waited for the call in flight, serving the call that
		// arrived meanwhile (v1.0.2 always; v1.2.10 now and then), or
		// closing the connection before it arrived.
		if !during.OK && !during.Closed {
			t.Errorf("a call sent while the %s server waited for the call in flight: got %s, want it served or ErrClosed", v.name, during)
		}
		t.Logf("the %s server waited for the call in flight", v.name)
	case v.shutdownMayDrop:
		// v1.2.10 usually closes the connection at once: both calls fail
		// with ErrClosed as soon as it does.
		if !inflight.Closed || inflight.elapsed() > 1*time.Second+promptSlack {
			t.Errorf("the call in flight when Shutdown began: got %s, want its reply, or ErrClosed as soon as the %s server closes the connection", inflight, v.name)
		}
		if !during.Closed || during.elapsed() > promptSlack {
			t.Errorf("a call sent after the %s server dropped the connection: got %s, want ErrClosed within %v", v.name, during, promptSlack)
		}
		t.Logf("the %s server closed the connection with a call in flight", v.name)
	default:
		t.Errorf("the call in flight when the %s server's Shutdown began: got %s, want its reply", v.name, inflight)
	}
	if !after.Closed || after.elapsed() > promptSlack {
		t.Errorf("a call after the server exited: got %s, want ErrClosed within %v", after, promptSlack)
	}
}

func TestServerGone(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v *peerVersion) {
		t.Run("OurClient_TheirServer", func(t *testing.T) {
			p, sock := startPeerServer(t, v)
			c := dialOurs(t, sock)
			k := v.kit
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if r := ourCall(ctx, c, "before", serviceName, "Ping", k.str("before"), k.newStr()); !r.OK {
				t.Fatalf("Ping: %s", r)
			}
			pending := make(chan Result, 1)
			go func() {
				pending <- ourCall(ctx, c, "pending", serviceName, "Sleep", k.str("5s"), k.newStr())
			}()
			p.event("sleep-start", 10*time.Second)
			p.signal(syscall.SIGKILL)
			_ = p.waitExit(10 * time.Second)
			gone := time.Now()
			var r Result
			select {
			case r = <-pending:
			case <-time.After(10 * time.Second):
				t.Fatal("the pending call has not returned 10s after the server process was killed")
			}
			late := time.Since(gone)
			t.Logf("our client: %s (%v after the server process ended)", r, late)
			if !r.Closed || late > promptSlack {
				t.Errorf("the pending call: got %s %v after the server process ended, want ttrpc.ErrClosed within %v", r, late, promptSlack)
			}
			after := ourCall(ctx, c, "after", serviceName, "Ping", k.str("after"), k.newStr())
			t.Logf("our client: %s", after)
			if !after.Closed || after.elapsed() > promptSlack {
				t.Errorf("a call after the server process ended: got %s, want ttrpc.ErrClosed within %v", after, promptSlack)
			}
		})
		t.Run("TheirClient_OurServer", func(t *testing.T) {
			s := startOurServer(t, v.kit)
			p := startPeerClient(t, v, s.sock, "server-gone")
			if r := p.step("before", 20*time.Second); !r.OK {
				t.Fatalf("Ping: %s", r.raw)
			}
			p.event("sleep-sent", 10*time.Second)
			s.waitSleep(t, 10*time.Second)
			closed := time.Now()
			if err := s.srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			pending := p.step("pending", 10*time.Second)
			late := pending.at.Sub(closed)
			after := p.step("after", 10*time.Second)
			p.finish(10 * time.Second)
			if !pending.Closed || late > promptSlack {
				t.Errorf("the pending call: got %s %v after our server closed, want the %s client's ErrClosed within %v", pending.raw, late, v.name, promptSlack)
			}
			if !after.Closed || after.elapsed() > promptSlack {
				t.Errorf("a call after our server closed: got %s, want the %s client's ErrClosed within %v", after.raw, v.name, promptSlack)
			}
		})
	})
}
