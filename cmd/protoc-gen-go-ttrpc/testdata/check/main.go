// Command check serves and calls every generated golden service over a
// unix socket and prints "ok" when each call behaves as the ttrpc 1.2
// streaming contract says. TestGeneratedCodeRuns builds it in a module made
// of the golden files and protoc-gen-go's message code.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"example.com/ttrpcgen/common"
	"example.com/ttrpcgen/editions"
	"example.com/ttrpcgen/multi"
	"example.com/ttrpcgen/optional"
	"example.com/ttrpcgen/prefix"
	"example.com/ttrpcgen/streaming"
	"example.com/ttrpcgen/unary"
)

// Exact signatures of the generated API (identical function types only).
var (
	_ func(*ttrpc.Server, streaming.StreamerService)                        = streaming.RegisterStreamerService
	_ func(*ttrpc.Client) streaming.StreamerClient                          = streaming.NewStreamerClient
	_ func(*ttrpc.Client) unary.CounterService                              = unary.NewCounterClient
	_ func(*ttrpc.Client) unary.LowerServiceService                         = unary.NewLowerServiceClient
	_ func(*ttrpc.Client) multi.PlainService                                = multi.NewPlainClient
	_ func(*ttrpc.Client) multi.NothingService                              = multi.NewNothingClient
	_ func(*ttrpc.Client) multi.StreamyClient                               = multi.NewStreamyClient
	_ func(*ttrpc.Client) prefix.TTRPCTaskClient                            = prefix.NewTTRPCTaskClient
	_ func(*ttrpc.Server, prefix.TTRPCTaskService)                          = prefix.RegisterTTRPCTaskService
	_ func(*ttrpc.Client) editions.JournalClient                            = editions.NewJournalClient
	_ func(*ttrpc.Client) optional.SettingsClient                           = optional.NewSettingsClient
	_ func(streaming.Streamer_SumClient) (*streaming.Total, error)          = streaming.Streamer_SumClient.CloseAndRecv
	_ func(streaming.Streamer_SumClient, *streaming.Part) error             = streaming.Streamer_SumClient.Send
	_ func(streaming.Streamer_SumClient) error                              = streaming.Streamer_SumClient.CloseSend
	_ func(streaming.Streamer_DivideClient) (*streaming.Part, error)        = streaming.Streamer_DivideClient.Recv
	_ func(streaming.Streamer_EchoStreamServer, *streaming.Message) error   = streaming.Streamer_EchoStreamServer.Send
	_ func(streaming.Streamer_EchoStreamServer) (*streaming.Message, error) = streaming.Streamer_EchoStreamServer.Recv
	_ func(streaming.Streamer_SumServer, interface{}) error                 = streaming.Streamer_SumServer.SendMsg
	_ ttrpc.ClientStream                                                    = streaming.Streamer_EchoStreamClient(nil)
	_ ttrpc.StreamServer                                                    = streaming.Streamer_DivideServer(nil)
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "ttrpcgen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		return err
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	streaming.RegisterStreamerService(srv, streamer{})
	unary.RegisterCounterService(srv, &counter{})
	unary.RegisterLowerServiceService(srv, &counter{})
	multi.RegisterPlainService(srv, plain{})
	multi.RegisterStreamyService(srv, streamy{})
	multi.RegisterNothingService(srv, struct{}{})
	multi.RegisterOnlyStreamsService(srv, onlyStreams{})
	multi.RegisterMoreService(srv, more{})
	optional.RegisterSettingsService(srv, settings{})
	prefix.RegisterTTRPCTaskService(srv, task{})
	editions.RegisterJournalService(srv, journal{})
	go srv.Serve(ctx, l)
	defer srv.Close()

	conn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		return err
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()

	for _, check := range []struct {
		name string
		fn   func(context.Context, *ttrpc.Client) error
	}{
		{"streaming", checkStreaming},
		{"unary", checkUnary},
		{"multi", checkMulti},
		{"optional", checkOptional},
		{"prefix", checkPrefix},
		{"editions", checkEditions},
	} {
		if err := check.fn(ctx, client); err != nil {
			return fmt.Errorf("%s: %w", check.name, err)
		}
	}
	return nil
}

