package goms_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/nohttp"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// pingServer is a trivial second service, so that a server can host
// something while calling echo elsewhere.
type pingServer struct {
	nohttp.UnimplementedPingServiceServer
}

// frontServer starts a server hosting only ping, configured by set, and
// returns it with the Conn to echo it asked for before starting.
func frontServer(t *testing.T, set func(*goms.Config)) (*goms.Server, echo.EchoServiceClient, error) {
	t.Helper()
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	set(&cfg)
	s := goms.New(cfg)
	nohttp.RegisterPingService(s, &pingServer{})
	client := echo.NewEchoServiceClient(s.Conn(echo.EchoServiceName))
	err := s.Start(context.Background())
	if err == nil {
		t.Cleanup(func() { s.Stop(context.Background()) })
	}
	return s, client, err
}

// TestConnColocated checks that Conn calls a service hosted by the same
// server in-process.
func TestConnColocated(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg)
	impl := &echotest.Server{}
	client := echo.NewEchoServiceClient(s.Conn(echo.EchoServiceName)) // before the service is registered
	echo.RegisterEchoService(s, impl)
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("before Start: %v, want Unavailable", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "hi"}); err != nil {
		t.Fatal(err)
	}
	if got := impl.LastPeer(); got != "inprocess" {
		t.Errorf("co-located call came from a %q peer, want inprocess", got)
	}
}

// TestConnRemoteRoundRobin checks a pooled connection to a static list of
// two replicas: calls are spread over both.
func TestConnRemoteRoundRobin(t *testing.T) {
	a, implA := startServer(t, goms.ModeGRPC)
	b, implB := startServer(t, goms.ModeGRPC)
	_, client, err := frontServer(t, func(c *goms.Config) {
		c.Targets = map[string]string{echo.EchoServiceName: a.GRPCAddr() + "," + b.GRPCAddr()}
	})
	if err != nil {
		t.Fatal(err)
	}
	// round_robin uses a replica once its connection is up, which may be
	// after the first calls: call until both are used, or give up after
	// many more calls than that takes.
	for i := 0; i < 5000 && (implA.Calls() == 0 || implB.Calls() == 0); i++ {
		if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "rr"}); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := implA.Calls(), implB.Calls(); a == 0 || b == 0 {
		t.Fatalf("calls per replica: %d and %d, want both used", a, b)
	}
	// From then on, calls alternate.
	a0, b0 := implA.Calls(), implB.Calls()
	for range 20 {
		if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "rr"}); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := implA.Calls()-a0, implB.Calls()-b0; a != 10 || b != 10 {
		t.Errorf("20 calls per replica once both are up: %d and %d, want 10 and 10", a, b)
	}
}

