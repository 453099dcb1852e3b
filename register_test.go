package goms_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/nohttp"
)

// TestGRPCRegistrationWarns: a service registered with grpc-go's
// Register<Service>Server gets no REST routes. When its protos declare
// HTTP routes, start-up says which service lost them and how to fix it;
// it says nothing for a service without HTTP rules, nor for one whose
// configuration keeps it off HTTP.
func TestGRPCRegistrationWarns(t *testing.T) {
	const warning = `level=WARN msg="service registered without its HTTP routes: its google.api.http routes are not served" service=fixtures.echo.EchoService registered_with="RegisterEchoServiceServer (grpc-go)" fix="register it with RegisterEchoService from its .goms.go file, or set services.fixtures.echo.EchoService.http: false"`
	for _, tc := range []struct {
		name    string
		httpOff bool
		want    bool
	}{
		{"http on", false, true},
		{"http off", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncWriter
			cfg := goms.DefaultConfig()
			cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
			if tc.httpOff {
				cfg.Services = map[string]goms.ServiceConfig{echo.EchoServiceName: {GRPC: true, HTTP: false}}
			}
			s := goms.New(cfg, goms.WithLogger(slog.New(slog.NewTextHandler(&out, nil))))
			echo.RegisterEchoServiceServer(s, &echotest.Server{})
			nohttp.RegisterPingServiceServer(s, nohttp.UnimplementedPingServiceServer{})
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			defer s.Stop(ctx)
			logs := out.String()
			if got := strings.Contains(logs, warning); got != tc.want {
				t.Errorf("warning logged: %v, want %v; logs:\n%s", got, tc.want, logs)
			}
			if strings.Count(logs, "without its HTTP routes") > 1 || strings.Contains(logs, "PingService") && strings.Contains(logs, "WARN") {
				t.Errorf("warning for a service without HTTP rules:\n%s", logs)
			}
			// The routes are indeed gone: the gateway answers 404.
			if resp, _ := do(t, "GET", "http://"+s.HTTPAddr()+"/v1/echo/x", "", nil); resp.StatusCode != 404 {
				t.Errorf("GET /v1/echo/x: %d, want 404", resp.StatusCode)
			}
		})
	}
}

// TestInProcessOnly: with WithInProcessOnly, Start opens no port, yet
// LocalConn serves the services through the interceptors, and Stop is
// clean.
func TestInProcessOnly(t *testing.T) {
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = free(), free()
	var out syncWriter
	s := goms.New(cfg, goms.WithInProcessOnly(), goms.WithLogger(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	echo.RegisterEchoService(s, &echotest.Server{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{cfg.GRPC.Addr, cfg.HTTP.Addr} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s is taken: %v", addr, err)
			continue
		}
		l.Close()
	}
	if s.GRPCAddr() != "" || s.HTTPAddr() != "" {
		t.Errorf("GRPCAddr %q, HTTPAddr %q, want none", s.GRPCAddr(), s.HTTPAddr())
	}
	resp, err := echo.NewEchoServiceClient(s.LocalConn()).Echo(context.Background(), &echo.EchoRequest{Message: "local"})
	if err != nil || resp.GetMessage() != "local" {
		t.Fatalf("Echo: %v, %v", resp, err)
	}
	if !strings.Contains(out.String(), "level=DEBUG msg=call grpc.method=/fixtures.echo.EchoService/Echo grpc.code=OK") {
		t.Errorf("the call went around the interceptors; logs:\n%s", &out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}
