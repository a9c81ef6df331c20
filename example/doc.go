// Package example is a small ttrpc service, generated from example.proto by
// protoc-gen-gogottrpc. The runnable server and client live in example/cmd.
package example

//go:generate bash generate.sh
