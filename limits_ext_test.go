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

// TestHTTPMessageLimits checks that a call over HTTP obeys
// grpc.max_recv_bytes and grpc.max_send_bytes as the same call over gRPC
// does (RESOURCE_EXHAUSTED, HTTP 429), in every kind of call that has a
// route: in gateway mode the call is in-process, where nothing is
// serialized, so only the gateway's own check holds it. In http mode the
// front holds calls to its own limits too.
func TestHTTPMessageLimits(t *testing.T) {
	big := strings.Repeat("x", 200)
	const received, sent = "received message larger than max", "trying to send message larger than max"
	for _, mode := range []goms.Mode{goms.ModeGateway, goms.ModeHTTP} {
		for _, tc := range []struct {
			name             string
			maxRecv, maxSend int
			method, path     string
			body             string
			wantStatus       int
			want             string // in the body
		}{
			{"unary request", 100, 0, "POST", "/v1/echo", `{"message":"` + big + `"}`, 429, received},
			{"unary response", 0, 100, "GET", "/v1/echo/" + big, "", 429, sent},
			{"unary under both", 300, 300, "GET", "/v1/echo/" + big, "", 200, big},
			{"client stream request", 100, 0, "POST", "/v1/collect", `{"message":"a"}{"message":"` + big + `"}`, 429, received},
			{"server stream response", 0, 100, "GET", "/v1/expand/a%20" + big, "", 200, `{"result":{"message":"a"}}` + "\n" + `{"code":8,"message":"grpc: ` + sent},
			{"bidi request", 100, 0, "POST", "/v1/chat", `{"message":"` + big + `"}`, 429, received},
			{"server stream response, SSE", 0, 100, "GET", "/v1/expand/a%20" + big, "", 200, "event: error\ndata: {\"code\":8,"},
		} {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				cfg := goms.DefaultConfig()
				if tc.maxRecv > 0 {
					cfg.GRPC.MaxRecvBytes = tc.maxRecv
				}
				if tc.maxSend > 0 {
					cfg.GRPC.MaxSendBytes = tc.maxSend
				}
				if mode == goms.ModeHTTP {
					// The upstream has the defaults: only the front's own
					// limits refuse.
					backCfg := goms.DefaultConfig()
					backCfg.Mode = goms.ModeGRPC
					cfg.Mode, cfg.Upstream = goms.ModeHTTP, serveConfig(t, backCfg).GRPCAddr()
				}
				s := serveConfig(t, cfg)
				var body *strings.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				var resp *http.Response
				var got string
				switch {
				case body != nil:
					resp, got = do(t, tc.method, "http://"+s.HTTPAddr()+tc.path, "application/json", body)
				case strings.HasSuffix(tc.name, "SSE"):
					resp, got = do(t, tc.method, "http://"+s.HTTPAddr()+tc.path, "", nil, "Accept", "text/event-stream")
				default:
					resp, got = do(t, tc.method, "http://"+s.HTTPAddr()+tc.path, "", nil)
				}
				if resp.StatusCode != tc.wantStatus || !strings.Contains(got, tc.want) {
					t.Errorf("%s %s: %d %.300s, want %d with %q", tc.method, tc.path, resp.StatusCode, got, tc.wantStatus, tc.want)
				}
				if tc.wantStatus == 429 && !strings.HasPrefix(got, `{"code":8,`) {
					t.Errorf("%s %s: %.300s, want RESOURCE_EXHAUSTED's JSON error body", tc.method, tc.path, got)
				}
			})
		}
	}
}

// TestHTTPModeUpstreamHeaderLimit checks the answer of an http-mode front
// whose upstream accepts less metadata than the front accepts headers:
// 431 with the JSON error body, as for the front's own limit, and no
// detail of the upstream. (grpc-go's client refuses to send the call with
// INTERNAL, which was a 500.)
func TestHTTPModeUpstreamHeaderLimit(t *testing.T) {
	backCfg := goms.DefaultConfig()
	backCfg.Mode = goms.ModeGRPC
	backCfg.GRPC.MaxHeaderBytes = 8 << 10
	back := serveConfig(t, backCfg)
	cfg := goms.DefaultConfig()
	cfg.Mode = goms.ModeHTTP
	cfg.Upstream = back.GRPCAddr()
	front := serveConfig(t, cfg)

	cookie := strings.Repeat("c", 16<<10)
	for _, path := range []string{"/v1/echo/x", "/v1/expand/x"} {
		resp, body := do(t, "GET", "http://"+front.HTTPAddr()+path, "", nil, "Cookie", cookie)
		want := `{"code":8,"message":"request headers larger than the service accepts","details":[]}`
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || strings.TrimSpace(body) != want {
			t.Errorf("GET %s with %d bytes of cookie: %d %s, want 431 %s", path, len(cookie), resp.StatusCode, body, want)
		}
	}
}
