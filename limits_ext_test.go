package goms_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/goms-io/goms"
)

// TestHTTPModeForwardsLargeHeaders checks that the default caps fit
// together: a request whose headers are just under http.max_header_bytes
// goes through a front in http mode to its upstream, although the front
// forwards them as metadata with more bytes (grpc.max_header_bytes leaves
// room for that). With both caps at 32 KiB the front's gRPC client
// refused to send it (500).
func TestHTTPModeForwardsLargeHeaders(t *testing.T) {
	backCfg := goms.DefaultConfig()
	backCfg.Mode = goms.ModeGRPC
	back := serveConfig(t, backCfg)
	cfg := goms.DefaultConfig()
	cfg.Mode = goms.ModeHTTP
	cfg.Upstream = back.GRPCAddr()
	front := serveConfig(t, cfg)

	cookie := strings.Repeat("c", cfg.HTTP.MaxHeaderBytes-500)
	resp, body := do(t, "GET", "http://"+front.HTTPAddr()+"/v1/echo/x", "", nil, "Cookie", cookie)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%d bytes of cookie through an http-mode front: %d %s", len(cookie), resp.StatusCode, body)
	}
}
