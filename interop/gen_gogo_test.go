package interop

import (
	"context"

	"github.com/containerd/ttrpc"

	"github.com/containerd/ttrpc/interop/gen/gogo"
)

// genGogo is gen/gogo: the gogo messages and ttrpc code of this repository's
// protoc-gen-gogottrpc.
type genGogo struct{}

func (genGogo) name() string { return "gogo" }

func (genGogo) register(s *ttrpc.Server) { gogo.RegisterGenService(s, gogoServer{}) }

func (genGogo) client(c *ttrpc.Client) genClient { return gogoClient{gogo.NewGenClient(c)} }

func fromGogoReq(m *gogo.Req) genReq {
	return genReq{Text: m.Text, Count: m.Count, Data: m.Data, Fail: m.Mode == gogo.Mode_MODE_FAIL, Nums: m.Nums, Labels: m.Labels}
}

func toGogoReq(r genReq) *gogo.Req {
	m := &gogo.Req{Text: r.Text, Count: r.Count, Data: r.Data, Nums: r.Nums, Labels: r.Labels}
	if r.Fail {
		m.Mode = gogo.Mode_MODE_FAIL
	}
	return m
}

func fromGogoReply(m *gogo.Reply) genReply {
	r := genReply{Text: m.Text, Seq: m.Seq, Data: m.Data, Nums: m.Nums, Labels: m.Labels}
	if m.Inner != nil { // gogo getters are off
		r.Note = m.Inner.Note
	}
	return r
}

func toGogoReply(r genReply) *gogo.Reply {
	return &gogo.Reply{Text: r.Text, Seq: r.Seq, Data: r.Data, Nums: r.Nums, Labels: r.Labels, Inner: &gogo.Inner{Note: r.Note}}
}

// gogoServer implements the generated gogo.GenService with genLogic.
type gogoServer struct{}

var _ gogo.GenService = gogoServer{}

func (gogoServer) Unary(ctx context.Context, req *gogo.Req) (*gogo.Reply, error) {
	r, err := genLogic{}.unary(fromGogoReq(req))
	if err != nil {
		return nil, err
	}
	return toGogoReply(r), nil
}

func (gogoServer) ServerStream(ctx context.Context, req *gogo.Req, ss gogo.Gen_ServerStreamServer) error {
	return genLogic{}.serverStream(fromGogoReq(req), func(r genReply) error { return ss.Send(toGogoReply(r)) })
}

func (gogoServer) ClientStream(ctx context.Context, ss gogo.Gen_ClientStreamServer) (*gogo.Reply, error) {
	r, err := genLogic{}.clientStream(func() (genReq, error) {
		m, err := ss.Recv()
		if err != nil {
			return genReq{}, err
		}
		return fromGogoReq(m), nil
	})
	if err != nil {
		return nil, err
	}
	return toGogoReply(r), nil
}

func (gogoServer) Bidi(ctx context.Context, ss gogo.Gen_BidiServer) error {
	return genLogic{}.bidi(func() (genReq, error) {
		m, err := ss.Recv()
		if err != nil {
			return genReq{}, err
		}
		return fromGogoReq(m), nil
	}, func(r genReply) error { return ss.Send(toGogoReply(r)) })
}

// gogoClient calls the generated gogo.GenClient.
type gogoClient struct{ c gogo.GenClient }

func (c gogoClient) unary(ctx context.Context, req genReq) (genReply, error) {
	m, err := c.c.Unary(ctx, toGogoReq(req))
	if err != nil {
		return genReply{}, err
	}
	return fromGogoReply(m), nil
}

func (c gogoClient) serverStream(ctx context.Context, req genReq) (func() (genReply, error), error) {
	s, err := c.c.ServerStream(ctx, toGogoReq(req))
	if err != nil {
		return nil, err
	}
	return func() (genReply, error) {
		m, err := s.Recv()
		if err != nil {
			return genReply{}, err
		}
		return fromGogoReply(m), nil
	}, nil
}

func (c gogoClient) clientStream(ctx context.Context) (genClientStream, error) {
	s, err := c.c.ClientStream(ctx)
	if err != nil {
		return nil, err
	}
	return gogoClientStream{s}, nil
}

func (c gogoClient) bidi(ctx context.Context) (genBidiStream, error) {
	s, err := c.c.Bidi(ctx)
	if err != nil {
		return nil, err
	}
	return gogoBidi{s}, nil
}

type gogoClientStream struct{ s gogo.Gen_ClientStreamClient }

func (s gogoClientStream) send(r genReq) error { return s.s.Send(toGogoReq(r)) }

func (s gogoClientStream) closeAndRecv() (genReply, error) {
	m, err := s.s.CloseAndRecv()
	if err != nil {
		return genReply{}, err
	}
	return fromGogoReply(m), nil
}

func (s gogoClientStream) recvMsg() error { return s.s.RecvMsg(&gogo.Reply{}) }

type gogoBidi struct{ s gogo.Gen_BidiClient }

func (s gogoBidi) send(r genReq) error { return s.s.Send(toGogoReq(r)) }

func (s gogoBidi) closeSend() error { return s.s.CloseSend() }

func (s gogoBidi) recv() (genReply, error) {
	m, err := s.s.Recv()
	if err != nil {
		return genReply{}, err
	}
	return fromGogoReply(m), nil
}
