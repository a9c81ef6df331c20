// Command ttrpcpeer is the established library's side of the interop tests
// in ../.. (module github.com/containerd/ttrpc/interop). This copy is built
// against github.com/containerd/ttrpc v1.2.10, whose codec takes
// google.golang.org/protobuf (APIv2) messages; ../v1.0.2 is the same program
// for v1.0.2 and gogo messages. Keep the two in step: same service, same
// scenarios, same output.
//
// Usage:
//
//	ttrpcpeer server SOCKET
//	    Serve the test service on a unix socket. Prints JSON lines: a
//	    "listening" event, a "sleep-start" event whenever Sleep begins, and
//	    "shutdown-start"/"shutdown-done" around a graceful Shutdown, which
//	    SIGTERM, SIGINT or the end of standard input starts; then exits 0.
//	ttrpcpeer client SOCKET SCENARIO [ARG...]
//	    Run one scenario (see the scenarios map) against a server and print
//	    one JSON line per call, then a final "done" event. Exits 1 if the
//	    scenario could not run or a result broke a version-independent
//	    expectation (an echo that does not match, a failed call in the
//	    concurrency scenario). Version-dependent facts (status codes, what a
//	    client returns after Shutdown) are only reported: the test judges them.
//	    Interactive scenarios print a "waiting" event and read one line from
//	    standard input before going on.
//	ttrpcpeer version
//	    Print the established release this copy is built against.
//
// The test service, "interop.Test", has these unary methods:
//
//	Ping(StringValue) StringValue   returns the request
//	Echo(StringValue) StringValue   returns JSON {value, md, has_md, deadline_ns}:
//	                                the metadata the handler saw and the time
//	                                left on its context (-1: no deadline)
//	Sleep(StringValue) StringValue  sleeps for the duration in the request
//	                                (at most 10s), ignoring its context
//	Fail(StringValue) -             NOT_FOUND with the request as message and
//	                                two details: StringValue "detail:"+msg and
//	                                BytesValue 00 01 fe ff
//	Sum(BytesValue) StringValue     "LEN:SHA256HEX" of the bytes
//	Big(StringValue) BytesValue     N bytes (N in the request), byte i = i%251
//
// The v1.2.10 copy also has streams: its streams.go adds them to the service
// and their scenarios to the scenarios map (v1.0.2 has no streaming API).
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	libVersion  = "v1.2.10"
	serviceName = "interop.Test"
	maxSleep    = 10 * time.Second
)

// Detail is one google.protobuf.Any of a status.
type Detail struct {
	TypeURL  string `json:"type_url"`
	ValueHex string `json:"value_hex"`
}

// EchoReply is what Echo returns, JSON-encoded in a StringValue.
type EchoReply struct {
	Value      string              `json:"value"`
	MD         map[string][]string `json:"md"`
	HasMD      bool                `json:"has_md"`
	DeadlineNS int64               `json:"deadline_ns"`
}

// Result is one output line: an event, or the outcome of one call.
type Result struct {
	Event string `json:"event,omitempty"`
	Step  string `json:"step,omitempty"`
	OK    bool   `json:"ok"`
	Err   string `json:"err,omitempty"`
	// ErrType is the Go type of the error, e.g. *status.Error.
	ErrType string `json:"err_type,omitempty"`
	// Status reports whether the error is a grpc status error; Code,
	// CodeNum, Message and Details describe it.
	Status      bool     `json:"status,omitempty"`
	Code        string   `json:"code,omitempty"`
	CodeNum     int      `json:"code_num,omitempty"`
	Message     string   `json:"message,omitempty"`
	Details     []Detail `json:"details,omitempty"`
	Closed      bool     `json:"closed,omitempty"`       // errors.Is(err, ttrpc.ErrClosed)
	CtxDeadline bool     `json:"ctx_deadline,omitempty"` // errors.Is(err, context.DeadlineExceeded)
	ElapsedMS   float64  `json:"elapsed_ms,omitempty"`

	Value string     `json:"value,omitempty"`
	Len   int        `json:"len,omitempty"`
	Echo  *EchoReply `json:"echo,omitempty"`

	Calls  int            `json:"calls,omitempty"`
	Failed int            `json:"failed,omitempty"`
	Errors map[string]int `json:"errors,omitempty"`
}

