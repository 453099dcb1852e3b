package goms

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// load runs LoadConfig with a fresh flag set, args and env.
func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return LoadConfig(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "goms.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigPrecedence checks flags > environment > file > defaults, one
// setting decided at each level.
func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, `
mode: grpc
grpc:
  addr: 127.0.0.1:1001
http:
  addr: 127.0.0.1:1002
  cors_origins: [https://a.example, https://b.example]
shutdown_grace: 3s
targets:
  shop.catalog.v1.CatalogService: dns:///catalog:42001
  shop.pricing.v1.PricingService: 10.0.0.1:1,10.0.0.2:1
`)
	cfg, err := load(t,
		[]string{"-config", file, "-grpc-addr", "127.0.0.1:3001"},
		map[string]string{"GOMS_GRPC_ADDR": "127.0.0.1:2001", "GOMS_HTTP_ADDR": "127.0.0.1:2002"})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Mode = ModeGRPC                 // file
	want.GRPC.Addr = "127.0.0.1:3001"    // flag over env over file
	want.HTTP.Addr = "127.0.0.1:2002"    // env over file
	want.ShutdownGrace = 3 * time.Second // file
	want.HTTP.CORSOrigins = []string{"https://a.example", "https://b.example"}
	want.Targets = map[string]string{
		"shop.catalog.v1.CatalogService": "dns:///catalog:42001",
		"shop.pricing.v1.PricingService": "10.0.0.1:1,10.0.0.2:1",
	}
	if fmt.Sprint(cfg) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	// GOMS_CONFIG names the file when -config does not.
	cfg, err = load(t, nil, map[string]string{"GOMS_CONFIG": file})
	if err != nil || cfg.Mode != ModeGRPC {
		t.Errorf("GOMS_CONFIG: mode %q, %v", cfg.Mode, err)
	}
}

