module github.com/containerd/ttrpc/benchmarks/footprint

go 1.22