type emitter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (e *emitter) emit(r Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.enc.Encode(r)
}

var out = &emitter{enc: json.NewEncoder(os.Stdout)}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "version" {
		fmt.Println(libVersion)
		return
	}
	if len(os.Args) >= 3 && os.Args[1] == "server" {
		if err := runServer(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) >= 4 && os.Args[1] == "client" {
		err := runClient(os.Args[2], os.Args[3], os.Args[4:])
		if err != nil {
			out.emit(Result{Event: "done", Err: err.Error()})
			os.Exit(1)
		}
		out.emit(Result{Event: "done", OK: true})
		return
	}
	fmt.Fprintln(os.Stderr, "usage: ttrpcpeer server SOCKET | client SOCKET SCENARIO [ARG...] | version")
	os.Exit(2)
}

// ---- server ----

// The message types of this version's codec, and their constructors.
type (
	strMsg   = wrapperspb.StringValue
	bytesMsg = wrapperspb.BytesValue
)

func str(s string) *strMsg { return &strMsg{Value: s} }

func byts(b []byte) *bytesMsg { return &bytesMsg{Value: b} }

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return fmt.Sprintf("%d:%s", len(b), hex.EncodeToString(h[:]))
}

func methods() map[string]ttrpc.Method {
	return map[string]ttrpc.Method{
		"Ping": func(ctx context.Context, unmarshal func(any) error) (any, error) {
			var in strMsg
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			return str(in.Value), nil
		},
		"Echo": func(ctx context.Context, unmarshal func(any) error) (any, error) {
			var in strMsg
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			r := EchoReply{Value: in.Value, DeadlineNS: -1}
			if md, ok := ttrpc.GetMetadata(ctx); ok {
				r.MD, r.HasMD = md, true
			}
			if dl, ok := ctx.Deadline(); ok {
				r.DeadlineNS = int64(time.Until(dl))
			}
			b, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			return str(string(b)), nil
		},
		"Sleep": func(ctx context.Context, unmarshal func(any) error) (any, error) {
			var in strMsg
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			d, err := time.ParseDuration(in.Value)
			if err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			if d > maxSleep {
				d = maxSleep
			}
			out.emit(Result{Event: "sleep-start", OK: true, Value: in.Value})
			time.Sleep(d)
			return str("slept " + in.Value), nil
		},
		"Fail": func(ctx context.Context, unmarshal func(any) error) (any, error) {
			var in strMsg
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			st, err := status.New(codes.NotFound, in.Value).WithDetails(
				str("detail:"+in.Value),
				byts([]byte{0x00, 0x01, 0xfe, 0xff}),
			)
			if err != nil {
				return nil, err
			}
			return nil, st.Err()
		},
		"Sum": func(ctx context.Context, unmarshal func(any) error) (any, error) {
			var in bytesMsg
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			return str(sumOf(in.Value)), nil
		},
		"Big": func(ctx context.Context, unmarshal func(any) error) (any, error) {
			var in strMsg
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(in.Value)
			if err != nil || n < 0 || n > 64<<20 {
				return nil, status.Errorf(codes.InvalidArgument, "bad size %q", in.Value)
			}
			return byts(pattern(n)), nil
		},
	}
}

// registerService registers the test service on s. The v1.2.10 copy's
// streams.go replaces it to add the streaming methods.
var registerService = func(s *ttrpc.Server) { s.Register(serviceName, methods()) }

