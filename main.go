package goms

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Main runs a GoMs server process and exits. It reads the [Config] from the
// GOMS_* environment and the command line flags (flags win; flags the
// program defined on [flag.CommandLine] before calling Main are parsed
// too), builds a [Server], lets setup register services, and runs until
// SIGINT or SIGTERM, then stops gracefully. A second signal during the stop
// kills the process.
//
// opts are the [Option]s of the Server, and [WithMode], which fixes the
// mode: -mode and GOMS_MODE may then only repeat it.
//
// Tracing is on when the standard OpenTelemetry environment asks for OTLP
// export (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set, OTEL_SDK_DISABLED is not "true" and OTEL_TRACES_EXPORTER is unset
// or "otlp") and the program links the exporter, with import _
// "github.com/goms-io/goms/otlp" (see [RegisterTracingFromEnv]);
// spans are flushed when the process stops. Without that import, Main logs
// a warning naming it and serves without tracing.
//
// Logs go to standard error in slog's text format unless opts set a
// logger. The exit status is 0 after a clean stop, 1 when serving or stopping
// failed, and 2 for invalid flags, environment or setup.
func Main(setup func(*Server) error, opts ...MainOption) {
	os.Exit(run(flag.CommandLine, os.Args[1:], os.LookupEnv, os.Stderr, setup, opts...))
}

// run is Main without the process globals, for tests.
func run(fs *flag.FlagSet, args []string, lookup func(string) (string, bool), stderr io.Writer,
	setup func(*Server) error, opts ...MainOption) int {
	fs.SetOutput(stderr)
	var mo mainOptions
	for _, opt := range opts {
		opt.applyToMain(&mo)
	}
	fixed := mo.mode
	cfg, err := LoadConfig(fs, args, withMode(lookup, fixed))
	if err == nil && fixed != "" && cfg.Mode != fixed {
		err = fmt.Errorf("mode %q: this program runs only in mode %q; drop -mode and GOMS_MODE", cfg.Mode, fixed)
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		// The flag package has printed its own errors already.
		if !errors.As(err, new(flagError)) {
			fmt.Fprintf(stderr, "goms: %v\n", err)
		}
		return 2
	}
	logger := newLogger(stderr, cfg)
	base := []Option{WithLogger(logger)}
	tracing, shutdown, err := tracingFromEnvironment(context.Background(), lookup, logger)
	if err != nil {
		fmt.Fprintf(stderr, "goms: tracing: %v\n", err)
		return 2
	}
	if tracing != nil {
		base = append(base, tracing)
	}
	if shutdown != nil {
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := shutdown(ctx); err != nil {
				logger.Warn("flushing traces", "err", err)
			}
		}()
	}
	s := New(cfg, append(base, mo.server...)...)
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
		fmt.Fprintf(stderr, "goms: %s\n", strings.TrimPrefix(err.Error(), "goms: "))
		return 1
	}
	return 0
}

// newLogger returns the logger of cfg's level and format, writing to w.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// withMode makes GOMS_MODE default to mode, when one is fixed, so that the
// configuration is loaded and checked for that mode.
func withMode(lookup func(string) (string, bool), mode Mode) func(string) (string, bool) {
	if mode == "" {
		return lookup
	}
	return func(key string) (string, bool) {
		if v, ok := lookup(key); ok || key != "GOMS_MODE" {
			return v, ok
		}
		return string(mode), true
	}
}