// TestConnReadiness checks that readiness waits for a dependency, names its
// service (not its address) while it is missing, and turns true once it is
// reachable.
func TestConnReadiness(t *testing.T) {
	addr := testutil.FreeAddr(t)
	front, client, err := frontServer(t, func(c *goms.Config) {
		c.Targets = map[string]string{echo.EchoServiceName: addr}
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "GET", "http://"+front.HTTPAddr()+"/readyz", "", nil)
	want := `{"status":"NOT_SERVING","waiting_for":["fixtures.echo.EchoService"]}` + "\n"
	if resp.StatusCode != 503 || body != want {
		t.Errorf("/readyz with the dependency down: %d %s, want 503 %s", resp.StatusCode, body, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_, err = client.Echo(ctx, &echo.EchoRequest{Message: "x"})
	cancel()
	if status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call with the dependency down: %v, want Unavailable", err)
	}

	// The dependency comes up at that address: readiness follows.
	cfg := goms.DefaultConfig()
	cfg.Mode, cfg.GRPC.Addr = goms.ModeGRPC, addr
	backend := goms.New(cfg)
	echo.RegisterEchoService(backend, &echotest.Server{})
	if err := backend.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer backend.Stop(context.Background())
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := do(t, "GET", "http://"+front.HTTPAddr()+"/readyz", "", nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready 15s after the dependency came up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "up"}); err != nil {
		t.Errorf("call once the dependency is up: %v", err)
	}
}

func TestConnErrors(t *testing.T) {
	_, client, err := frontServer(t, func(*goms.Config) {})
	if err != nil {
		t.Fatalf("Start with a client of a service that has no target: %v", err)
	}
	_, err = client.Echo(context.Background(), &echo.EchoRequest{})
	want := "goms: fixtures.echo.EchoService is not hosted by this process and has no target; set targets (flag -targets fixtures.echo.EchoService=<target>, or GOMS_TARGETS) or etcd.endpoints"
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != want {
		t.Errorf("call to a service without a target: %v\nwant Unavailable: %s", err, want)
	}
	_, _, err = frontServer(t, func(c *goms.Config) { c.Serve = []string{"no.Such"} })
	if err == nil || !strings.HasPrefix(err.Error(), `goms: serve: unknown service "no.Such"; registered: fixtures.nohttp.PingService`) {
		t.Errorf("serve naming an unknown service: %v", err)
	}
}

// TestCallTimeout checks the default deadline of calls through Conn, both
// co-located and remote.
func TestCallTimeout(t *testing.T) {
	backend, _ := startServer(t, goms.ModeGRPC)
	for _, remote := range []bool{false, true} {
		cfg := goms.DefaultConfig()
		cfg.GRPC.Addr, cfg.HTTP.Addr, cfg.Client.CallTimeout = "127.0.0.1:0", "127.0.0.1:0", 100*time.Millisecond
		if remote {
			cfg.Serve = []string{nohttp.PingServiceName}
			cfg.Targets = map[string]string{echo.EchoServiceName: backend.GRPCAddr()}
		}
		s := goms.New(cfg)
		nohttp.RegisterPingService(s, &pingServer{})
		echo.RegisterEchoService(s, &echotest.Server{})
		client := echo.NewEchoServiceClient(s.Conn(echo.EchoServiceName))
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "slow", DelayMs: 2000})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("remote=%v: slow call without deadline: %v, want DeadlineExceeded", remote, err)
		}
		s.Stop(context.Background())
	}
}

// TestConnAllKinds runs the four kinds of RPC through Conn, co-located and
// remote, with the same assertions.
func TestConnAllKinds(t *testing.T) {
	backend, _ := startServer(t, goms.ModeGRPC)
	for _, remote := range []bool{false, true} {
		cfg := goms.DefaultConfig()
		cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
		if remote {
			cfg.Serve = []string{nohttp.PingServiceName}
			cfg.Targets = map[string]string{echo.EchoServiceName: backend.GRPCAddr()}
		}
		s := goms.New(cfg)
		nohttp.RegisterPingService(s, &pingServer{})
		echo.RegisterEchoService(s, &echotest.Server{})
		client := echo.NewEchoServiceClientFrom(s)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if resp, err := client.Echo(ctx, &echo.EchoRequest{Message: "unary"}); err != nil || resp.GetMessage() != "unary" {
			t.Errorf("remote=%v unary: %v %v", remote, resp, err)
		}
		expand, err := client.Expand(ctx, &echo.EchoRequest{Message: "a b c"})
		var got []string
		for err == nil {
			var resp *echo.EchoResponse
			if resp, err = expand.Recv(); err == nil {
				got = append(got, resp.GetMessage())
			}
		}
		if err != io.EOF || strings.Join(got, ",") != "a,b,c" {
			t.Errorf("remote=%v server stream: %v %v", remote, got, err)
		}
		collect, err := client.Collect(ctx)
		for _, w := range []string{"x", "y"} {
			if err == nil {
				err = collect.Send(&echo.EchoRequest{Message: w})
			}
		}
		var joined *echo.EchoResponse
		if err == nil {
			joined, err = collect.CloseAndRecv()
		}
		if err != nil || joined.GetMessage() != "x y" {
			t.Errorf("remote=%v client stream: %v %v", remote, joined, err)
		}
		chat, err := client.Chat(ctx)
		var reply *echo.EchoResponse
		if err == nil {
			err = chat.Send(&echo.EchoRequest{Message: "hi"})
		}
		if err == nil {
			reply, err = chat.Recv()
		}
		if err == nil {
			err = chat.CloseSend()
		}
		if err != nil || reply.GetMessage() != "re: hi" {
			t.Errorf("remote=%v bidi: %v %v", remote, reply, err)
		}
		if _, err := chat.Recv(); err != io.EOF {
			t.Errorf("remote=%v bidi end: %v, want EOF", remote, err)
		}
		s.Stop(context.Background())
	}
}

