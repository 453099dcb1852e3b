package otlp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
	_ "github.com/goms-io/goms/otlp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// The tests run a real process (this test binary, re-executed with
// GOMS_TEST_SERVE set) so that goms.Main reads a real environment and
// flushes its spans at a real SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("GOMS_TEST_SERVE") != "" {
		goms.Main(func(s *goms.Server) error {
			echo.RegisterEchoService(s, &echotest.Server{})
			return nil
		})
		return
	}
	os.Exit(m.Run())
}

// TestOTLPFromEnvironment runs a server process configured only by the
// standard OTEL_* variables and checks that its spans reach an OTLP/HTTP
// collector, flushed at shutdown.
func TestOTLPFromEnvironment(t *testing.T) {
	var mu sync.Mutex
	var exported []*coltracepb.ExportTraceServiceRequest
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := new(coltracepb.ExportTraceServiceRequest)
		if r.URL.Path == "/v1/traces" && proto.Unmarshal(body, req) == nil {
			mu.Lock()
			exported = append(exported, req)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	p := testutil.StartProcess(t, os.Args[0],
		[]string{"GOMS_TEST_SERVE=1", "OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL, "OTEL_SERVICE_NAME=echo-under-test"}, "gateway")
	t.Cleanup(p.Kill)
	if code, _ := testutil.Get(t, "http://"+p.HTTPAddr+"/v1/echo/traced"); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if code := p.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Out)
	}
	mu.Lock()
	defer mu.Unlock()
	var names []string
	service := ""
	for _, req := range exported {
		for _, rs := range req.GetResourceSpans() {
			for _, attr := range rs.GetResource().GetAttributes() {
				if attr.GetKey() == "service.name" {
					service = attr.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					names = append(names, sp.GetName())
				}
			}
		}
	}
	if service != "echo-under-test" || !strings.Contains(strings.Join(names, ","), "HTTP GET") {
		t.Errorf("collector got service %q, spans %v", service, names)
	}
}

// TestInvalidProtocol checks that a process asked for an OTLP protocol
// that does not exist exits with status 2 and a line naming the variable.
func TestInvalidProtocol(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GOMS_TEST_SERVE=1",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=carrier-pigeon")
	out, err := cmd.CombinedOutput()
	want := `goms: tracing: environment OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: invalid value "carrier-pigeon": want "grpc" or "http/protobuf"`
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || strings.TrimSpace(string(out)) != want {
		t.Errorf("exit %v, output:\n%s\nwant exit 2 and:\n%s", err, out, want)
	}
}
