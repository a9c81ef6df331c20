//go:build tools

// This file pins the code generators in go.mod; it is never built.
package main

import (
	_ "github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