// expect returns an error naming what when got is not want.
func expect(what string, got, want interface{}) error {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%s: got %v, want %v", what, got, want)
	}
	return nil
}

func expectMsg(what string, got, want proto.Message) error {
	if !proto.Equal(got, want) {
		return fmt.Errorf("%s: got %v, want %v", what, got, want)
	}
	return nil
}

func expectEOF(what string, err error) error {
	if err != io.EOF {
		return fmt.Errorf("%s: got %v, want io.EOF", what, err)
	}
	return nil
}

func expectCode(what string, err error, code codes.Code) error {
	if status.Code(err) != code {
		return fmt.Errorf("%s: got error %v, want code %v", what, err, code)
	}
	return nil
}

// --- streaming.Streamer: every kind of rpc ---

type streamer struct{}

func (streamer) Echo(ctx context.Context, m *streaming.Message) (*streaming.Message, error) {
	return m, nil
}

// Divide sends one part per byte of the text; a negative seq fails the
// stream after the parts.
func (streamer) Divide(ctx context.Context, m *streaming.Message, s streaming.Streamer_DivideServer) error {
	for _, b := range []byte(m.Text) {
		if err := s.Send(&streaming.Part{Value: int64(b)}); err != nil {
			return err
		}
	}
	if m.Seq < 0 {
		return status.Error(codes.InvalidArgument, "negative seq")
	}
	return nil
}

// Sum adds the parts; a negative part fails the call.
func (streamer) Sum(ctx context.Context, s streaming.Streamer_SumServer) (*streaming.Total, error) {
	var t streaming.Total
	for {
		p, err := s.Recv()
		if err == io.EOF {
			return &t, nil
		}
		if err != nil {
			return nil, err
		}
		if p.Value < 0 {
			return nil, status.Error(codes.OutOfRange, "negative part")
		}
		t.Sum += p.Value
		t.Count++
	}
}

func echoAll(recv func() (*streaming.Message, error), send func(*streaming.Message) error) error {
	for {
		m, err := recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		m.Seq++
		if err := send(m); err != nil {
			return err
		}
	}
}

func (streamer) EchoStream(ctx context.Context, s streaming.Streamer_EchoStreamServer) error {
	return echoAll(s.Recv, s.Send)
}

func (streamer) Old(ctx context.Context, s streaming.Streamer_OldServer) error {
	return echoAll(s.Recv, s.Send)
}

func (streamer) ListParts(ctx context.Context, m *streaming.Message, s streaming.Streamer_ListPartsServer) error {
	return streamer{}.Divide(ctx, m, s)
}

func (streamer) Watch(ctx context.Context, _ *emptypb.Empty, s streaming.Streamer_WatchServer) error {
	for i := int64(1); i <= 3; i++ {
		if err := s.Send(&common.Point{X: i, Y: -i}); err != nil {
			return err
		}
	}
	return nil
}