func runServer(sock string) error {
	s, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	registerService(s)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(context.Background(), l) }()
	out.emit(Result{Event: "listening", OK: true, Value: libVersion})

	stop := make(chan string, 2)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { stop <- (<-sigs).String() }()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop <- "stdin closed"
	}()

	select {
	case why := <-stop:
		out.emit(Result{Event: "shutdown-start", OK: true, Value: why})
	case err := <-serveErr:
		return fmt.Errorf("serve returned early: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err = s.Shutdown(ctx)
	r := Result{Event: "shutdown-done", OK: err == nil, ElapsedMS: ms(time.Since(start))}
	if err != nil {
		r.Err = err.Error()
	}
	out.emit(r)
	select {
	case err := <-serveErr:
		out.emit(Result{Event: "serve-returned", OK: errors.Is(err, ttrpc.ErrServerClosed), Err: errString(err)})
	case <-time.After(5 * time.Second):
		out.emit(Result{Event: "serve-returned", Err: "Serve still running 5s after Shutdown"})
	}
	return nil
}

// ---- client ----

type env struct {
	sock   string
	client *ttrpc.Client
	stdin  *bufio.Reader
}

// wait announces that the scenario waits for the test, then reads one line
// from standard input.
func (e *env) wait(step string) error {
	out.emit(Result{Event: "waiting", OK: true, Step: step})
	if _, err := e.stdin.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting at %s: %w", step, err)
	}
	return nil
}

type scenario func(e *env, args []string) error

// scenarios are the client scenarios by name. Add new ones here.
var scenarios = map[string]scenario{
	"metadata":    scenarioMetadata,
	"deadline":    scenarioDeadline,
	"error":       scenarioError,
	"unknown":     scenarioUnknown,
	"concurrent":  scenarioConcurrent,
	"steps":       scenarioSteps,
	"shutdown":    scenarioShutdown,
	"server-gone": scenarioServerGone,
}

