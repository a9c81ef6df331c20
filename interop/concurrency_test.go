package interop

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
)

// Scenario 4: one client, many goroutines, every call must succeed. The 1.2
// line's server refuses a request whose stream id is not above the last one
// it saw ("StreamID cannot be re-used and must increment"), so a client
// whose request frames leave out of id order fails calls against it; the
// recording raw server counts such frames directly.

var concurrencyShapes = []struct{ goroutines, calls int }{
	{2, 1000},
	{64, 200},
}

// runOurConcurrent makes goroutines × calls Pings on c and counts failures by
// error text.
func runOurConcurrent(t *testing.T, c *ttrpc.Client, k kit, goroutines, calls int) (failed int, errs map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	errs = map[string]int{}
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < calls; j++ {
				want := fmt.Sprintf("%d/%d", i, j)
				resp := k.newStr()
				err := c.Call(ctx, serviceName, "Ping", k.str(want), resp)
				if err == nil && k.strOf(resp) != want {
					err = fmt.Errorf("reply %q to %q", k.strOf(resp), want)
				}
				if err != nil {
					mu.Lock()
					failed++
					errs[err.Error()]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failed, errs
}

// summary lists error texts by count, most frequent first.
func summary(errs map[string]int) string {
	type kv struct {
		err string
		n   int
	}
	var list []kv
	for e, n := range errs {
		list = append(list, kv{e, n})
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].n > list[j].n || list[i].n == list[j].n && list[i].err < list[j].err
	})
	var b strings.Builder
	for i, e := range list {
		if i == 5 {
			fmt.Fprintf(&b, "; ...")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d× %s", e.n, e.err)
	}
	return b.String()
}

func TestConcurrency(t *testing.T) {
	for _, shape := range concurrencyShapes {
		g, n := shape.goroutines, shape.calls
		total := g * n
		t.Run(fmt.Sprintf("%dx%d", g, n), func(t *testing.T) {
			forEachVersion(t, func(t *testing.T, v *peerVersion) {
				t.Run("OurClient_TheirServer", func(t *testing.T) {
					_, sock := startPeerServer(t, v)
					c := dialOurs(t, sock)
					start := time.Now()
					failed, errs := runOurConcurrent(t, c, v.kit, g, n)
					t.Logf("%d calls in %v, %d failed", total, time.Since(start).Round(time.Millisecond), failed)
					if failed > 0 {
						t.Errorf("FAILURES %d of %d calls failed against the %s server: %s", failed, total, v.name, summary(errs))
					}
				})
				t.Run("TheirClient_OurServer", func(t *testing.T) {
					s := startOurServer(t, v.kit)
					p := startPeerClient(t, v, s.sock, "concurrent", strconv.Itoa(g), strconv.Itoa(n))
					r := p.step("concurrent", 90*time.Second)
					if r.Calls != total || r.Failed != 0 {
						t.Errorf("%s client: %d of %d calls failed: %v", v.name, r.Failed, r.Calls, r.Errors)
					}
					p.finish(10 * time.Second)
				})
				t.Run("TheirClient_RecordingServer", func(t *testing.T) {
					s := startRawServer(t)
					p := startPeerClient(t, v, s.sock, "concurrent", strconv.Itoa(g), strconv.Itoa(n))
					r := p.step("concurrent", 90*time.Second)
					p.finish(10 * time.Second)
					requests, inversions, examples, _ := s.record()
					t.Logf("the server saw %d requests, %d with an id not above the previous", requests, inversions)
					if r.Failed != 0 || inversions > 0 {
						t.Errorf("%s client: %d of %d calls failed; %d of %d requests arrived with a stream id not above the one before (first: %s)",
							v.name, r.Failed, r.Calls, inversions, requests, strings.Join(examples, ", "))
					}
				})
			})
			t.Run("OurClient_RecordingServer", func(t *testing.T) {
				s := startRawServer(t)
				c := dialOurs(t, s.sock)
				start := time.Now()
				failed, errs := runOurConcurrent(t, c, apiv2Kit{}, g, n)
				requests, inversions, examples, _ := s.record()
				t.Logf("%d calls in %v, %d failed; the server saw %d requests, %d with an id not above the previous",
					total, time.Since(start).Round(time.Millisecond), failed, requests, inversions)
				if failed > 0 {
					t.Errorf("%d of %d calls failed: %s", failed, total, summary(errs))
				}
				if inversions > 0 {
					t.Errorf("FAILURES %d of %d requests arrived with a stream id not above the one before (first: %s)",
						inversions, requests, strings.Join(examples, ", "))
				}
			})
		})
	}
}
