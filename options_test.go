package goms_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/nohttp"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// metadataSeen records one incoming metadata key of the Echo calls a
// server handles.
func metadataSeen(key string, into chan<- string) goms.Option {
	return goms.WithUnaryInterceptors(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if md, ok := metadata.FromIncomingContext(ctx); ok && strings.HasSuffix(info.FullMethod, "/Echo") {
			select {
			case into <- strings.Join(md.Get(key), ","):
			default:
			}
		}
		return h(ctx, req)
	})
}

// TestWithGatewayOptions passes a grpc-gateway header matcher through and
// checks that the header it admits reaches the handler as metadata.
func TestWithGatewayOptions(t *testing.T) {
	seen := make(chan string, 1)
	matcher := runtime.WithIncomingHeaderMatcher(func(h string) (string, bool) {
		if strings.EqualFold(h, "X-Tenant") {
			return "x-tenant", true
		}
		return runtime.DefaultHeaderMatcher(h)
	})
	s := serveConfig(t, goms.DefaultConfig(), goms.WithGatewayOptions(matcher), metadataSeen("x-tenant", seen))
	if resp, _ := do(t, "GET", "http://"+s.HTTPAddr()+"/v1/echo/x", "", nil, "X-Tenant", "acme"); resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	if got := receive(t, seen); got != "acme" {
		t.Errorf("handler saw x-tenant %q, want acme", got)
	}
}

// TestWithDialOptions checks that dial options reach the connections the
// server makes to other services.
func TestWithDialOptions(t *testing.T) {
	seen := make(chan string, 1)
	backendCfg := goms.DefaultConfig()
	backendCfg.Mode = goms.ModeGRPC
	backend := serveConfig(t, backendCfg, metadataSeen("user-agent", seen))
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Serve = []string{nohttp.PingServiceName}
	cfg.Targets = map[string]string{echo.EchoServiceName: backend.GRPCAddr()}
	front := goms.New(cfg, goms.WithDialOptions(grpc.WithUserAgent("goms-test-agent")))
	nohttp.RegisterPingService(front, &pingServer{})
	client := echo.NewEchoServiceClientFrom(front)
	if err := front.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer front.Stop(context.Background())
	if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, seen); !strings.HasPrefix(got, "goms-test-agent") {
		t.Errorf("backend saw user-agent %q, want it to start with goms-test-agent", got)
	}
}

// receive waits for a value on ch, failing the test after 5 s.
func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing seen within 5s")
		return ""
	}
}
