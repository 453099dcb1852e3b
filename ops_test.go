package goms_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
	"github.com/goms-io/goms/otelgoms"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// serveConfig is echotest.Serve; do is testutil.Do.
var (
	serveConfig = echotest.Serve
	do          = testutil.Do
)

// TestHTTPErrors checks the error contract on the HTTP side: one JSON body
// shape for handler errors, routing errors and bad input, with details.
func TestHTTPErrors(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.HTTP.MaxBodyBytes = 64
	s := serveConfig(t, cfg)
	base := "http://" + s.HTTPAddr()
	big := `{"message":"` + strings.Repeat("x", 100) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		chunked                  bool
		want                     int
		wantBody                 string
	}{
		{"details survive", "GET", "/v1/echo/details", "", false, 400,
			`{"code":9,"message":"stock too low","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"STOCK_LOW","domain":"shop.example","metadata":{"sku":"tea"}}]}`},
		{"unknown path", "GET", "/v1/nowhere", "", false, 404,
			`{"code":5,"message":"Not Found","details":[]}`},
		{"wrong method", "DELETE", "/v1/echo", "", false, 405,
			`{"code":12,"message":"Method Not Allowed","details":[]}`},
		{"malformed JSON", "POST", "/v1/echo", `{"message":`, false, 400, ""},
		{"body over the limit", "POST", "/v1/echo", big, false, 413,
			`{"code":8,"message":"request body larger than 64 bytes","details":[]}`},
		{"chunked body over the limit", "POST", "/v1/echo", big, true, 413,
			`{"code":8,"message":"request body larger than 64 bytes","details":[]}`},
		{"body within the limit", "POST", "/v1/echo", `{"message":"ok"}`, false, 200, `{"message":"ok"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			resp, got := do(t, tc.method, base+tc.path, "application/json", body)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d; body %s", resp.StatusCode, tc.want, got)
			}
			if tc.wantBody != "" && got != tc.wantBody {
				t.Errorf("body %s\nwant %s", got, tc.wantBody)
			}
			if !strings.HasPrefix(got, "{") {
				t.Errorf("body is not a JSON object: %s", got)
			}
		})
	}
	// The server is still up after all that.
	if resp, _ := do(t, "GET", base+"/v1/echo/alive", "", nil); resp.StatusCode != 200 {
		t.Fatalf("after bad input: %d", resp.StatusCode)
	}
}

// TestMetrics checks that /metrics parses as the Prometheus text format and
// labels each transport in its own terms.
func TestMetrics(t *testing.T) {
	s := serveConfig(t, goms.DefaultConfig())
	client := dial(t, s.GRPCAddr())
	client.Echo(context.Background(), &echo.EchoRequest{Message: "over-grpc"})
	client.Echo(context.Background(), &echo.EchoRequest{Message: "details"})
	get(t, "http://"+s.HTTPAddr()+"/v1/echo/over-http")
	get(t, "http://"+s.HTTPAddr()+"/v1/nowhere")
	get(t, "http://"+s.HTTPAddr()+"/v1/expand/a%20b")
	do(t, "POST", "http://"+s.HTTPAddr()+"/v1/collect", "application/json", strings.NewReader(`{"message":"a"}{"message":"b"}`))
	// A front in http mode calls s over the network.
	front := goms.DefaultConfig()
	front.Mode, front.Upstream = goms.ModeHTTP, s.GRPCAddr()
	f := serveConfig(t, front)
	get(t, "http://"+f.HTTPAddr()+"/v1/echo/via-front")

	checkMetrics(t, s.HTTPAddr(), []metricWant{
		{"grpc_server_handled_total", map[string]string{"grpc_method": "Echo", "grpc_code": "OK", "transport": "network"}},
		{"grpc_server_handled_total", map[string]string{"grpc_method": "Echo", "grpc_code": "FailedPrecondition", "transport": "network"}},
		{"grpc_server_handled_total", map[string]string{"grpc_method": "Echo", "grpc_code": "OK", "transport": "inprocess"}},
		{"grpc_client_handled_total", map[string]string{"grpc_method": "Echo", "grpc_type": "unary", "grpc_code": "OK", "transport": "inprocess"}},
		{"grpc_client_handled_total", map[string]string{"grpc_method": "Expand", "grpc_type": "server_stream", "grpc_code": "OK", "transport": "inprocess"}},
		{"grpc_client_handled_total", map[string]string{"grpc_method": "Collect", "grpc_type": "client_stream", "grpc_code": "OK", "transport": "inprocess"}},
		{"grpc_client_handling_seconds", map[string]string{"grpc_method": "Echo", "transport": "inprocess"}},
		{"goms_http_requests_total", map[string]string{"code": "200", "method": "get"}},
		{"goms_http_requests_total", map[string]string{"code": "404", "method": "get"}},
		{"goms_http_request_duration_seconds", map[string]string{"code": "200"}},
		{"go_goroutines", nil},
	})
	checkMetrics(t, f.HTTPAddr(), []metricWant{
		{"grpc_client_handled_total", map[string]string{"grpc_method": "Echo", "grpc_type": "unary", "grpc_code": "OK", "transport": "network"}},
	})
}

type metricWant struct {
	family string
	labels map[string]string
}

// checkMetrics fails t unless the /metrics of the server at addr has a
// series of each family with (at least) the given labels.
func checkMetrics(t *testing.T, addr string, want []metricWant) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	has := func(family string, labels map[string]string) bool {
		for _, m := range families[family].GetMetric() {
			match := 0
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
					match++
				}
			}
			if match == len(labels) {
				return true
			}
		}
		return false
	}
	for _, c := range want {
		if !has(c.family, c.labels) {
			t.Errorf("/metrics lacks %s%v", c.family, c.labels)
		}
	}
}

// TestLogs checks one log line per call, at DEBUG for a call that
// succeeded, and the panic stack.
func TestLogs(t *testing.T) {
	var out syncWriter
	s := serveConfig(t, goms.DefaultConfig(), goms.WithLogger(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	client := dial(t, s.GRPCAddr())
	client.Echo(context.Background(), &echo.EchoRequest{Message: "logged"})
	client.Echo(context.Background(), &echo.EchoRequest{Message: "panic"})
	logs := out.String()
	for _, want := range []string{
		`level=DEBUG msg=call grpc.method=/fixtures.echo.EchoService/Echo grpc.code=OK duration=`,
		` peer=127.0.0.1:`,
		`level=ERROR msg="panic in handler" method=/fixtures.echo.EchoService/Echo panic="echo asked to panic" stack="goroutine `,
		`level=ERROR msg=call grpc.method=/fixtures.echo.EchoService/Echo grpc.code=Internal duration=`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// TestLogVolume checks the levels that keep the logs small at INFO: a
// call that succeeds writes no INFO line over gRPC, and one INFO line
// (msg=http) over HTTP, not two; a call slower than log.slow_call writes
// a WARN line.
func TestLogVolume(t *testing.T) {
	var out syncWriter
	cfg := goms.DefaultConfig()
	cfg.Log.SlowCall = 200 * time.Millisecond
	s := serveConfig(t, cfg, goms.WithLogger(slog.New(slog.NewTextHandler(&out, nil))))
	client := dial(t, s.GRPCAddr())
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "quick"}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := do(t, "GET", "http://"+s.HTTPAddr()+"/v1/echo/quick", "", nil); resp.StatusCode != 200 {
		t.Fatalf("GET = %d", resp.StatusCode)
	}
	if logs := out.String(); strings.Contains(logs, "msg=call") || strings.Count(logs, "msg=http") != 1 {
		t.Errorf("two quick calls, one over HTTP: want one INFO line, msg=http; logs:\n%s", logs)
	}
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "slow", DelayMs: 300}); err != nil {
		t.Fatal(err)
	}
	if logs := out.String(); !strings.Contains(logs, `level=WARN msg=call grpc.method=/fixtures.echo.EchoService/Echo grpc.code=OK duration=`) ||
		!strings.Contains(logs, " slow=true") {
		t.Errorf("a call over log.slow_call: no WARN line; logs:\n%s", logs)
	}
}

