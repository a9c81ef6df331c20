// Package interop holds only tests: they run this module's ttrpc (the parent
// directory, through a replace directive) against the established
// github.com/containerd/ttrpc v1.0.2 and v1.2.10, each built from its own
// module under peers/ and run as a separate process. See README.md.
package interop