func runClient(sock, name string, args []string) error {
	sc, ok := scenarios[name]
	if !ok {
		return fmt.Errorf("unknown scenario %q", name)
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return err
	}
	c := ttrpc.NewClient(conn)
	defer c.Close()
	return sc(&env{sock: sock, client: c, stdin: bufio.NewReader(os.Stdin)}, args)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// describe fills r with what err is.
func describe(r *Result, err error, elapsed time.Duration) {
	r.ElapsedMS = ms(elapsed)
	if err == nil {
		r.OK = true
		return
	}
	r.Err = err.Error()
	r.ErrType = fmt.Sprintf("%T", err)
	r.Closed = errors.Is(err, ttrpc.ErrClosed)
	r.CtxDeadline = errors.Is(err, context.DeadlineExceeded)
	if st, ok := status.FromError(err); ok {
		r.Status = true
		r.Code = st.Code().String()
		r.CodeNum = int(st.Code())
		r.Message = st.Message()
		for _, d := range st.Proto().GetDetails() {
			r.Details = append(r.Details, Detail{TypeURL: d.GetTypeUrl(), ValueHex: hex.EncodeToString(d.GetValue())})
		}
	}
}

// call makes one call and reports it as step; it returns the call's error.
func (e *env) call(ctx context.Context, step, service, method string, req, resp any) (Result, error) {
	start := time.Now()
	err := e.client.Call(ctx, service, method, req, resp)
	r := Result{Step: step}
	describe(&r, err, time.Since(start))
	return r, err
}

func (e *env) echo(ctx context.Context, step, value string) (Result, error) {
	var resp strMsg
	r, err := e.call(ctx, step, serviceName, "Echo", str(value), &resp)
	if err == nil {
		var er EchoReply
		if jerr := json.Unmarshal([]byte(resp.Value), &er); jerr != nil {
			return r, fmt.Errorf("%s: bad echo %q: %w", step, resp.Value, jerr)
		}
		r.Echo = &er
	}
	out.emit(r)
	return r, err
}

// scenarioMetadata: ARG is the metadata as JSON ({"key":["v1","v2"]}). One
// Echo with it, one without.
func scenarioMetadata(e *env, args []string) error {
	if len(args) != 1 {
		return errors.New("metadata: want one JSON argument")
	}
	var md ttrpc.MD
	if err := json.Unmarshal([]byte(args[0]), &md); err != nil {
		return err
	}
	ctx := ttrpc.WithMetadata(context.Background(), md)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := e.echo(ctx, "with-md", "hello")
	if err != nil {
		return err
	}
	if !r.Echo.HasMD || !reflect.DeepEqual(map[string][]string(md), r.Echo.MD) {
		return fmt.Errorf("server saw metadata %v, sent %v", r.Echo.MD, md)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	r, err = e.echo(ctx2, "no-md", "hello")
	if err != nil {
		return err
	}
	if r.Echo.HasMD {
		return fmt.Errorf("server saw metadata %v, sent none", r.Echo.MD)
	}
	return nil
}

// scenarioDeadline: Echo with a 5s deadline, Echo with none, and Sleep 1500ms
// under a deadline of ARG (default 200ms).
func scenarioDeadline(e *env, args []string) error {
	short := 200 * time.Millisecond
	if len(args) > 0 {
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return err
		}
		short = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	r, err := e.echo(ctx, "deadline-5s", "d")
	cancel()
	if err != nil {
		return err
	}
	if r.Echo.DeadlineNS <= 0 || r.Echo.DeadlineNS > int64(5*time.Second) {
		return fmt.Errorf("server saw %v left of a 5s deadline", time.Duration(r.Echo.DeadlineNS))
	}
	r, err = e.echo(context.Background(), "no-deadline", "d")
	if err != nil {
		return err
	}
	if r.Echo.DeadlineNS != -1 {
		return fmt.Errorf("server saw a deadline (%v left), sent none", time.Duration(r.Echo.DeadlineNS))
	}
	ctx, cancel = context.WithTimeout(context.Background(), short)
	defer cancel()
	var resp strMsg
	r, err = e.call(ctx, "short-deadline", serviceName, "Sleep", str("1500ms"), &resp)
	out.emit(r)
	if err == nil {
		return errors.New("a call to Sleep 1500ms under a short deadline succeeded")
	}
	return nil
}

// scenarioError: Fail(ARG or "x").
func scenarioError(e *env, args []string) error {
	msg := "x"
	if len(args) > 0 {
		msg = args[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var resp strMsg
	r, err := e.call(ctx, "fail", serviceName, "Fail", str(msg), &resp)
	out.emit(r)
	if err == nil {
		return errors.New("the call to Fail succeeded")
	}
	return nil
}

// scenarioUnknown: an unknown service, then an unknown method.
func scenarioUnknown(e *env, args []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, sm := range [][3]string{
		{"unknown-service", "interop.Nope", "Ping"},
		{"unknown-method", serviceName, "Nope"},
	} {
		var resp strMsg
		r, err := e.call(ctx, sm[0], sm[1], sm[2], str("x"), &resp)
		out.emit(r)
		if err == nil {
			return fmt.Errorf("%s succeeded", sm[0])
		}
	}
	return nil
}

// scenarioConcurrent G N: G goroutines make N Pings each on the one client.
func scenarioConcurrent(e *env, args []string) error {
	if len(args) != 2 {
		return errors.New("concurrent: want GOROUTINES CALLS")
	}
	g, err1 := strconv.Atoi(args[0])
	n, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil || g <= 0 || n <= 0 {
		return fmt.Errorf("concurrent: bad arguments %q", args)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		mu     sync.Mutex
		failed int
		errs   = map[string]int{}
		wg     sync.WaitGroup
	)
	start := time.Now()
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < n; j++ {
				want := fmt.Sprintf("%d/%d", i, j)
				var resp strMsg
				err := e.client.Call(ctx, serviceName, "Ping", str(want), &resp)
				if err == nil && resp.Value != want {
					err = fmt.Errorf("got reply %q for %q", resp.Value, want)
				}
				if err != nil {
					mu.Lock()
					failed++
					errs[err.Error()]++
					mu.Unlock()
				}
			}
		}(i)
	}
	wg.Wait()
	r := Result{Step: "concurrent", OK: failed == 0, Calls: g * n, Failed: failed, ElapsedMS: ms(time.Since(start))}
	if len(errs) > 0 {
		r.Errors = errs
	}
	out.emit(r)
	if failed > 0 {
		return fmt.Errorf("%d of %d calls failed", failed, g*n)
	}
	return nil
}

// scenarioSteps runs calls one after another, each ARG one call:
//
//	ping           Ping
//	sum:N          Sum of N pattern bytes; the reply must match
//	big:N          Big N; the reply must be N pattern bytes
//
// A step may end in "#SUFFIX" to give repeated steps distinct names.
//
// The calls have no deadline (so the request envelope has no timeout field and
// its size is known to the byte); the test bounds the run. A failed call is
// reported, not fatal; a wrong reply is fatal.
func scenarioSteps(e *env, args []string) error {
	ctx := context.Background()
	for _, a := range args {
		spec, _, _ := strings.Cut(a, "#") // a "#suffix" only names the step
		kind, arg, _ := strings.Cut(spec, ":")
		switch kind {
		case "ping":
			var resp strMsg
			r, err := e.call(ctx, a, serviceName, "Ping", str("ping"), &resp)
			if err == nil && resp.Value != "ping" {
				return fmt.Errorf("%s: reply %q", a, resp.Value)
			}
			out.emit(r)
		case "sum":
			n, err := strconv.Atoi(arg)
			if err != nil {
				return err
			}
			b := pattern(n)
			var resp strMsg
			r, err := e.call(ctx, a, serviceName, "Sum", byts(b), &resp)
			if err == nil {
				if resp.Value != sumOf(b) {
					return fmt.Errorf("%s: reply %q, want %q", a, resp.Value, sumOf(b))
				}
				r.Value, r.Len = resp.Value, n
			}
			out.emit(r)
		case "big":
			n, err := strconv.Atoi(arg)
			if err != nil {
				return err
			}
			var resp bytesMsg
			r, err := e.call(ctx, a, serviceName, "Big", str(arg), &resp)
			if err == nil {
				if len(resp.Value) != n || sumOf(resp.Value) != sumOf(pattern(n)) {
					return fmt.Errorf("%s: got %d bytes, not the %d pattern bytes", a, len(resp.Value), n)
				}
				r.Len = n
			}
			out.emit(r)
		default:
			return fmt.Errorf("unknown step %q", a)
		}
	}
	return nil
}

// scenarioShutdown is run while the test shuts the server down gracefully:
//
//  1. start Sleep 1s; report "sleep-sent"; wait (the test sees the handler
//     start and begins the server's Shutdown)
//  2. "during": Echo on the same connection, sent after Shutdown began
//  3. "inflight": the Sleep's result; wait (the test waits for Shutdown)
//  4. "after": Ping after Shutdown returned
func scenarioShutdown(e *env, args []string) error {
	inflight := make(chan Result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var resp strMsg
		r, err := e.call(ctx, "inflight", serviceName, "Sleep", str("1s"), &resp)
		if err == nil {
			r.Value = resp.Value
		}
		inflight <- r
	}()
	out.emit(Result{Event: "sleep-sent", OK: true})
	if err := e.wait("shutdown-started"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = e.echo(ctx, "during", "during")
	out.emit(<-inflight)
	if err := e.wait("shutdown-returned"); err != nil {
		return err
	}
	var resp strMsg
	r, _ := e.call(ctx, "after", serviceName, "Ping", str("after"), &resp)
	out.emit(r)
	return nil
}

// scenarioServerGone is run while the test closes the server (or ends its
// process): "before" is a Ping; then a Sleep 5s is sent ("sleep-sent") and
// its result reported as "pending" (elapsed from the call's start); then
// "after", a Ping once the connection is gone.
func scenarioServerGone(e *env, args []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var resp strMsg
	r, err := e.call(ctx, "before", serviceName, "Ping", str("before"), &resp)
	out.emit(r)
	if err != nil {
		return err
	}
	done := make(chan Result, 1)
	go func() {
		var resp strMsg
		r, _ := e.call(ctx, "pending", serviceName, "Sleep", str("5s"), &resp)
		done <- r
	}()
	out.emit(Result{Event: "sleep-sent", OK: true})
	pending := <-done
	out.emit(pending)
	r, _ = e.call(ctx, "after", serviceName, "Ping", str("after"), &resp)
	out.emit(r)
	return nil
}
