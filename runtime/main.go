package runtime

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Main runs a GoMs server process and exits. It reads the [Config] from the
// GOMS_* environment and the command line flags (flags win; flags the
// program defined on [flag.CommandLine] before calling Main are parsed
// too), builds a [Server], lets setup register services, and runs until
// SIGINT or SIGTERM, then stops gracefully. A second signal during the stop
// kills the process.
//
// Logs go to standard error in slog's text format unless opts set a
// logger. The exit status is 0 after a clean stop, 1 when serving or stopping
// failed, and 2 for invalid flags, environment or setup.
func Main(setup func(*Server) error, opts ...Option) {
	os.Exit(run(flag.CommandLine, os.Args[1:], os.LookupEnv, os.Stderr, setup, opts...))
}

// run is Main without the process globals, for tests.
func run(fs *flag.FlagSet, args []string, lookup func(string) (string, bool), stderr io.Writer,
	setup func(*Server) error, opts ...Option) int {
	cfg := DefaultConfig()
	if err := cfg.LoadEnv(lookup); err != nil {
		fmt.Fprintf(stderr, "goms: %v\n", err)
		return 2
	}
	cfg.BindFlags(fs)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "goms: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "goms: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	s := New(cfg, append([]Option{WithLogger(logger)}, opts...)...)
	if err := setup(s); err != nil {
		fmt.Fprintf(stderr, "goms: setup: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default handling so that a
		// second one kills a process stuck in its graceful stop.
		<-ctx.Done()
		stop()
	}()
	if err := s.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "goms: %v\n", err)
		return 1
	}
	return 0
}
