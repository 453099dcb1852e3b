package goms_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goms-io/goms"
)

// FuzzLoadConfig feeds arbitrary YAML files, flag values and environment
// values through goms.LoadConfig: it never panics, and every error is
// one line naming where the bad value came from (the file, the variable,
// the flag) or the setting it breaks.
func FuzzLoadConfig(f *testing.F) {
	f.Add("mode: gateway\ngrpc:\n  addr: 127.0.0.1:0\n", "grpc-addr", "127.0.0.1:0", "GOMS_LOG_LEVEL", "debug")
	f.Add("grpc:\n  reflection: maybe\n", "mode", "http", "GOMS_UPSTREAM", "127.0.0.1:1")
	f.Add("services:\n  a.B:\n    grpc: false\n    config: {x: 1}\n", "serve", "a.B", "GOMS_TARGETS", "a.B=dns:///x:1")
	f.Add("http: [1, 2]\n", "http-max-body-bytes", "-1", "GOMS_SHUTDOWN_GRACE", "1h")
	f.Add("\t: :\n", "tls-cert-file", "/nonexistent", "GOMS_HTTP_CORS_ORIGINS", "*,https://x")
	f.Add("", "client-call-timeout", "0s", "GOMS_MODE", "grpc")
	f.Fuzz(func(t *testing.T, yaml, flagName, flagValue, envName, envValue string) {
		path := filepath.Join(t.TempDir(), "goms.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		args := []string{"-config", path, "-" + flagName + "=" + flagValue}
		env := map[string]string{envName: envValue}
		_, err := goms.LoadConfig(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err == nil {
			return
		}
		msg := err.Error()
		// The flag package quotes nothing: a flag argument with a line
		// break (found by fuzzing) comes back as it is.
		if !strings.ContainsAny(flagName+flagValue, "\r\n") && strings.Contains(msg, "\n") {
			t.Fatalf("error of more than one line: %q", msg)
		}
		var names []string
		fs.VisitAll(func(fl *flag.Flag) { names = append(names, fl.Name) })
		if !namesASource(msg, path, names) {
			t.Fatalf("error names no source: %q", msg)
		}
	})
}

// namesASource reports whether msg names the file, a variable, a flag, or
// a setting Validate checks.
func namesASource(msg, path string, flags []string) bool {
	if strings.Contains(msg, path) || strings.Contains(msg, "GOMS_") || strings.Contains(msg, "flag") {
		return true
	}
	for _, f := range flags {
		if strings.Contains(msg, f) || strings.Contains(msg, strings.ReplaceAll(f, "-", ".")) {
			return true
		}
	}
	lower := strings.ToLower(msg)
	for _, subject := range []string{"address", "mode", "upstream", "tls", "target", "serve", "unexpected arguments"} {
		if strings.Contains(lower, subject) {
			return true
		}
	}
	return false
}