// TestHealthAndReadiness checks /healthz, /readyz and gRPC health, and that
// readiness turns false as soon as a stop begins, while calls drain.
func TestHealthAndReadiness(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.Admin.Addr = "127.0.0.1:0"
	s := serveConfig(t, cfg)
	admin := "http://" + s.AdminAddr()
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, body := do(t, "GET", admin+path, "", nil); resp.StatusCode != 200 || body != `{"status":"SERVING"}`+"\n" {
			t.Errorf("%s = %d %q", path, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, "GET", "http://"+s.HTTPAddr()+"/metrics", "", nil); resp.StatusCode != 404 {
		t.Errorf("/metrics on the HTTP address with an admin address: %d, want 404", resp.StatusCode)
	}
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", echo.EchoServiceName} {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q: %v, %v", svc, resp, err)
		}
	}

	// A slow call keeps the stop draining while readiness is probed.
	slow := make(chan error, 1)
	go func() {
		_, err := echo.NewEchoServiceClient(conn).Echo(context.Background(), &echo.EchoRequest{Message: "slow", DelayMs: 1500})
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 503 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not turn 503 during the stop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-slow; err != nil {
		t.Errorf("call in flight during the stop: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// TestReflectionSwitch checks that reflection is on by default and can be
// turned off.
func TestReflectionSwitch(t *testing.T) {
	for _, on := range []bool{true, false} {
		cfg := goms.DefaultConfig()
		cfg.GRPC.Reflection = on
		s := serveConfig(t, cfg)
		conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
		if err == nil {
			err = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		}
		var resp *reflectionpb.ServerReflectionResponse
		if err == nil || err == io.EOF { // on EOF, Recv tells the status
			resp, err = stream.Recv()
		}
		conn.Close()
		if on && (err != nil || !strings.Contains(resp.String(), echo.EchoServiceName)) {
			t.Errorf("reflection on: %v, %v", resp, err)
		}
		if !on && status.Code(err) != codes.Unimplemented {
			t.Errorf("reflection off: %v, want Unimplemented", err)
		}
	}
}

// TestServiceExposure checks the per-service grpc/http switches.
func TestServiceExposure(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.Services = map[string]goms.ServiceConfig{echo.EchoServiceName: {GRPC: false, HTTP: false}}
	s := serveConfig(t, cfg)
	_, err := dial(t, s.GRPCAddr()).Echo(context.Background(), &echo.EchoRequest{Message: "x"})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("gRPC call to a service not exposed on gRPC: %v, want Unimplemented", err)
	}
	if code, _ := get(t, "http://"+s.HTTPAddr()+"/v1/echo/x"); code != 404 {
		t.Errorf("HTTP call to a service not exposed on HTTP: %d, want 404", code)
	}
	if _, err := echo.NewEchoServiceClient(s.LocalConn()).Echo(context.Background(), &echo.EchoRequest{Message: "x"}); err != nil {
		t.Errorf("in-process call to an unexposed service: %v", err)
	}
}

// TestCORS checks that CORS is off by default and follows the allow-list.
func TestCORS(t *testing.T) {
	off := serveConfig(t, goms.DefaultConfig())
	resp, _ := do(t, "GET", "http://"+off.HTTPAddr()+"/v1/echo/x", "", nil, "Origin", "https://shop.example")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS off: Access-Control-Allow-Origin = %q", got)
	}
	cfg := goms.DefaultConfig()
	cfg.HTTP.CORSOrigins = []string{"https://shop.example"}
	on := serveConfig(t, cfg)
	resp, _ = do(t, "OPTIONS", "http://"+on.HTTPAddr()+"/v1/echo", "", nil,
		"Origin", "https://shop.example", "Access-Control-Request-Method", "POST")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://shop.example" || resp.StatusCode >= 300 {
		t.Errorf("preflight from an allowed origin: %d, Allow-Origin %q", resp.StatusCode, got)
	}
	resp, _ = do(t, "GET", "http://"+on.HTTPAddr()+"/v1/echo/x", "", nil, "Origin", "https://evil.example")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("other origin: Access-Control-Allow-Origin = %q", got)
	}
}

