package goms_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// callLog records the methods interceptors saw.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(kind, method string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, kind+" "+method)
}

func (l *callLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) == 0 {
		return ""
	}
	return l.calls[len(l.calls)-1]
}

func (l *callLog) options() goms.Option {
	return goms.WithOptions(
		goms.WithUnaryInterceptors(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			l.add("unary", info.FullMethod)
			return h(ctx, req)
		}),
		goms.WithStreamInterceptors(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			l.add("stream", info.FullMethod)
			return h(srv, ss)
		}),
	)
}

// startServer serves the echo service in mode on free ports until the test ends.
func startServer(t *testing.T, mode goms.Mode, opts ...goms.Option) (*goms.Server, *echotest.Server) {
	t.Helper()
	cfg := goms.DefaultConfig()
	cfg.Mode, cfg.GRPC.Addr, cfg.HTTP.Addr = mode, "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg, opts...)
	impl := &echotest.Server{}
	echo.RegisterEchoService(s, impl)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitServing(t, s, mode)
	return s, impl
}

// waitServing waits until Start has opened the listeners of mode.
func waitServing(t *testing.T, s *goms.Server, mode goms.Mode) {
	t.Helper()
	for i := 0; ; i++ {
		if (mode == goms.ModeHTTP || s.GRPCAddr() != "") && (mode == goms.ModeGRPC || s.HTTPAddr() != "") {
			return
		}
		if i > 2000 {
			t.Fatal("server did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// get fetches url and returns its status and compactJSON of its body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body := testutil.Get(t, url)
	return code, compactJSON(body)
}

func dial(t *testing.T, addr string) echo.EchoServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return echo.NewEchoServiceClient(conn)
}

// TestGatewayInProcess proves the gateway-mode design: HTTP calls reach the
// service without a network hop (the handler's peer is in-process), the
// gRPC server interceptors still run, and server streaming works over HTTP.
func TestGatewayInProcess(t *testing.T) {
	var log callLog
	s, impl := startServer(t, goms.ModeGateway, log.options())

	code, body := get(t, "http://"+s.HTTPAddr()+"/v1/echo/hello")
	if code != 200 || body != `{"message":"hello"}` {
		t.Fatalf("GET /v1/echo/hello = %d %s", code, body)
	}
	if got := log.last(); got != "unary /fixtures.echo.EchoService/Echo" {
		t.Errorf("interceptor saw %q, want the unary Echo call", got)
	}
	if got := impl.LastPeer(); got != "inprocess" {
		t.Errorf("HTTP call reached the handler from a %q peer, want inprocess (no network hop)", got)
	}

	code, body = get(t, "http://"+s.HTTPAddr()+"/v1/expand/one%20two%20three")
	want := `{"result":{"message":"one"}}` + "\n" + `{"result":{"message":"two"}}` + "\n" + `{"result":{"message":"three"}}` + "\n"
	if code != 200 || body != want {
		t.Fatalf("GET /v1/expand = %d %q, want %q", code, body, want)
	}
	if got := log.last(); got != "stream /fixtures.echo.EchoService/Expand" {
		t.Errorf("interceptor saw %q, want the Expand stream", got)
	}

	// The same interceptors run for gRPC clients, over TCP.
	if _, err := dial(t, s.GRPCAddr()).Echo(context.Background(), &echo.EchoRequest{Message: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := impl.LastPeer(); got != "tcp" {
		t.Errorf("gRPC call peer %q, want tcp", got)
	}
	checkResponseHeaders(t, s.HTTPAddr())
	if got := log.last(); got != "unary /fixtures.echo.EchoService/Echo" {
		t.Errorf("interceptor saw %q over gRPC", got)
	}
}

// TestPanicBecomesInternal checks that a panicking handler yields Internal
// (500 over HTTP) and that the server keeps serving.
func TestPanicBecomesInternal(t *testing.T) {
	s, _ := startServer(t, goms.ModeGateway, goms.WithLogger(discardLogger()))
	client := dial(t, s.GRPCAddr())
	_, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "panic"})
	if status.Code(err) != codes.Internal {
		t.Fatalf("gRPC panic: %v, want Internal", err)
	}
	code, body := get(t, "http://"+s.HTTPAddr()+"/v1/echo/panic")
	if code != 500 || body != `{"code":13,"message":"internal error","details":[]}` {
		t.Fatalf("HTTP panic: %d %s", code, body)
	}
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "after"}); err != nil {
		t.Fatalf("call after a panic: %v", err)
	}
}

// TestHTTPMode checks the HTTP-only gateway in front of a gRPC-only server.
func TestHTTPMode(t *testing.T) {
	var backendLog callLog
	backend, _ := startServer(t, goms.ModeGRPC, backendLog.options())
	cfg := goms.DefaultConfig()
	cfg.Mode, cfg.HTTP.Addr, cfg.Upstream = goms.ModeHTTP, "127.0.0.1:0", backend.GRPCAddr()
	front := goms.New(cfg)
	echo.RegisterEchoService(front, nil) // no implementation needed in http mode
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- front.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitServing(t, front, goms.ModeHTTP)

	code, body := get(t, "http://"+front.HTTPAddr()+"/v1/echo/proxied")
	if code != 200 || body != `{"message":"proxied"}` {
		t.Fatalf("GET via http mode = %d %s", code, body)
	}
	if got := backendLog.last(); got != "unary /fixtures.echo.EchoService/Echo" {
		t.Errorf("backend interceptor saw %q", got)
	}
	if front.GRPCAddr() != "" {
		t.Errorf("http mode listens for gRPC on %s", front.GRPCAddr())
	}
	checkResponseHeaders(t, front.HTTPAddr())
}