// TestConnPropagatesMetadata checks that x-request-id travels from the
// incoming call to the calls its handler makes through Conn.
func TestConnPropagatesMetadata(t *testing.T) {
	seen := make(chan string, 1)
	backendCfg := goms.DefaultConfig()
	backendCfg.Mode = goms.ModeGRPC
	backend := serveConfig(t, backendCfg, goms.WithUnaryInterceptors(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			if ids := md.Get("x-request-id"); len(ids) > 0 && strings.HasSuffix(info.FullMethod, "/Echo") {
				select {
				case seen <- ids[0]:
				default:
				}
			}
			return h(ctx, req)
		}))
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Serve = []string{nohttp.PingServiceName}
	cfg.Targets = map[string]string{echo.EchoServiceName: backend.GRPCAddr()}
	front := goms.New(cfg)
	nohttp.RegisterPingService(front, forwardingPing{echo: echo.NewEchoServiceClientFrom(front)})
	echo.RegisterEchoService(front, nil)
	if err := front.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer front.Stop(context.Background())
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "req-42")
	if _, err := nohttp.NewPingServiceClient(front.LocalConn()).Ping(ctx, &nohttp.PingRequest{}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-seen:
		if id != "req-42" {
			t.Errorf("backend saw x-request-id %q, want req-42", id)
		}
	default:
		t.Error("backend did not see x-request-id")
	}
}

// forwardingPing answers Ping by calling echo.
type forwardingPing struct {
	nohttp.UnimplementedPingServiceServer
	echo echo.EchoServiceClient
}

func (p forwardingPing) Ping(ctx context.Context, _ *nohttp.PingRequest) (*nohttp.PingResponse, error) {
	_, err := p.echo.Echo(ctx, &echo.EchoRequest{Message: "fwd"})
	return &nohttp.PingResponse{}, err
}

// TestClientInterceptors checks that client interceptors run for calls
// through Conn, co-located and remote, unary and streaming.
func TestClientInterceptors(t *testing.T) {
	backend, _ := startServer(t, goms.ModeGRPC)
	for _, remote := range []bool{false, true} {
		var calls []string
		var mu sync.Mutex
		record := func(kind, method string) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, kind+" "+method)
		}
		opt := goms.WithClientInterceptors(
			[]grpc.UnaryClientInterceptor{func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				record("unary", method)
				return invoker(ctx, method, req, reply, cc, opts...)
			}},
			[]grpc.StreamClientInterceptor{func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				record("stream", method)
				return streamer(ctx, desc, cc, method, opts...)
			}})
		cfg := goms.DefaultConfig()
		cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
		if remote {
			cfg.Serve = []string{nohttp.PingServiceName}
			cfg.Targets = map[string]string{echo.EchoServiceName: backend.GRPCAddr()}
		}
		s := goms.New(cfg, opt)
		nohttp.RegisterPingService(s, &pingServer{})
		echo.RegisterEchoService(s, &echotest.Server{})
		client := echo.NewEchoServiceClientFrom(s)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "x"}); err != nil {
			t.Fatal(err)
		}
		stream, err := client.Expand(context.Background(), &echo.EchoRequest{Message: "a"})
		for err == nil {
			_, err = stream.Recv()
		}
		s.Stop(context.Background())
		want := "unary /fixtures.echo.EchoService/Echo,stream /fixtures.echo.EchoService/Expand"
		if got := strings.Join(calls, ","); got != want {
			t.Errorf("remote=%v: interceptors saw %s, want %s", remote, got, want)
		}
	}
}
