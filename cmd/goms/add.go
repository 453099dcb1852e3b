package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/goms-io/goms/internal/scaffold"
)

const addUsage = `usage: goms add [-dir DIR] NAME

Adds a service to the project in DIR (default: the current directory),
written by goms new. NAME is a short name in lower snake case (audit:
audit.v1.AuditService) or a full service name (acme.audit.v1.AuditService).
It writes the proto, proto/<package path>/<name>.proto, with one method at
GET /<version>/<name>/{id}; regenerates gen/; writes the implementation
skeleton into <name>/ (never over a file); and rewrites
services/services.go, which registers every service for the project's
mains. It refuses a service that exists. In a project:

  go tool -modfile=tools/go.mod goms add audit

Flags:
`

// runAdd is goms add.
func runAdd(args []string, stdout, stderr io.Writer) int {
	var dir string
	fs := flag.NewFlagSet("goms add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&dir, "dir", ".", "`directory` of the project")
	fs.Usage = func() { fmt.Fprint(stderr, addUsage); fs.PrintDefaults() }
	positional, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(positional) != 1 {
		fmt.Fprintln(stderr, "goms add: want one service name (see goms add -help)")
		return 2
	}
	svc, err := scaffold.ParseService(positional[0])
	if err != nil {
		fmt.Fprintf(stderr, "goms add: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	registered, err := scaffold.Add(ctx, scaffold.AddOptions{Dir: dir, Service: svc, Log: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "goms add: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nNext: implement %s in %s", svc.FullName(), filepath.Join(filepath.Clean(dir), svc.ImplDir())+string(filepath.Separator))
	if registered {
		fmt.Fprint(stdout, "; the project's binary serves it with the other services (make run)")
	}
	fmt.Fprintln(stdout, ".")
	return 0
}

// parseInterspersed parses args with fs, flags and arguments in any
// order, and returns the arguments. code is the exit status to return at
// once (0 for -help, 2 for a bad flag), or -1 to go on.
func parseInterspersed(fs *flag.FlagSet, args []string) (positional []string, code int) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0
			}
			return nil, 2
		}
		if fs.NArg() == 0 {
			return positional, -1
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
