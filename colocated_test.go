package goms_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
)

// plainEcho answers Echo with the request's message and nothing else, so
// that a call's allocations are GoMs's, grpc-go's generated code's and one
// response.
type plainEcho struct {
	echo.UnimplementedEchoServiceServer
}

func (plainEcho) Echo(_ context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	return &echo.EchoResponse{Message: req.GetMessage()}, nil
}

// TestLocalCallAllocations pins what a co-located unary call allocates with
// the defaults (client and server metrics, the call log, panic recovery):
// 7 values, of which 5 are protoc-gen-go-grpc's generated code's (the
// request, the reply, the call options, the UnaryServerInfo and the
// handler closure), 1 the service's response, and 1 the in-process
// connection's (the call's state, with the handler's context). It was 10
// before the telemetry ran the rest of the interceptor chain itself, the
// unary context answered grpc-go's ServerTransportStream key and the
// handlers' dec functions were pooled.
func TestLocalCallAllocations(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg, goms.WithLogger(slog.New(slog.DiscardHandler)))
	echo.RegisterEchoService(s, plainEcho{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	client := echo.NewEchoServiceClient(s.LocalConn())
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	req := &echo.EchoRequest{Message: "hello"}
	allocs := testing.AllocsPerRun(200, func() {
		resp, err := client.Echo(ctx, req)
		if err != nil || resp.GetMessage() != "hello" {
			t.Fatalf("Echo: %v, %v", resp, err)
		}
	})
	if allocs > 7 {
		t.Errorf("a co-located call allocates %v values, want at most 7", allocs)
	}
}