// TestSlowHeaders checks that a client that never finishes its headers is
// cut off after the read-header timeout.
func TestSlowHeaders(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.HTTP.ReadHeaderTimeout = 200 * time.Millisecond
	s := serveConfig(t, cfg)
	conn, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /v1/echo/x HTTP/1.1\r\nHost: x\r\n")) // never ends the headers
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a client with unfinished headers for 10s")
	}
}

// TestSlowBody checks that a client that sends its body too slowly is cut
// off after the read timeout.
func TestSlowBody(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.HTTP.ReadTimeout = 300 * time.Millisecond
	s := serveConfig(t, cfg)
	conn, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server waited 10s for a body it should have given up on")
	}
	if strings.Contains(string(reply), "200 OK") {
		t.Errorf("a truncated request was answered 200:\n%s", reply)
	}
}

// TestMessageSizeLimit checks grpc.max_recv_bytes on the gRPC server.
func TestMessageSizeLimit(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.MaxRecvBytes = 1024
	s := serveConfig(t, cfg)
	client := dial(t, s.GRPCAddr())
	_, err := client.Echo(context.Background(), &echo.EchoRequest{Message: strings.Repeat("x", 2048)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("2 KiB message to a 1 KiB limit: %v, want ResourceExhausted", err)
	}
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "small"}); err != nil {
		t.Errorf("small message after an oversized one: %v", err)
	}
}

