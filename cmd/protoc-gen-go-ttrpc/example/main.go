// Command example serves the Echo service of proto/echo/v1/echo.proto on a
// unix socket and calls each of its rpcs, one of every kind, through the
// client protoc-gen-go-ttrpc generated.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/ttrpc"

	echov1 "github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc/example/gen/echo/v1"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// echo implements echov1.EchoService.
type echo struct{}

func (echo) Say(ctx context.Context, req *echov1.SayRequest) (*echov1.SayResponse, error) {
	return &echov1.SayResponse{Text: req.Text, Seq: 1}, nil
}

func (echo) Repeat(ctx context.Context, req *echov1.RepeatRequest, stream echov1.Echo_RepeatServer) error {
	for i := int64(1); i <= req.Times; i++ {
		if err := stream.Send(&echov1.SayResponse{Text: req.Text, Seq: i}); err != nil {
			return err
		}
	}
	return nil
}

func (echo) Collect(ctx context.Context, stream echov1.Echo_CollectServer) (*echov1.SayResponse, error) {
	var texts []string
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return &echov1.SayResponse{Text: strings.Join(texts, " "), Seq: 1}, nil
		}
		if err != nil {
			return nil, err
		}
		texts = append(texts, req.Text)
	}
}

func (echo) Chat(ctx context.Context, stream echov1.Echo_ChatServer) error {
	for seq := int64(1); ; seq++ {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&echov1.SayResponse{Text: strings.ToUpper(req.Text), Seq: seq}); err != nil {
			return err
		}
	}
}

// run serves Echo on a socket in a temporary directory, calls every rpc and
// writes what came back to w.
func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "ttrpc-example")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "echo.sock"))
	if err != nil {
		return err
	}
	server, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	echov1.RegisterEchoService(server, echo{})
	go server.Serve(ctx, l)
	defer server.Close()

	conn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		return err
	}
	client := echov1.NewEchoClient(ttrpc.NewClient(conn))

	// Unary.
	resp, err := client.Say(ctx, &echov1.SayRequest{Text: "hello"})
	if err != nil {
		return fmt.Errorf("Say: %w", err)
	}
	fmt.Fprintf(w, "Say: %s\n", resp.Text)

	// Server streaming: Recv until io.EOF.
	repeat, err := client.Repeat(ctx, &echov1.RepeatRequest{Text: "again", Times: 3})
	if err != nil {
		return fmt.Errorf("Repeat: %w", err)
	}
	for {
		resp, err := repeat.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("Repeat: %w", err)
		}
		fmt.Fprintf(w, "Repeat: %s #%d\n", resp.Text, resp.Seq)
	}

	// Client streaming: Send, then CloseAndRecv for the answer.
	collect, err := client.Collect(ctx)
	if err != nil {
		return fmt.Errorf("Collect: %w", err)
	}
	for _, word := range []string{"one", "two", "three"} {
		if err := collect.Send(&echov1.SayRequest{Text: word}); err != nil {
			return fmt.Errorf("Collect: %w", err)
		}
	}
	resp, err = collect.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("Collect: %w", err)
	}
	fmt.Fprintf(w, "Collect: %s\n", resp.Text)

	// Bidirectional: Send and Recv in turn, CloseSend, then Recv until io.EOF.
	chat, err := client.Chat(ctx)
	if err != nil {
		return fmt.Errorf("Chat: %w", err)
	}
	for _, word := range []string{"ping", "pong"} {
		if err := chat.Send(&echov1.SayRequest{Text: word}); err != nil {
			return fmt.Errorf("Chat: %w", err)
		}
		resp, err := chat.Recv()
		if err != nil {
			return fmt.Errorf("Chat: %w", err)
		}
		fmt.Fprintf(w, "Chat: %s #%d\n", resp.Text, resp.Seq)
	}
	if err := chat.CloseSend(); err != nil {
		return fmt.Errorf("Chat: %w", err)
	}
	if _, err := chat.Recv(); err != io.EOF {
		return fmt.Errorf("Chat: got %v after CloseSend, want io.EOF", err)
	}
	return nil
}