// TestConfigErrors checks that every bad input names its source, the key
// and the value.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		args       []string
		env        map[string]string
		want       string
	}{
		{name: "unknown key", file: "mode: grpc\ngrpc:\n  adr: x\n",
			want: `FILE:3: unknown key "grpc.adr"`},
		{name: "unknown top key", file: "modus: grpc\n",
			want: `FILE:1: unknown key "modus"`},
		{name: "wrong type", file: "grpc:\n  reflection: maybe\n",
			want: `FILE:2: grpc.reflection: invalid value "maybe": want true or false`},
		{name: "bad address", file: "http:\n  addr: localhost\n",
			want: `FILE:2: http.addr: invalid address "localhost": want host:port`},
		{name: "bad duration", file: "shutdown_grace: soon\n",
			want: `FILE:1: shutdown_grace: invalid duration "soon": want a non-negative number with a unit, such as 10s or 500ms`},
		{name: "mapping for scalar", file: "mode:\n  a: b\n",
			want: `FILE:2: mode: want a plain value, not a mapping`},
		{name: "bad target", args: []string{"-targets", "shop.X"},
			want: `invalid value "shop.X" for flag -targets: invalid pair "shop.X": want service=target`},
		{name: "not a mapping", file: "- a\n",
			want: `FILE:1: the file must be a mapping of keys to values`},
		{name: "bad yaml", file: "mode: [\n",
			want: `config file FILE: line 1: did not find expected node content`},
		{name: "service unknown key", file: "services:\n  a.B:\n    grcp: true\n",
			want: `FILE:3: unknown key "services.a.B.grcp"; a service section has grpc, http and config`},
		{name: "service bad bool", file: "services:\n  a.B:\n    http: sometimes\n",
			want: `FILE:3: services.a.B.http: invalid value "sometimes": want true or false`},
		{name: "missing file", args: []string{"-config", "/nonexistent/goms.yaml"},
			want: `config file: open /nonexistent/goms.yaml: no such file or directory`},
		{name: "env", env: map[string]string{"GOMS_LOG_LEVEL": "loud"},
			want: `environment GOMS_LOG_LEVEL: invalid level "loud": want debug, info, warn or error`},
		{name: "flag", args: []string{"-log-format", "xml"},
			want: `invalid value "xml" for flag -log-format: invalid log format "xml": want "text" or "json"`},
		{name: "size", args: []string{"-http-max-body-bytes", "-1"},
			want: `invalid value "-1" for flag -http-max-body-bytes: invalid size "-1": want a number of bytes, such as 4194304`},
		{name: "count", args: []string{"-grpc-max-connections", "many"},
			want: `invalid value "many" for flag -grpc-max-connections: invalid number "many": want a whole number, such as 100`},
		{name: "no streams", args: []string{"-grpc-max-concurrent-streams", "0"},
			want: `grpc.max_concurrent_streams 0: must be between 1 and 4294967295`},
		{name: "no HTTP/2 streams", args: []string{"-http-max-concurrent-streams", "0"},
			want: `http.max_concurrent_streams 0: must be between 1 and 4294967295`},
		{name: "tiny metadata", args: []string{"-grpc-max-header-bytes", "100"},
			want: `grpc.max_header_bytes 100: must be between 1024 and 4294967295`},
		{name: "no handshake", args: []string{"-grpc-handshake-timeout", "0s"},
			want: `grpc.handshake_timeout 0s: must be positive`},
		{name: "http mode without upstream", args: []string{"-mode", "http"},
			want: `mode "http" needs an upstream gRPC target (flag -upstream or GOMS_UPSTREAM)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			file := ""
			if tc.file != "" {
				file = writeFile(t, tc.file)
				args = append([]string{"-config", file}, args...)
			}
			_, err := load(t, args, tc.env)
			want := strings.ReplaceAll(tc.want, "FILE", file)
			if err == nil || err.Error() != want {
				t.Errorf("error = %v\nwant    %s", err, want)
			}
		})
	}
}

// TestDecodeService checks the typed per-service block.
func TestDecodeService(t *testing.T) {
	file := writeFile(t, `services:
  shop.orders.v1.OrderService:
    http: false
    config:
      max_items: 20
      greeting: hello
  shop.catalog.v1.CatalogService:
    config:
      max_itemz: 1
`)
	cfg, err := load(t, []string{"-config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type ordersConfig struct {
		MaxItems int    `yaml:"max_items"`
		Greeting string `yaml:"greeting"`
	}
	var oc ordersConfig
	if err := cfg.DecodeService("shop.orders.v1.OrderService", &oc); err != nil || oc != (ordersConfig{20, "hello"}) {
		t.Errorf("DecodeService = %+v, %v", oc, err)
	}
	if sc := cfg.service("shop.orders.v1.OrderService"); !sc.GRPC || sc.HTTP {
		t.Errorf("exposure grpc=%v http=%v, want true false", sc.GRPC, sc.HTTP)
	}
	err = cfg.DecodeService("shop.catalog.v1.CatalogService", &oc)
	want := file + ":7: services.shop.catalog.v1.CatalogService.config: unmarshal errors:\n  line 9: field max_itemz not found in type goms.ordersConfig"
	if err == nil || err.Error() != want {
		t.Errorf("unknown field: %v\nwant %s", err, want)
	}
	if err := cfg.DecodeService("no.Such", &oc); err != nil {
		t.Errorf("no section: %v", err)
	}
}

// TestConfigReference checks that the README's configuration table lists
// every setting with its flag, variable and default, so it cannot drift.
func TestConfigReference(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- config-reference:begin -->\n", "<!-- config-reference:end -->"
	text := string(readme)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q section", begin, end)
	}
	got := text[i+len(begin) : j]
	if want := configReference(); got != want {
		t.Errorf("README.md configuration table is out of date; replace it with:\n%s", want)
	}
}

// configReference renders the settings as the README's markdown table.
func configReference() string {
	var b strings.Builder
	b.WriteString("| key in the file | flag | environment | default | meaning |\n|---|---|---|---|---|\n")
	def := DefaultConfig()
	for _, s := range settings() {
		value := s.value(&def).String()
		if value != "" {
			value = "`" + value + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `-%s` | `%s` | %s | %s |\n", s.key, s.flagName(), s.envName(), value, s.usage)
	}
	fmt.Fprintf(&b, "| | `-%s` | `%s` | | the YAML configuration file |\n", configFlag, configEnv)
	return b.String()
}