// TestIdleTimeout checks that idle keep-alive HTTP connections are closed.
func TestIdleTimeout(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.HTTP.IdleTimeout = 200 * time.Millisecond
	s := serveConfig(t, cfg)
	conn, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /v1/echo/x HTTP/1.1\r\nHost: x\r\n\r\n"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := io.ReadAll(conn) // the answer, then EOF when the idle connection is closed
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("an idle keep-alive connection stayed open for 10s")
	}
	if !strings.HasPrefix(string(reply), "HTTP/1.1 200 OK") {
		t.Errorf("reply: %q", reply)
	}
}

// TestHTTPBodies checks request bodies of one and several messages, with
// a Content-Length and chunked, on unary and streaming calls: the gateway
// reads a one-message body of known length in one go and anything else
// message by message, with the same results.
func TestHTTPBodies(t *testing.T) {
	s := serveConfig(t, goms.DefaultConfig())
	base := "http://" + s.HTTPAddr()
	for _, tc := range []struct {
		path, body, want string
	}{
		{"/v1/echo", `{"message":"a"}`, `{"message":"a"}`},
		{"/v1/echo", ` {"message":"a"} `, `{"message":"a"}`},
		{"/v1/echo", `{"message":"a"}{"message":"b"}`, `{"message":"a"}`}, // the first message is the request
		{"/v1/collect", `{"message":"a"}`, `{"message":"a"}`},
		{"/v1/collect", `{"message":"a"}{"message":"b"} {"message":"c"}`, `{"message":"a b c"}`},
		{"/v1/chat", `{"message":"a"}`, `{"result":{"message":"re: a"}}` + "\n"},
		{"/v1/chat", `{"message":"a"}{"message":"b"}`, `{"result":{"message":"re: a"}}` + "\n" + `{"result":{"message":"re: b"}}` + "\n"},
	} {
		for _, chunked := range []bool{false, true} {
			var body io.Reader = strings.NewReader(tc.body)
			if chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			resp, got := do(t, "POST", base+tc.path, "application/json", body)
			if resp.StatusCode != 200 || got != tc.want {
				t.Errorf("POST %s %s (chunked %v) = %d %q, want 200 %q", tc.path, tc.body, chunked, resp.StatusCode, got, tc.want)
			}
			if wantLength := !chunked; (resp.Request.ContentLength > 0) != wantLength {
				t.Errorf("POST %s: request ContentLength %d, chunked %v", tc.path, resp.Request.ContentLength, chunked)
			}
		}
	}
}

// TestHTTPBidiInterleaved: over HTTP/1, a bidi stream's client may wait
// for the answer to one message before it sends the next; the gateway
// reads the request body while it writes the answer (full duplex), in
// gateway mode, traced or not, and in http mode.
func TestHTTPBidiInterleaved(t *testing.T) {
	gateway := serveConfig(t, goms.DefaultConfig(), goms.WithLogger(discardLogger()))
	cfg := goms.DefaultConfig()
	cfg.Mode, cfg.Upstream = goms.ModeHTTP, gateway.GRPCAddr()
	front := serveConfig(t, cfg, goms.WithLogger(discardLogger()))
	// Tracing wraps the HTTP response writer (otelhttp).
	traced := serveConfig(t, goms.DefaultConfig(), goms.WithLogger(discardLogger()),
		otelgoms.WithTracerProvider(sdktrace.NewTracerProvider()))
	for name, s := range map[string]*goms.Server{"gateway mode": gateway, "http mode": front, "gateway mode, traced": traced} {
		t.Run(name, func(t *testing.T) { chatInterleaved(t, "http://"+s.HTTPAddr()+"/v1/chat") })
	}
}

// chatInterleaved sends three messages to the Chat route at url, each
// after the answer to the one before.
func chatInterleaved(t *testing.T, url string) {
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest("POST", url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req = req.WithContext(ctx)
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) }) // unblocks writes
	defer stop()
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		done <- result{resp, err}
	}()
	if _, err := io.WriteString(pw, `{"message":"a"}`); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("no answer to the first message: %v", r.err)
	}
	defer r.resp.Body.Close()
	lines := bufio.NewReader(r.resp.Body)
	for _, msg := range []string{"a", "b", "c"} {
		if msg != "a" {
			if _, err := io.WriteString(pw, `{"message":"`+msg+`"}`); err != nil {
				t.Fatalf("send %s: %v", msg, err)
			}
		}
		line, err := lines.ReadString('\n')
		if want := `{"result":{"message":"re: ` + msg + `"}}` + "\n"; compactJSON(line) != want || err != nil {
			t.Fatalf("answer to %s: %q %v, want %q", msg, line, err, want)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Errorf("after the last answer: %q %v, want the end", rest, err)
	}
}
