package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/goms-io/goms/internal/scaffold"
)

const newUsage = `usage: goms new [-goms PATH] MODULE [DIR]

Writes a new GoMs project for the module path MODULE into DIR (default:
the module path's last element, without a /vN suffix), which must not
exist or be empty: a starter hello.v1.GreeterService (proto, generated
code, implementation, tests, main), buf.yaml and buf.gen.yaml, the
google/api protos, the tools pinned in tools/go.mod and tools/buf/go.mod,
a Makefile and a README. It runs go mod tidy, so that the project builds
at once:

  goms new example.com/acme/hello
  cd hello && make run

Flags:
`

// runNew is goms new.
func runNew(args []string, stdout, stderr io.Writer) int {
	var opts scaffold.Options
	fs := flag.NewFlagSet("goms new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.Goms, "goms", "", "`directory` of a GoMs checkout for the project to use (a replace directive), until GoMs is published")
	fs.Usage = func() { fmt.Fprint(stderr, newUsage); fs.PrintDefaults() }
	// Flags may come after the arguments too.
	positional, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(positional) == 0 || len(positional) > 2 {
		fmt.Fprintln(stderr, "goms new: want a module path and at most one directory (see goms new -help)")
		return 2
	}
	opts.Module = positional[0]
	if err := scaffold.CheckModulePath(opts.Module); err != nil {
		fmt.Fprintf(stderr, "goms new: %v\n", err)
		return 2
	}
	if len(positional) == 2 {
		opts.Dir = positional[1]
	}
	opts.Version = scaffold.BuildVersion()
	opts.Log = stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := scaffold.New(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "goms new: %v\n", err)
		return 1
	}
	dir := opts.Dir
	if dir == "" {
		dir = scaffold.DefaultDir(opts.Module)
	}
	fmt.Fprintf(stdout, "\nNext:\n  cd %s\n  make run    # serves gRPC on 127.0.0.1:42001, HTTP/JSON on 127.0.0.1:8080\n  make test\n", filepath.Clean(dir))
	return 0
}
