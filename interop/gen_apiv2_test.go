package interop

import (
	"context"

	"github.com/containerd/ttrpc"

	"github.com/containerd/ttrpc/interop/gen/apiv2"
)

// genAPIv2 is gen/apiv2: protoc-gen-go messages and the code of this
// repository's protoc-gen-go-ttrpc.
type genAPIv2 struct{}

func (genAPIv2) name() string { return "apiv2" }

func (genAPIv2) register(s *ttrpc.Server) { apiv2.RegisterGenService(s, apiv2Server{}) }

func (genAPIv2) client(c *ttrpc.Client) genClient { return apiv2Client{apiv2.NewGenClient(c)} }

func fromAPIv2Req(m *apiv2.Req) genReq {
	return genReq{Text: m.Text, Count: m.Count, Data: m.Data, Fail: m.Mode == apiv2.Mode_MODE_FAIL, Nums: m.Nums, Labels: m.Labels}
}

func toAPIv2Req(r genReq) *apiv2.Req {
	m := &apiv2.Req{Text: r.Text, Count: r.Count, Data: r.Data, Nums: r.Nums, Labels: r.Labels}
	if r.Fail {
		m.Mode = apiv2.Mode_MODE_FAIL
	}
	return m
}

func fromAPIv2Reply(m *apiv2.Reply) genReply {
	return genReply{Text: m.Text, Seq: m.Seq, Data: m.Data, Nums: m.Nums, Labels: m.Labels, Note: m.GetInner().GetNote()}
}

func toAPIv2Reply(r genReply) *apiv2.Reply {
	return &apiv2.Reply{Text: r.Text, Seq: r.Seq, Data: r.Data, Nums: r.Nums, Labels: r.Labels, Inner: &apiv2.Inner{Note: r.Note}}
}

// apiv2Server implements the generated apiv2.GenService with genLogic.
type apiv2Server struct{}

var _ apiv2.GenService = apiv2Server{}

func (apiv2Server) Unary(ctx context.Context, req *apiv2.Req) (*apiv2.Reply, error) {
	r, err := genLogic{}.unary(fromAPIv2Req(req))
	if err != nil {
		return nil, err
	}
	return toAPIv2Reply(r), nil
}

func (apiv2Server) ServerStream(ctx context.Context, req *apiv2.Req, ss apiv2.Gen_ServerStreamServer) error {
	return genLogic{}.serverStream(fromAPIv2Req(req), func(r genReply) error { return ss.Send(toAPIv2Reply(r)) })
}

func (apiv2Server) ClientStream(ctx context.Context, ss apiv2.Gen_ClientStreamServer) (*apiv2.Reply, error) {
	r, err := genLogic{}.clientStream(func() (genReq, error) {
		m, err := ss.Recv()
		if err != nil {
			return genReq{}, err
		}
		return fromAPIv2Req(m), nil
	})
	if err != nil {
		return nil, err
	}
	return toAPIv2Reply(r), nil
}

func (apiv2Server) Bidi(ctx context.Context, ss apiv2.Gen_BidiServer) error {
	return genLogic{}.bidi(func() (genReq, error) {
		m, err := ss.Recv()
		if err != nil {
			return genReq{}, err
		}
		return fromAPIv2Req(m), nil
	}, func(r genReply) error { return ss.Send(toAPIv2Reply(r)) })
}

// apiv2Client calls the generated apiv2.GenClient.
type apiv2Client struct{ c apiv2.GenClient }

func (c apiv2Client) unary(ctx context.Context, req genReq) (genReply, error) {
	m, err := c.c.Unary(ctx, toAPIv2Req(req))
	if err != nil {
		return genReply{}, err
	}
	return fromAPIv2Reply(m), nil
}

func (c apiv2Client) serverStream(ctx context.Context, req genReq) (func() (genReply, error), error) {
	s, err := c.c.ServerStream(ctx, toAPIv2Req(req))
	if err != nil {
		return nil, err
	}
	return func() (genReply, error) {
		m, err := s.Recv()
		if err != nil {
			return genReply{}, err
		}
		return fromAPIv2Reply(m), nil
	}, nil
}

func (c apiv2Client) clientStream(ctx context.Context) (genClientStream, error) {
	s, err := c.c.ClientStream(ctx)
	if err != nil {
		return nil, err
	}
	return apiv2ClientStream{s}, nil
}

func (c apiv2Client) bidi(ctx context.Context) (genBidiStream, error) {
	s, err := c.c.Bidi(ctx)
	if err != nil {
		return nil, err
	}
	return apiv2Bidi{s}, nil
}

type apiv2ClientStream struct{ s apiv2.Gen_ClientStreamClient }

func (s apiv2ClientStream) send(r genReq) error { return s.s.Send(toAPIv2Req(r)) }

func (s apiv2ClientStream) closeAndRecv() (genReply, error) {
	m, err := s.s.CloseAndRecv()
	if err != nil {
		return genReply{}, err
	}
	return fromAPIv2Reply(m), nil
}

func (s apiv2ClientStream) recvMsg() error { return s.s.RecvMsg(&apiv2.Reply{}) }

type apiv2Bidi struct{ s apiv2.Gen_BidiClient }

func (s apiv2Bidi) send(r genReq) error { return s.s.Send(toAPIv2Req(r)) }

func (s apiv2Bidi) closeSend() error { return s.s.CloseSend() }

func (s apiv2Bidi) recv() (genReply, error) {
	m, err := s.s.Recv()
	if err != nil {
		return genReply{}, err
	}
	return fromAPIv2Reply(m), nil
}