func (streamer) Upload(ctx context.Context, s streaming.Streamer_UploadServer) (*emptypb.Empty, error) {
	for {
		_, err := s.Recv()
		if err == io.EOF {
			return &emptypb.Empty{}, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func checkStreaming(ctx context.Context, client *ttrpc.Client) error {
	c := streaming.NewStreamerClient(client)

	echoed, err := c.Echo(ctx, &streaming.Message{Text: "hi", Seq: 7})
	if err != nil {
		return err
	}
	if err := expectMsg("Echo", echoed, &streaming.Message{Text: "hi", Seq: 7}); err != nil {
		return err
	}

	// Server streaming, also with an empty request, which still arrives.
	for _, tc := range []struct {
		text string
		seq  int64
		code codes.Code
	}{{"abc", 0, codes.OK}, {"", 0, codes.OK}, {"xy", -1, codes.InvalidArgument}} {
		ds, err := c.Divide(ctx, &streaming.Message{Text: tc.text, Seq: tc.seq})
		if err != nil {
			return err
		}
		for _, b := range []byte(tc.text) {
			p, err := ds.Recv()
			if err != nil {
				return fmt.Errorf("Divide(%q): %w", tc.text, err)
			}
			if err := expect("Divide part", p.Value, int64(b)); err != nil {
				return err
			}
		}
		_, err = ds.Recv()
		if tc.code == codes.OK {
			err = expectEOF("Divide end", err)
		} else {
			err = expectCode("Divide end", err, tc.code)
		}
		if err != nil {
			return err
		}
	}

	// Client streaming.
	ss, err := c.Sum(ctx)
	if err != nil {
		return err
	}
	for i := int64(1); i <= 10; i++ {
		if err := ss.Send(&streaming.Part{Value: i}); err != nil {
			return err
		}
	}
	total, err := ss.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("Sum: %w", err)
	}
	if err := expectMsg("Sum", total, &streaming.Total{Sum: 55, Count: 10}); err != nil {
		return err
	}
	ss, err = c.Sum(ctx)
	if err != nil {
		return err
	}
	if err := ss.Send(&streaming.Part{Value: -1}); err != nil {
		return err
	}
	_, err = ss.CloseAndRecv()
	if err := expectCode("Sum with a negative part", err, codes.OutOfRange); err != nil {
		return err
	}

	// Bidirectional, with the deprecated copy too.
	type bidi interface {
		Send(*streaming.Message) error
		Recv() (*streaming.Message, error)
		ttrpc.ClientStream
	}
	open := []func() (bidi, error){
		func() (bidi, error) { return c.EchoStream(ctx) },
		func() (bidi, error) { return c.Old(ctx) }, //nolint:staticcheck // deprecated on purpose
	}
	for _, o := range open {
		bs, err := o()
		if err != nil {
			return err
		}
		for i := int64(0); i < 3; i++ {
			if err := bs.Send(&streaming.Message{Text: "m", Seq: i}); err != nil {
				return err
			}
			m, err := bs.Recv()
			if err != nil {
				return fmt.Errorf("EchoStream: %w", err)
			}
			if err := expectMsg("EchoStream", m, &streaming.Message{Text: "m", Seq: i + 1}); err != nil {
				return err
			}
		}
		if err := bs.CloseSend(); err != nil {
			return err
		}
		if _, err := bs.Recv(); expectEOF("EchoStream end", err) != nil {
			return expectEOF("EchoStream end", err)
		}
	}

	// An rpc whose proto name is not its Go name answers to both.
	lp, err := c.ListParts(ctx, &streaming.Message{Text: "z"})
	if err != nil {
		return err
	}
	if p, err := lp.Recv(); err != nil || p.Value != 'z' {
		return fmt.Errorf("ListParts: %v, %v", p, err)
	}
	if _, err := lp.Recv(); expectEOF("ListParts end", err) != nil {
		return expectEOF("ListParts end", err)
	}
	for _, name := range []string{"ListParts", "list_parts"} {
		st, err := client.NewStream(ctx, &ttrpc.StreamDesc{StreamingServer: true}, "ttrpc.gentest.streaming.Streamer", name, &streaming.Message{Text: "q"})
		if err != nil {
			return err
		}
		var p streaming.Part
		if err := st.RecvMsg(&p); err != nil || p.Value != 'q' {
			return fmt.Errorf("stream %s: %v, %v", name, &p, err)
		}
		if err := st.RecvMsg(&p); expectEOF(name+" end", err) != nil {
			return expectEOF(name+" end", err)
		}
	}

	// Message types of other packages.
	ws, err := c.Watch(ctx, &emptypb.Empty{})
	if err != nil {
		return err
	}
	for i := int64(1); i <= 3; i++ {
		p, err := ws.Recv()
		if err != nil {
			return fmt.Errorf("Watch: %w", err)
		}
		if err := expectMsg("Watch", p, &common.Point{X: i, Y: -i}); err != nil {
			return err
		}
	}
	if _, err := ws.Recv(); expectEOF("Watch end", err) != nil {
		return expectEOF("Watch end", err)
	}
	us, err := c.Upload(ctx)
	if err != nil {
		return err
	}
	if err := us.Send(&common.Point{X: 1}); err != nil {
		return err
	}
	if _, err := us.CloseAndRecv(); err != nil {
		return fmt.Errorf("Upload: %w", err)
	}
	return nil
}

// --- unary ---

type counter struct{ total int64 }

func (c *counter) Add(ctx context.Context, r *unary.AddRequest) (*unary.AddResponse, error) {
	c.total += r.Delta
	return &unary.AddResponse{Total: c.total}, nil
}

func (c *counter) Reset(ctx context.Context, r *emptypb.Empty) (*emptypb.Empty, error) {
	c.total = 0
	return r, nil
}

func (c *counter) Old(ctx context.Context, r *unary.AddRequest) (*unary.AddResponse, error) {
	return c.Add(ctx, r)
}

func (c *counter) Area(ctx context.Context, s *common.Shape) (*common.Shape_Label, error) {
	return &common.Shape_Label{Text: fmt.Sprint(len(s.Points))}, nil
}

func (c *counter) DoThing(ctx context.Context, r *unary.AddRequest) (*unary.AddResponse, error) {
	return &unary.AddResponse{Total: -r.Delta}, nil
}

func checkUnary(ctx context.Context, client *ttrpc.Client) error {
	c := unary.NewCounterClient(client)
	if _, err := c.Add(ctx, &unary.AddRequest{Delta: 40}); err != nil {
		return err
	}
	r, err := c.Add(ctx, &unary.AddRequest{Delta: 2})
	if err != nil {
		return err
	}
	if err := expect("Add", r.Total, 42); err != nil {
		return err
	}
	l, err := c.Area(ctx, &common.Shape{Points: []*common.Point{{}, {}, {}}})
	if err != nil {
		return err
	}
	if err := expect("Area", l.Text, "3"); err != nil {
		return err
	}
	d, err := unary.NewLowerServiceClient(client).DoThing(ctx, &unary.AddRequest{Delta: 5})
	if err != nil {
		return err
	}
	if err := expect("do_thing", d.Total, -5); err != nil {
		return err
	}
	// The server answers to the proto name and the Go name.
	for _, name := range []string{"do_thing", "DoThing"} {
		var resp unary.AddResponse
		if err := client.Call(ctx, "ttrpc.gentest.unary.lower_service", name, &unary.AddRequest{Delta: 1}, &resp); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// --- multi: several services per file and per package ---

type plain struct{}

func (plain) Get(ctx context.Context, k *multi.Key) (*multi.Value, error) {
	return &multi.Value{Value: []byte("v:" + k.Key)}, nil
}

func (plain) Put(ctx context.Context, e *multi.Entry) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

type streamy struct{ plain }

func (streamy) List(ctx context.Context, _ *emptypb.Empty, s multi.Streamy_ListServer) error {
	return s.Send(&multi.Entry{Key: &multi.Key{Key: "k"}})
}

type onlyStreams struct{}

func (onlyStreams) Feed(ctx context.Context, s multi.OnlyStreams_FeedServer) (*emptypb.Empty, error) {
	for {
		if _, err := s.Recv(); err == io.EOF {
			return &emptypb.Empty{}, nil
		} else if err != nil {
			return nil, err
		}
	}
}

func (onlyStreams) Chat(ctx context.Context, s multi.OnlyStreams_ChatServer) error {
	for {
		v, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(v); err != nil {
			return err
		}
	}
}

type more struct{}

func (more) Lookup(ctx context.Context, n *multi.Name, s multi.More_LookupServer) error {
	return errors.Join(s.Send(&multi.Value{Value: []byte(n.Name)}), s.Send(&multi.Value{Value: []byte(n.Name)}))
}

func checkMulti(ctx context.Context, client *ttrpc.Client) error {
	v, err := multi.NewPlainClient(client).Get(ctx, &multi.Key{Key: "a"})
	if err != nil {
		return err
	}
	if err := expect("Plain.Get", string(v.Value), "v:a"); err != nil {
		return err
	}
	sc := multi.NewStreamyClient(client)
	if v, err = sc.Get(ctx, &multi.Key{Key: "b"}); err != nil {
		return err
	}
	if err := expect("Streamy.Get", string(v.Value), "v:b"); err != nil {
		return err
	}
	ls, err := sc.List(ctx, &emptypb.Empty{})
	if err != nil {
		return err
	}
	if e, err := ls.Recv(); err != nil || e.Key.GetKey() != "k" {
		return fmt.Errorf("Streamy.List: %v, %v", e, err)
	}
	if _, err := ls.Recv(); expectEOF("Streamy.List end", err) != nil {
		return expectEOF("Streamy.List end", err)
	}
	oc := multi.NewOnlyStreamsClient(client)
	fs, err := oc.Feed(ctx)
	if err != nil {
		return err
	}
	if err := fs.Send(&multi.Entry{}); err != nil {
		return err
	}
	if _, err := fs.CloseAndRecv(); err != nil {
		return fmt.Errorf("Feed: %w", err)
	}
	cs, err := oc.Chat(ctx)
	if err != nil {
		return err
	}
	if err := cs.Send(&multi.Value{Value: []byte("x")}); err != nil {
		return err
	}
	if v, err := cs.Recv(); err != nil || string(v.Value) != "x" {
		return fmt.Errorf("Chat: %v, %v", v, err)
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	if _, err := cs.Recv(); expectEOF("Chat end", err) != nil {
		return expectEOF("Chat end", err)
	}
	lk, err := multi.NewMoreClient(client).Lookup(ctx, &multi.Name{Name: "n"})
	if err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if v, err := lk.Recv(); err != nil || string(v.Value) != "n" {
			return fmt.Errorf("Lookup: %v, %v", v, err)
		}
	}
	if _, err := lk.Recv(); expectEOF("Lookup end", err) != nil {
		return expectEOF("Lookup end", err)
	}
	// Nothing has no rpcs; its client exists and calls go nowhere.
	var _ multi.NothingService = multi.NewNothingClient(client)
	return nil
}

// --- optional: proto3 optional fields survive the trip ---

type settings struct{}

func (settings) Update(ctx context.Context, s *optional.Setting) (*optional.Setting, error) {
	if s.Value == nil {
		s.Note = proto.String("no value")
	}
	return s, nil
}

func (settings) Watch(ctx context.Context, s *optional.Setting, ws optional.Settings_WatchServer) error {
	return ws.Send(s)
}

func checkOptional(ctx context.Context, client *ttrpc.Client) error {
	c := optional.NewSettingsClient(client)
	r, err := c.Update(ctx, &optional.Setting{Name: "a"})
	if err != nil {
		return err
	}
	if err := expectMsg("Update", r, &optional.Setting{Name: "a", Note: proto.String("no value")}); err != nil {
		return err
	}
	r, err = c.Update(ctx, &optional.Setting{Name: "b", Value: proto.Int64(0)})
	if err != nil {
		return err
	}
	if err := expectMsg("Update with zero", r, &optional.Setting{Name: "b", Value: proto.Int64(0)}); err != nil {
		return err
	}
	ws, err := c.Watch(ctx, &optional.Setting{Value: proto.Int64(3)})
	if err != nil {
		return err
	}
	if s, err := ws.Recv(); err != nil || s.Value == nil || *s.Value != 3 {
		return fmt.Errorf("Watch: %v, %v", s, err)
	}
	return expectEOF("Watch end", func() error { _, err := ws.Recv(); return err }())
}

// --- prefix: prefixed Go names, unprefixed wire name ---

type task struct{}

func (task) Start(ctx context.Context, r *prefix.Req) (*prefix.Resp, error) {
	return &prefix.Resp{Id: r.Id}, nil
}

func (task) Events(ctx context.Context, r *prefix.Req, s prefix.TTRPCTask_EventsServer) error {
	return s.Send(&prefix.Resp{Id: r.Id})
}

func (task) Send(ctx context.Context, s prefix.TTRPCTask_SendServer) (*prefix.Resp, error) {
	var ids string
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return &prefix.Resp{Id: ids}, nil
		}
		if err != nil {
			return nil, err
		}
		ids += r.Id
	}
}

func (task) Exchange(ctx context.Context, s prefix.TTRPCTask_ExchangeServer) error {
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(&prefix.Resp{Id: r.Id}); err != nil {
			return err
		}
	}
}

func checkPrefix(ctx context.Context, client *ttrpc.Client) error {
	// The wire name has no prefix.
	var resp prefix.Resp
	if err := client.Call(ctx, "ttrpc.gentest.prefix.Task", "Start", &prefix.Req{Id: "w"}, &resp); err != nil {
		return err
	}
	if err := expect("Start by wire name", resp.Id, "w"); err != nil {
		return err
	}
	c := prefix.NewTTRPCTaskClient(client)
	es, err := c.Events(ctx, &prefix.Req{Id: "e"})
	if err != nil {
		return err
	}
	if r, err := es.Recv(); err != nil || r.Id != "e" {
		return fmt.Errorf("Events: %v, %v", r, err)
	}
	ss, err := c.Send(ctx)
	if err != nil {
		return err
	}
	for _, id := range []string{"a", "b"} {
		if err := ss.Send(&prefix.Req{Id: id}); err != nil {
			return err
		}
	}
	r, err := ss.CloseAndRecv()
	if err != nil {
		return err
	}
	if err := expect("Send", r.Id, "ab"); err != nil {
		return err
	}
	xs, err := c.Exchange(ctx)
	if err != nil {
		return err
	}
	if err := xs.Send(&prefix.Req{Id: "x"}); err != nil {
		return err
	}
	if r, err := xs.Recv(); err != nil || r.Id != "x" {
		return fmt.Errorf("Exchange: %v, %v", r, err)
	}
	return xs.CloseSend()
}

// --- editions ---

type journal struct{}

func (journal) Append(ctx context.Context, r *editions.Record) (*emptypb.Empty, error) {
	if r.Seq == nil {
		return nil, status.Error(codes.InvalidArgument, "no seq")
	}
	return &emptypb.Empty{}, nil
}

func (journal) Tail(ctx context.Context, r *editions.TailRequest, s editions.Journal_TailServer) error {
	for i := r.From; i < r.From+2; i++ {
		rec := &editions.Record{Text: "t", Seq: proto.Int64(i)}
		if err := s.Send(rec); err != nil {
			return err
		}
	}
	return nil
}

func (journal) Ingest(ctx context.Context, s editions.Journal_IngestServer) (*editions.Count, error) {
	var n int64
	for {
		if _, err := s.Recv(); err == io.EOF {
			return &editions.Count{N: n}, nil
		} else if err != nil {
			return nil, err
		}
		n++
	}
}

func (journal) Sync(ctx context.Context, s editions.Journal_SyncServer) error {
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(r); err != nil {
			return err
		}
	}
}

