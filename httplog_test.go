package goms_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
)

// TestHTTPRequestLog: every HTTP request gets one log line, in gateway
// mode and in http mode, requests no route matches included; a long path
// is cut.
func TestHTTPRequestLog(t *testing.T) {
	backendCfg := goms.DefaultConfig()
	backendCfg.Mode = goms.ModeGRPC
	backend := echotest.Serve(t, backendCfg, goms.WithLogger(discardLogger()))
	for _, mode := range []goms.Mode{goms.ModeGateway, goms.ModeHTTP} {
		t.Run(string(mode), func(t *testing.T) {
			var out syncWriter
			logger := goms.WithLogger(slog.New(slog.NewTextHandler(&out, nil)))
			var s *goms.Server
			if mode == goms.ModeGateway {
				s = echotest.Serve(t, goms.DefaultConfig(), logger)
			} else {
				cfg := goms.DefaultConfig()
				cfg.Mode, cfg.HTTP.Addr, cfg.Upstream = goms.ModeHTTP, "127.0.0.1:0", backend.GRPCAddr()
				s = goms.New(cfg, logger)
				echo.RegisterEchoService(s, nil)
				if err := s.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					s.Stop(ctx)
				}()
			}
			base := "http://" + s.HTTPAddr()
			do(t, "GET", base+"/v1/echo/logged", "", nil)
			do(t, "GET", base+"/v1/nowhere", "", nil)
			do(t, "GET", base+"/v1/"+strings.Repeat("a", 1000), "", nil)
			// A request's line is written once its handler has returned,
			// which may be after the client has read the answer.
			for deadline := time.Now().Add(10 * time.Second); strings.Count(out.String(), "msg=http ") < 3 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			logs := out.String()
			for _, want := range []string{
				`level=INFO msg=http http.method=GET http.path=/v1/echo/logged http.status=200 duration=`,
				`level=INFO msg=http http.method=GET http.path=/v1/nowhere http.status=404 duration=`,
				`http.path=/v1/` + strings.Repeat("a", 252) + `… http.status=404`,
			} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
		})
	}
}
