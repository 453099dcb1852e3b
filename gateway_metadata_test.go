package goms_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"google.golang.org/grpc/metadata"
)

// mdEcho records the incoming metadata of its EchoBody calls.
type mdEcho struct {
	*echotest.Server
	got chan metadata.MD
}

func (s *mdEcho) EchoBody(ctx context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.got <- md
	return s.Server.EchoBody(ctx, req)
}

// TestGatewayUnaryMetadata checks the metadata an implementation gets
// from an HTTP call's headers in gateway mode, where the edge's own unary
// handler has grpc-gateway's AnnotateContext build it on first lookup
// (gateway.HandleUnary): the same keys and values grpc-gateway gives
// (Authorization as is, permanent headers as grpcgateway-<key>,
// X-Forwarded-For and -Host, no other header), also on the path of
// requests with a Grpc-Timeout, and a malformed Grpc-Timeout refused
// with 400 as before.
func TestGatewayUnaryMetadata(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.Mode, cfg.GRPC.Addr, cfg.HTTP.Addr = goms.ModeGateway, "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg)
	impl := &mdEcho{Server: &echotest.Server{}, got: make(chan metadata.MD, 1)}
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
	waitServing(t, s, goms.ModeGateway)
	host := s.HTTPAddr()

	post := func(headers map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+host+"/v1/echo", strings.NewReader(`{"message":"m"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "metadata-test")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	check := func(name string, md metadata.MD, want map[string]string) {
		t.Helper()
		if got := md.Get("x-custom"); got != nil {
			t.Errorf("%s: metadata x-custom = %q, want none (not a permanent header)", name, got)
		}
		for k, v := range want {
			if got := md.Get(k); !slices.Equal(got, []string{v}) {
				t.Errorf("%s: metadata %q = %q, want [%q] (keys: %v)", name, k, got, v, slices.Sorted(maps.Keys(md)))
			}
		}
	}

	code, body := post(map[string]string{
		"Authorization":   "Bearer tok",
		"X-Custom":        "not forwarded",
		"X-Forwarded-For": "10.0.0.1",
	})
	if code != http.StatusOK || body != `{"message":"m"}` {
		t.Fatalf("POST /v1/echo = %d %s", code, body)
	}
	check("plain headers", <-impl.got, map[string]string{
		"authorization":             "Bearer tok",
		"grpcgateway-authorization": "Bearer tok",
		"grpcgateway-user-agent":    "metadata-test",
		"x-forwarded-for":           "10.0.0.1, 127.0.0.1",
		"x-forwarded-host":          host,
	})

	// A Grpc-Timeout takes grpc-gateway's own path, which reads it
	// before the call.
	if code, body = post(map[string]string{"Grpc-Timeout": "10S", "X-Custom": "x"}); code != http.StatusOK {
		t.Fatalf("POST /v1/echo with a Grpc-Timeout = %d %s", code, body)
	}
	check("Grpc-Timeout", <-impl.got, map[string]string{"grpcgateway-user-agent": "metadata-test", "x-forwarded-host": host})

	if code, body = post(map[string]string{"Grpc-Timeout": "soon"}); code != http.StatusBadRequest || !strings.Contains(body, "invalid grpc-timeout") {
		t.Errorf("POST /v1/echo with a malformed Grpc-Timeout = %d %s, want 400 invalid grpc-timeout", code, body)
	}
}
