package otelgoms_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
	"github.com/goms-io/goms/otelgoms"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracingChain follows one request HTTP → gateway (in-process) → echo →
// gRPC over the network → a second server, and checks that every hop is a
// span of the caller's trace, each the child of the previous one.
func TestTracingChain(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	withTracing := otelgoms.WithTracerProvider(tp)

	backendCfg := goms.DefaultConfig()
	backendCfg.Mode = goms.ModeGRPC
	backend := serveConfig(t, backendCfg, withTracing)

	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	front := goms.New(cfg, withTracing)
	conn, err := front.Dial(backend.GRPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	echo.RegisterEchoService(front, &echotest.Server{Next: echo.NewEchoServiceClient(conn)})
	if err := front.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer front.Stop(context.Background())

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp, body := do(t, "GET", "http://"+front.HTTPAddr()+"/v1/echo/fwd-me", "", nil,
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if resp.StatusCode != 200 || body != `{"message":"fwd-me"}` {
		t.Fatalf("GET = %d %s", resp.StatusCode, body)
	}
	// The backend ends its server span after it has answered: wait for it.
	var spans tracetest.SpanStubs
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tp.ForceFlush(context.Background())
		if spans = exporter.GetSpans(); len(spans) >= 5 || time.Now().After(deadline) {
			break
		}
	}
	byID := make(map[trace.SpanID]tracetest.SpanStub)
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	// Walk up from the deepest span, which must be the backend's.
	depth := func(s tracetest.SpanStub) int {
		d := 0
		for p, ok := byID[s.Parent.SpanID()]; ok; p, ok = byID[p.Parent.SpanID()] {
			d++
		}
		return d
	}
	var leaf *tracetest.SpanStub
	for i := range spans {
		if leaf == nil || depth(spans[i]) > depth(*leaf) {
			leaf = &spans[i]
		}
	}
	var chain []string
	for s, ok := leaf, leaf != nil; ok; {
		chain = append(chain, s.SpanKind.String()+" "+s.Name)
		if s.SpanContext.TraceID().String() != traceID {
			t.Errorf("span %s has trace %s, want the caller's %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
		p, found := byID[s.Parent.SpanID()]
		s, ok = &p, found
	}
	want := []string{
		"server fixtures.echo.EchoService/Echo", // backend, over the network
		"client fixtures.echo.EchoService/Echo", // echo's call through Dial
		"server fixtures.echo.EchoService/Echo", // echo, served in-process
		"client fixtures.echo.EchoService/Echo", // the gateway's in-process call
		"server HTTP GET",                       // the HTTP request
	}
	if strings.Join(chain, "\n") != strings.Join(want, "\n") {
		t.Errorf("span chain (leaf first):\n%s\nwant:\n%s\nall spans: %d", strings.Join(chain, "\n"), strings.Join(want, "\n"), len(spans))
	}
}

// TestTraceIDInLogs checks that the log line of a traced call carries the
// id of the caller's trace.
func TestTraceIDInLogs(t *testing.T) {
	var logs testutil.SyncBuffer
	s := serveConfig(t, goms.DefaultConfig(),
		otelgoms.WithTracerProvider(sdktrace.NewTracerProvider()),
		goms.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp, body := do(t, "GET", "http://"+s.HTTPAddr()+"/v1/echo/logged", "", nil,
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if resp.StatusCode != 200 || body != `{"message":"logged"}` {
		t.Fatalf("GET = %d %s", resp.StatusCode, body)
	}
	var call string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "msg=call ") {
			call = line
		}
	}
	if !strings.Contains(call, " trace_id="+traceID) {
		t.Errorf("call log line %q lacks trace_id=%s; all logs:\n%s", call, traceID, logs.String())
	}
}

// serveConfig is echotest.Serve; do is testutil.Do.
var (
	serveConfig = echotest.Serve
	do          = testutil.Do
)
