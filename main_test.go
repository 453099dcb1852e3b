package goms

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestMainFixedMode checks how [WithMode] constrains the configuration
// [Main] loads, with the exact messages users see.
func TestMainFixedMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"needs upstream", nil, nil,
			`goms: mode "http" needs an upstream gRPC target (flag -upstream or GOMS_UPSTREAM)`},
		{"flag names another mode", []string{"-mode", "grpc", "-upstream", "127.0.0.1:1"}, nil,
			`goms: mode "grpc": this program runs only in mode "http"; drop -mode and GOMS_MODE`},
		{"env names another mode", []string{"-upstream", "127.0.0.1:1"}, map[string]string{"GOMS_MODE": "gateway"},
			`goms: mode "gateway": this program runs only in mode "http"; drop -mode and GOMS_MODE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			setup := func(*Server) error { t.Fatal("setup called"); return nil }
			code := run(flag.NewFlagSet("gateway", flag.ContinueOnError), tc.args, lookup, &stderr, setup, WithMode(ModeHTTP))
			if got := strings.TrimSpace(stderr.String()); code != 2 || !strings.Contains(got, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and:\n%s", code, got, tc.want)
			}
		})
	}
}

// TestFixedModeRepeated checks that a fixed mode may be repeated, and that
// the configuration is then loaded for that mode.
func TestFixedModeRepeated(t *testing.T) {
	lookup := withMode(func(k string) (string, bool) { return "", false }, ModeHTTP)
	for _, args := range [][]string{{"-upstream", "127.0.0.1:1"}, {"-mode", "http", "-upstream", "127.0.0.1:1"}} {
		cfg, err := LoadConfig(flag.NewFlagSet("gateway", flag.ContinueOnError), args, lookup)
		if err != nil || cfg.Mode != ModeHTTP {
			t.Errorf("%q: mode %q, error %v; want http and no error", args, cfg.Mode, err)
		}
	}
}

// TestMainOptions checks that Main keeps WithMode for itself and passes
// every Option on to New, in order.
func TestMainOptions(t *testing.T) {
	var mo mainOptions
	for _, opt := range []MainOption{WithLogger(nil), WithMode(ModeGRPC), WithOptions(WithDialOptions(), WithLogger(nil))} {
		opt.applyToMain(&mo)
	}
	if mo.mode != ModeGRPC || len(mo.server) != 2 {
		t.Errorf("mode %q and %d server options, want grpc and 2", mo.mode, len(mo.server))
	}
}

// TestOTLPNotLinked checks what Main does when the environment asks for
// OTLP export but the program (this test binary) lacks package goms/otlp:
// it warns once, naming the variable and the import, and goes on without
// tracing; it says nothing when the environment asks for no export.
func TestOTLPNotLinked(t *testing.T) {
	const endpoint = "http://127.0.0.1:4318"
	for _, tc := range []struct {
		env  map[string]string
		warn string // the variable the warning names; "": no warning
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "otlp"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SDK_DISABLED": "TRUE"}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "none"}, ""},
		{map[string]string{"OTEL_SERVICE_NAME": "svc"}, ""},
		{nil, ""},
	} {
		var stderr strings.Builder
		lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		var setupCalled bool
		setup := func(*Server) error { setupCalled = true; return errors.New("stop here") }
		code := run(flag.NewFlagSet("svc", flag.ContinueOnError), nil, lookup, &stderr, setup)
		got := stderr.String()
		if code != 2 || !setupCalled || !strings.Contains(got, "goms: setup: stop here") {
			t.Errorf("%v: exit %d, setup called %v, stderr:\n%s\nwant Main to go on to setup", tc.env, code, setupCalled, got)
		}
		want := tc.warn + " is set, but this program has no OTLP exporter; tracing is off: add the blank import github.com/goms-io/goms/otlp to the main package"
		if (tc.warn != "") != strings.Contains(got, want) || strings.Count(got, "no OTLP exporter") > 1 {
			t.Errorf("%v: stderr:\n%s\nwant warning %q", tc.env, got, tc.warn)
		}
	}
}

// TestFlagErrors: a wrong flag value gets one line and a hint, not the
// whole usage; -h shows every default, log level included.
func TestFlagErrors(t *testing.T) {
	setup := func(*Server) error { t.Fatal("setup called"); return nil }
	var stderr strings.Builder
	code := run(flag.NewFlagSet("shop", flag.ContinueOnError), []string{"-log-level", "loud"}, func(string) (string, bool) { return "", false }, &stderr, setup)
	want := "invalid value \"loud\" for flag -log-level: invalid level \"loud\": want debug, info, warn or error\nrun shop -h for the flags\n"
	if code != 2 || stderr.String() != want {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and:\n%s", code, stderr.String(), want)
	}
	stderr.Reset()
	code = run(flag.NewFlagSet("shop", flag.ContinueOnError), []string{"-h"}, func(string) (string, bool) { return "", false }, &stderr, setup)
	if code != 0 || !strings.Contains(stderr.String(), "(env GOMS_LOG_LEVEL) (default info)") || !strings.Contains(stderr.String(), "Usage of shop:") {
		t.Errorf("-h: exit %d, stderr:\n%s\nwant exit 0, the usage and log-level's default", code, stderr.String())
	}
}