// checkResponseHeaders checks that the HTTP gateway at addr passes a
// handler's response header on as Grpc-Metadata-<key>, and not gRPC's own
// content-type.
func checkResponseHeaders(t *testing.T, addr string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/echo/header")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Grpc-Metadata-X-Served-By"); got != "echo" {
		t.Errorf("Grpc-Metadata-X-Served-By = %q, want echo (headers %v)", got, resp.Header)
	}
	if got := resp.Header.Values("Grpc-Metadata-Content-Type"); got != nil {
		t.Errorf("Grpc-Metadata-Content-Type = %q, want none", got)
	}
}

func TestLocalConn(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg)
	echo.RegisterEchoService(s, &echotest.Server{})
	client := echo.NewEchoServiceClient(s.LocalConn())
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("LocalConn before Start: %v, want Unavailable", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "local"})
	if err != nil || resp.GetMessage() != "local" {
		t.Fatalf("LocalConn after Start: %v, %v", resp, err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*goms.Server)
		mode  goms.Mode
		want  string
	}{
		{"no services", func(*goms.Server) {}, goms.ModeGateway, "goms: no services registered"},
		{"twice", func(s *goms.Server) {
			echo.RegisterEchoService(s, &echotest.Server{})
			echo.RegisterEchoService(s, &echotest.Server{})
		}, goms.ModeGateway, "goms: service fixtures.echo.EchoService registered twice"},
		{"nil implementation", func(s *goms.Server) { echo.RegisterEchoService(s, nil) }, goms.ModeGRPC,
			`goms: service fixtures.echo.EchoService: no implementation (nil is accepted only in mode "http" or when another process serves it, see serve)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := goms.DefaultConfig()
			cfg.Mode, cfg.GRPC.Addr, cfg.HTTP.Addr = tc.mode, "127.0.0.1:0", "127.0.0.1:0"
			s := goms.New(cfg)
			tc.setup(s)
			err := s.Start(context.Background())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Start error = %v, want %q", err, tc.want)
			}
		})
	}
}

// The graceful-stop tests run a real process (this test binary, re-executed
// with GOMS_TEST_SERVE set) so that a real SIGTERM reaches goms.Main.

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

// serveProcess starts this test binary as an echo server process (see
// TestMain) in gateway mode on free ports, with env added to its
// environment. The test's end kills it if it still runs.
func serveProcess(t *testing.T, env []string, args ...string) *testutil.Process {
	t.Helper()
	p := testutil.StartProcess(t, os.Args[0], append([]string{"GOMS_TEST_SERVE=1"}, env...), "gateway", args...)
	t.Cleanup(p.Kill)
	return p
}

// TestGracefulStop sends SIGTERM while a slow gRPC call and a slow HTTP
// call are in flight: both complete, new connections are refused, and the
// process exits 0.
func TestGracefulStop(t *testing.T) {
	p := serveProcess(t, nil, "-shutdown-grace", "10s")
	client := dial(t, p.GRPCAddr)
	// Establish the gRPC connection before the stop begins.
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "warm"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var grpcErr, httpErr error
	var httpCode int
	var httpBody string
	wg.Go(func() {
		resp, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "slow-grpc", DelayMs: 700})
		if err == nil && resp.GetMessage() != "slow-grpc" {
			err = fmt.Errorf("got %q", resp.GetMessage())
		}
		grpcErr = err
	})
	wg.Go(func() {
		resp, err := http.Post("http://"+p.HTTPAddr+"/v1/echo", "application/json", strings.NewReader(`{"message":"slow-http","delayMs":700}`))
		if err != nil {
			httpErr = err
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		httpCode, httpBody = resp.StatusCode, compactJSON(string(body))
	})
	time.Sleep(200 * time.Millisecond) // let both calls reach the handler
	p.Cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	// A new client cannot connect while the stop drains.
	if _, err := http.Get("http://" + p.HTTPAddr + "/v1/echo/late"); err == nil {
		t.Error("a new HTTP connection was accepted after SIGTERM")
	}
	wg.Wait()
	if grpcErr != nil {
		t.Errorf("in-flight gRPC call: %v", grpcErr)
	}
	if httpErr != nil || httpCode != 200 || httpBody != `{"message":"slow-http"}` {
		t.Errorf("in-flight HTTP call: %v %d %s", httpErr, httpCode, httpBody)
	}
	if code := p.Wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit status %d after a clean stop, want 0\n%s", code, p.Out)
	}
}

// TestGracefulStopGraceExceeded checks that a call outliving the grace
// period is cut off and the process reports it with exit status 1.
func TestGracefulStopGraceExceeded(t *testing.T) {
	p := serveProcess(t, nil, "-shutdown-grace", "300ms")
	client := dial(t, p.GRPCAddr)
	errc := make(chan error, 1)
	go func() {
		_, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "too-slow", DelayMs: 10_000})
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := <-errc; status.Code(err) != codes.Unavailable && status.Code(err) != codes.Canceled {
		t.Errorf("call cut off by the stop: %v, want Unavailable or Canceled", err)
	}
	if code := p.Wait(t, 20*time.Second); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if out := p.Out.String(); !strings.Contains(out, "shutdown grace period exceeded") {
		t.Errorf("output does not say the grace period was exceeded:\n%s", out)
	}
}