func checkEditions(ctx context.Context, client *ttrpc.Client) error {
	c := editions.NewJournalClient(client)
	_, err := c.Append(ctx, &editions.Record{Text: "x"})
	if err := expectCode("Append without seq", err, codes.InvalidArgument); err != nil {
		return err
	}
	rec := &editions.Record{Text: "x", Seq: proto.Int64(0)}
	if _, err := c.Append(ctx, rec); err != nil {
		return err
	}
	ts, err := c.Tail(ctx, &editions.TailRequest{From: 5})
	if err != nil {
		return err
	}
	for i := int64(5); i < 7; i++ {
		if r, err := ts.Recv(); err != nil || r.GetSeq() != i {
			return fmt.Errorf("Tail: %v, %v", r, err)
		}
	}
	if _, err := ts.Recv(); expectEOF("Tail end", err) != nil {
		return expectEOF("Tail end", err)
	}
	is, err := c.Ingest(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		if err := is.Send(&editions.Record{}); err != nil {
			return err
		}
	}
	n, err := is.CloseAndRecv()
	if err != nil {
		return err
	}
	if err := expect("Ingest", n.N, 3); err != nil {
		return err
	}
	ss, err := c.Sync(ctx)
	if err != nil {
		return err
	}
	if err := ss.Send(rec); err != nil {
		return err
	}
	if r, err := ss.Recv(); err != nil || !proto.Equal(r, rec) {
		return fmt.Errorf("Sync: %v, %v", r, err)
	}
	if err := ss.CloseSend(); err != nil {
		return err
	}
	_, err = ss.Recv()
	return expectEOF("Sync end", err)
}
