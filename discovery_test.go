package goms_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
)

// TestDiscoveryNotLinked checks that a server configured for etcd
// discovery, in a program that does not link it (this test binary), fails
// to start with a line naming the setting and the import that fixes it.
func TestDiscoveryNotLinked(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Etcd.Endpoints = []string{"http://127.0.0.1:2379"}
	s := goms.New(cfg, goms.WithLogger(discardLogger()))
	echo.RegisterEchoService(s, &echotest.Server{})
	err := s.Start(context.Background())
	if err == nil {
		s.Stop(context.Background())
	}
	want := `etcd.endpoints is set, but this program has no etcd discovery: add import _ "github.com/goms-io/goms/etcd"`
	if err == nil || err.Error() != want {
		t.Errorf("Start: %v\nwant: %s", err, want)
	}
}

// TestMCPNotLinked checks that a server configured with MCP tools, in a
// program that does not link package goms/mcp (this test binary), fails
// to start with a line naming the setting and the import that fixes it.
func TestMCPNotLinked(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.MCP.Tools = []string{"fixtures.echo.EchoService"}
	s := goms.New(cfg, goms.WithLogger(discardLogger()))
	echo.RegisterEchoService(s, &echotest.Server{})
	err := s.Start(context.Background())
	if err == nil {
		s.Stop(context.Background())
	}
	want := `mcp.tools is set, but this program has no MCP endpoint: add import _ "github.com/goms-io/goms/mcp"`
	if err == nil || err.Error() != want {
		t.Errorf("Start: %v\nwant: %s", err, want)
	}
}

// TestOptInDeps checks that package goms links neither the etcd client
// (and its zap) nor any of OpenTelemetry (API, instrumentation, SDK, OTLP
// exporters, and the logr they log with) nor protovalidate (and its CEL
// interpreter) nor the MCP SDK (and its JSON Schema, JSON and OAuth
// libraries) nor the fast codec (which would replace grpc-go's proto
// codec): they come only with the opt-in packages goms/etcd,
// goms/otelgoms, goms/otlp, goms/validate, goms/mcp and goms/vtcodec.
func TestOptInDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/goms-io/goms").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	if !strings.Contains(string(out), "\ngoogle.golang.org/grpc\n") {
		t.Fatalf("go list -deps printed no grpc:\n%s", out)
	}
	for pkg := range strings.FieldsSeq(string(out)) {
		for _, banned := range []string{"go.etcd.io/", "go.uber.org/zap", "go.opentelemetry.io/", "github.com/go-logr/", "buf.build/", "cel.dev/", "github.com/antlr4-go/",
			"github.com/modelcontextprotocol/", "github.com/google/jsonschema-go", "github.com/segmentio/", "github.com/yosida95/", "golang.org/x/oauth2",
			"github.com/goms-io/goms/vtcodec", "github.com/planetscale/vtprotobuf"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("package goms links %s", pkg)
			}
		}
	}
}
