package goms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/goms-io/goms"
	"google.golang.org/grpc"
)

// wsServe serves the echo service in mode (http: a front forwarding to a
// grpc-mode upstream) and counts the stream calls its interceptors see
// (the upstream's, in http mode).
func wsServe(t *testing.T, mode goms.Mode, edit func(*goms.Config)) (*goms.Server, *atomic.Int64) {
	t.Helper()
	var streams atomic.Int64
	count := goms.WithStreamInterceptors(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		streams.Add(1)
		return handler(srv, ss)
	})
	cfg := goms.DefaultConfig()
	cfg.HTTP.MaxBodyBytes = 1024
	if edit != nil {
		edit(&cfg)
	}
	if mode == goms.ModeGateway {
		return serveConfig(t, cfg, count), &streams
	}
	backCfg := goms.DefaultConfig()
	backCfg.Mode = goms.ModeGRPC
	cfg.Mode, cfg.Upstream = goms.ModeHTTP, serveConfig(t, backCfg, count).GRPCAddr()
	return serveConfig(t, cfg), &streams
}

func wsDial(t *testing.T, url string, header http.Header) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial %s: %v (response %v)", url, err, resp)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// wsEnd reads what is left of c: the messages, then the close status and
// reason.
func wsEnd(t *testing.T, c *websocket.Conn) (msgs []string, code websocket.StatusCode, reason string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("reading: %v, want a close frame", err)
			}
			return msgs, ce.Code, ce.Reason
		}
		msgs = append(msgs, string(b))
	}
}

func wsSend(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("sending %q: %v", msg, err)
	}
}

// TestWebSocketStreams drives the echo service's bidi and client streams
// over WebSockets on their own routes, in gateway mode and in http mode:
// 100 messages each answered as it comes, the client's half-close as an
// empty message, close codes from the gRPC status, the per-message limit,
// and the calls through the interceptors.
func TestWebSocketStreams(t *testing.T) {
	for _, mode := range []goms.Mode{goms.ModeGateway, goms.ModeHTTP} {
		t.Run(string(mode), func(t *testing.T) {
			s, streams := wsServe(t, mode, nil)
			base := "ws://" + s.HTTPAddr()

			t.Run("bidi echo of 100 messages", func(t *testing.T) {
				before := streams.Load()
				c := wsDial(t, base+"/v1/chat", nil)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				for i := range 100 {
					// Each answer before the next message: full duplex.
					wsSend(t, c, fmt.Sprintf(`{"message":"m%d"}`, i))
					_, b, err := c.Read(ctx)
					if want := fmt.Sprintf(`{"message":"re: m%d"}`, i); err != nil || string(b) != want {
						t.Fatalf("answer %d: %q %v, want %s", i, b, err, want)
					}
				}
				wsSend(t, c, "")
				msgs, code, reason := wsEnd(t, c)
				if len(msgs) != 0 || code != websocket.StatusNormalClosure {
					t.Errorf("after the half-close: %q, close %d %q; want none, 1000", msgs, code, reason)
				}
				if n := streams.Load() - before; n != 1 {
					t.Errorf("stream interceptor ran %d times, want 1", n)
				}
			})

			t.Run("client stream", func(t *testing.T) {
				c := wsDial(t, base+"/v1/collect", nil)
				for _, m := range []string{"a", "b", "c"} {
					wsSend(t, c, `{"message":"`+m+`"}`)
				}
				wsSend(t, c, "")
				msgs, code, _ := wsEnd(t, c)
				if len(msgs) != 1 || msgs[0] != `{"message":"a b c"}` || code != websocket.StatusNormalClosure {
					t.Errorf("Collect: %q, close %d; want [{\"message\":\"a b c\"}], 1000", msgs, code)
				}
			})

			t.Run("server stream", func(t *testing.T) {
				// Expand's POST route: the stream encoder writes each
				// message's JSON straight to the socket, and the error
				// that ends the stream as its close code.
				c := wsDial(t, base+"/v1/expand", nil)
				wsSend(t, c, `{"message":"one \"two\" details three"}`)
				wsSend(t, c, "")
				msgs, code, reason := wsEnd(t, c)
				want := []string{`{"message":"one"}`, `{"message":"\"two\""}`}
				if fmt.Sprint(msgs) != fmt.Sprint(want) || code != 4009 || reason != "stock too low" {
					t.Errorf("Expand: %q, close %d %q; want %q, 4009 (FAILED_PRECONDITION) \"stock too low\"", msgs, code, reason, want)
				}
				c = wsDial(t, base+"/v1/expand", nil)
				wsSend(t, c, `{"message":"a b"}`)
				wsSend(t, c, "")
				msgs, code, _ = wsEnd(t, c)
				if len(msgs) != 2 || msgs[1] != `{"message":"b"}` || code != websocket.StatusNormalClosure {
					t.Errorf("Expand: %q, close %d; want 2 messages, 1000", msgs, code)
				}
			})

			t.Run("malformed message", func(t *testing.T) {
				c := wsDial(t, base+"/v1/chat", nil)
				wsSend(t, c, `{"message":`)
				_, code, reason := wsEnd(t, c)
				if code != 4003 || reason == "" {
					t.Errorf("malformed message: close %d %q, want 4003 (INVALID_ARGUMENT) with a reason", code, reason)
				}
			})

			t.Run("handler error", func(t *testing.T) {
				// A unary route with a body answers one message too; its
				// error closes with its code.
				c := wsDial(t, base+"/v1/echo", nil)
				wsSend(t, c, `{"message":"details"}`)
				wsSend(t, c, "")
				_, code, reason := wsEnd(t, c)
				if code != 4009 || reason != "stock too low" {
					t.Errorf("handler error: close %d %q, want 4009 (FAILED_PRECONDITION) \"stock too low\"", code, reason)
				}
			})

			t.Run("message over the limit", func(t *testing.T) {
				c := wsDial(t, base+"/v1/chat", nil)
				wsSend(t, c, `{"message":"`+strings.Repeat("x", 2000)+`"}`)
				_, code, _ := wsEnd(t, c)
				if code != websocket.StatusMessageTooBig {
					t.Errorf("2 KB message with http.max_body_bytes 1024: close %d, want 1009", code)
				}
			})
		})
	}
}

// TestWebSocketRefused checks the upgrades the edge refuses, with the
// JSON error body: a path without a route that takes a body, and an
// origin the CORS setting does not allow (allowed once it does).
func TestWebSocketRefused(t *testing.T) {
	s, _ := wsServe(t, goms.ModeGateway, func(c *goms.Config) { c.HTTP.CORSOrigins = []string{"https://*.example.com"} })
	dial := func(path, origin string) (*http.Response, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.Dial(context.Background(), "ws://"+s.HTTPAddr()+path, &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			c.CloseNow()
		}
		return resp, err
	}
	for _, tc := range []struct {
		path, origin string
		want         int // 101: accepted
	}{
		{"/v1/echo/x", "", 404},
		{"/v1/chat", "https://evil.test", 403},
		{"/v1/chat", "https://app.example.com", 101},
		{"/v1/chat", "http://" + s.HTTPAddr(), 101},
	} {
		resp, err := dial(tc.path, tc.origin)
		if resp == nil {
			t.Errorf("%s from %q: %v", tc.path, tc.origin, err)
			continue
		}
		if resp.StatusCode != tc.want {
			t.Errorf("%s from %q: %d, want %d", tc.path, tc.origin, resp.StatusCode, tc.want)
		}
		if tc.want != 101 && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s from %q: Content-Type %q, want the JSON error body", tc.path, tc.origin, resp.Header.Get("Content-Type"))
		}
	}
}
