package connect_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/test/connect/gen/fixtures/echo/echoconnect"
)

// connectEcho is the echo service for connect-go's own handler.
type connectEcho struct {
	echoconnect.UnimplementedEchoServiceHandler
}

func (connectEcho) Echo(_ context.Context, req *connect.Request[echo.EchoRequest]) (*connect.Response[echo.EchoResponse], error) {
	return connect.NewResponse(&echo.EchoResponse{Message: req.Msg.GetMessage()}), nil
}

// startConnectGo serves the echo service with connect-go's generated
// handler, its defaults but compression (off, as GoMs never compresses an
// answer), on a net/http server, and returns its base URL.
func startConnectGo(b *testing.B) string {
	b.Helper()
	path, h := echoconnect.NewEchoServiceHandler(connectEcho{}, connect.WithCompression("gzip", nil, nil))
	mux := http.NewServeMux()
	mux.Handle(path, h)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lis)
	b.Cleanup(func() { srv.Close() })
	return "http://" + lis.Addr().String()
}

// BenchmarkConnectJSONUnary is a Connect-JSON unary call (a 100-byte
// message), from connect-go's generated client over HTTP/1.1, to GoMs
// (gateway mode, defaults: metrics, call log, recovery; the in-process
// connection) and to connect-go's own handler (no interceptors).
// scripts/instructions.sh-style counts: see BENCHMARKS.md.
func BenchmarkConnectJSONUnary(b *testing.B) {
	msg := strings.Repeat("x", 100)
	for _, impl := range []string{"connect-go", "goms"} {
		b.Run("impl="+impl, func(b *testing.B) {
			var base string
			if impl == "goms" {
				cfg := goms.DefaultConfig()
				base = "http://" + echotest.Serve(b, cfg, quiet()).HTTPAddr()
			} else {
				base = startConnectGo(b)
			}
			tr := &http.Transport{MaxIdleConnsPerHost: 4}
			b.Cleanup(tr.CloseIdleConnections)
			client := echoconnect.NewEchoServiceClient(&http.Client{Transport: tr}, base, connect.WithProtoJSON())
			ctx := context.Background()
			req := &echo.EchoRequest{Message: msg}
			if _, err := client.Echo(ctx, connect.NewRequest(req)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := client.Echo(ctx, connect.NewRequest(req)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
