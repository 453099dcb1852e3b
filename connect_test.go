package goms_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/examples/shop"
	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/nohttp"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/protobuf/proto"
)

// The Connect protocol and gRPC-Web on the HTTP port, spoken by hand
// for what connect-go's client never sends (malformed requests, GET with
// base64, grpc-web-text, compressed bodies); test/connect calls them
// with connect-go's generated clients and buf curl.

// connectPost sends a Connect or gRPC-Web POST and returns the status,
// headers and body.
func connectPost(t *testing.T, url, contentType string, body []byte, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// connectErr decodes Connect's error body.
func connectErr(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var e struct{ Code, Message string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not Connect's JSON error body: %q", body)
	}
	return e.Code, e.Message
}

func envelope(flags byte, payload []byte) []byte {
	b := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// frames splits a body of envelopes.
func frames(t *testing.T, b []byte) (flags []byte, payloads [][]byte) {
	t.Helper()
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("truncated envelope: %q", b)
		}
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if len(b) < 5+n {
			t.Fatalf("truncated envelope: %q", b)
		}
		flags = append(flags, b[0])
		payloads = append(payloads, b[5:5+n])
		b = b[5+n:]
	}
	return flags, payloads
}

func TestConnectHTTPUnary(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.HTTP.MaxBodyBytes = 1 << 10
	cfg.GRPC.MaxRecvBytes = 512
	base := "http://" + echotest.Serve(t, cfg, goms.WithLogger(discardLogger())).HTTPAddr() + "/fixtures.echo.EchoService/"

	st, hd, body := connectPost(t, base+"Echo", "application/json", []byte(`{"message":"hi"}`))
	if st != 200 || hd.Get("Content-Type") != "application/json" || testutil.CompactJSON(string(body)) != `{"message":"hi"}` {
		t.Errorf("Echo: %d %s %s", st, hd.Get("Content-Type"), body)
	}

	// Headers become metadata; a header name gRPC does not allow as a key
	// is left out.
	_, _, body = connectPost(t, base+"Echo", "application/json", []byte(`{"message":"last-event-id"}`), "Last-Event-Id: 7", "X-Odd!Name: 1")
	if !strings.Contains(string(body), "last-event-id=7") {
		t.Errorf("header as metadata: %s", body)
	}

	// A gzip-compressed request.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(`{"message":"zipped"}`))
	zw.Close()
	st, _, body = connectPost(t, base+"Echo", "application/json", z.Bytes(), "Content-Encoding: gzip")
	if st != 200 || !strings.Contains(string(body), "zipped") {
		t.Errorf("gzip request: %d %s", st, body)
	}

	// Connect-Timeout-Ms is the call's deadline.
	st, _, body = connectPost(t, base+"Echo", "application/json", []byte(`{"message":"slow","delayMs":60000}`), "Connect-Timeout-Ms: 20")
	if code, _ := connectErr(t, body); st != 504 || code != "deadline_exceeded" {
		t.Errorf("Connect-Timeout-Ms: %d %s", st, body)
	}

	for _, tc := range []struct {
		name, ct, body string
		headers        []string
		status         int
		code           string
	}{
		{"malformed JSON", "application/json", `{"message":`, nil, 400, "invalid_argument"},
		{"unknown field", "application/json", `{"nope":1}`, nil, 400, "invalid_argument"},
		{"malformed proto", "application/proto", "\xff\xff", nil, 400, "invalid_argument"},
		{"body over http.max_body_bytes", "application/json", `{"message":"` + strings.Repeat("x", 2<<10) + `"}`, nil, 429, "resource_exhausted"},
		{"message over grpc.max_recv_bytes", "application/json", `{"message":"` + strings.Repeat("x", 700) + `"}`, nil, 429, "resource_exhausted"},
		{"unknown compression", "application/json", `{}`, []string{"Content-Encoding: br"}, 501, "unimplemented"},
		{"bad gzip", "application/json", `{}`, []string{"Content-Encoding: gzip"}, 400, "invalid_argument"},
		{"bad timeout", "application/json", `{}`, []string{"Connect-Timeout-Ms: soon"}, 400, "invalid_argument"},
		{"protocol version", "application/json", `{}`, []string{"Connect-Protocol-Version: 2"}, 400, "invalid_argument"},
		{"details", "application/json", `{"message":"details"}`, nil, 400, "failed_precondition"},
		{"panic", "application/json", `{"message":"panic"}`, nil, 500, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, hd, body := connectPost(t, base+"Echo", tc.ct, []byte(tc.body), tc.headers...)
			code, _ := connectErr(t, body)
			if st != tc.status || code != tc.code || hd.Get("Content-Type") != "application/json" {
				t.Errorf("%d %s %s, want %d %s", st, hd.Get("Content-Type"), body, tc.status, tc.code)
			}
		})
	}
	// The details travel as Connect's details.
	_, _, body = connectPost(t, base+"Echo", "application/json", []byte(`{"message":"details"}`))
	if !strings.Contains(string(body), `"type":"google.rpc.ErrorInfo"`) || !strings.Contains(string(body), `"reason":"STOCK_LOW"`) {
		t.Errorf("details: %s", body)
	}

	// Streams are enveloped: one without its envelopes fails as a stream
	// (its first bytes read as a length over the limit).
	st, _, body = connectPost(t, base+"Expand", "application/connect+json", []byte(`{"message":"a b"}`))
	fl, ps := frames(t, body)
	if st != 200 || len(fl) != 1 || fl[0] != 2 || !strings.Contains(string(ps[0]), `"resource_exhausted"`) {
		t.Errorf("unenveloped stream: %d %q", st, body)
	}
	// A message cut short.
	st, _, body = connectPost(t, base+"Collect", "application/connect+json", envelope(0, []byte(`{"message":"a"}`))[:8])
	fl, ps = frames(t, body)
	if st != 200 || len(fl) != 1 || fl[0] != 2 || !strings.Contains(string(ps[0]), `"invalid_argument"`) {
		t.Errorf("truncated stream message: %d %q", st, body)
	}
	// A server stream, and its end.
	st, hd, body = connectPost(t, base+"Expand", "application/connect+json", envelope(0, []byte(`{"message":"a b"}`)))
	fl, ps = frames(t, body)
	if st != 200 || hd.Get("Content-Type") != "application/connect+json" || len(fl) != 3 ||
		string(ps[1]) != `{"message":"b"}` || fl[2] != 2 || string(ps[2]) != `{}` {
		t.Errorf("Expand: %d %s %q", st, hd.Get("Content-Type"), body)
	}

	// The server is still up.
	if st, _, _ := connectPost(t, base+"Echo", "application/json", []byte(`{"message":"hi"}`)); st != 200 {
		t.Errorf("after bad requests: %d", st)
	}
}

func TestGRPCWebText(t *testing.T) {
	base := "http://" + echotest.Serve(t, goms.DefaultConfig(), goms.WithLogger(discardLogger())).HTTPAddr() + "/fixtures.echo.EchoService/"
	for _, tc := range []struct{ message, status string }{{"hi", "grpc-status: 0"}, {"details", "grpc-status: 9"}} {
		req, _ := proto.Marshal(&echo.EchoRequest{Message: tc.message})
		st, hd, body := connectPost(t, base+"Echo", "application/grpc-web-text", []byte(base64.StdEncoding.EncodeToString(envelope(0, req))))
		if st != 200 || hd.Get("Content-Type") != "application/grpc-web-text+proto" {
			t.Fatalf("%d %s", st, hd.Get("Content-Type"))
		}
		// Each frame is base64 of its own, padded: decoded 4 characters
		// at a time, as grpc-web's clients do.
		var raw []byte
		if len(body)%4 != 0 {
			t.Fatalf("base64 body of %d characters", len(body))
		}
		for i := 0; i < len(body); i += 4 {
			b, err := base64.StdEncoding.DecodeString(string(body[i : i+4]))
			if err != nil {
				t.Fatalf("%v: %q", err, body)
			}
			raw = append(raw, b...)
		}
		fl, ps := frames(t, raw)
		last := len(fl) - 1
		if fl[last] != 0x80 || !strings.Contains(string(ps[last]), tc.status+"\r\n") {
			t.Errorf("%s: trailers %q", tc.message, ps[last])
		}
		if tc.message == "hi" {
			var resp echo.EchoResponse
			if len(fl) != 2 || proto.Unmarshal(ps[0], &resp) != nil || resp.GetMessage() != "hi" {
				t.Errorf("hi: %q", raw)
			}
		} else if !strings.Contains(string(ps[last]), "grpc-status-details-bin: ") {
			t.Errorf("details: no grpc-status-details-bin in %q", ps[last])
		}
	}
}

// TestConnectGetBase64 calls a NO_SIDE_EFFECTS method of the example with
// GET, the message binary and base64-encoded, and checks that a method
// with side effects gets no GET.
func TestConnectGetBase64(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg, goms.WithLogger(discardLogger()))
	shop.Register(s)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	msg, _ := proto.Marshal(&catalogv1.GetProductRequest{Id: "tea"})
	u := "http://" + s.HTTPAddr() + "/shop.catalog.v1.CatalogService/GetProduct?connect=v1&encoding=proto&base64=1&message=" +
		base64.RawURLEncoding.EncodeToString(msg)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got catalogv1.GetProductResponse
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/proto" || proto.Unmarshal(body, &got) != nil || got.GetProduct().GetId() != "tea" {
		t.Errorf("GET proto: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, err = http.Get("http://" + s.HTTPAddr() + "/shop.catalog.v1.CatalogService/GetProduct?connect=v1&encoding=json&message=" + url.QueryEscape(`{"id":"caviar"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if code, _ := connectErr(t, body); resp.StatusCode != 404 || code != "not_found" {
		t.Errorf("GET missing: %d %s", resp.StatusCode, body)
	}
	// CreateOrder has side effects: no GET (REST has no such route).
	resp, err = http.Get("http://" + s.HTTPAddr() + "/shop.orders.v1.OrderService/CreateOrder?connect=v1&encoding=json&message=%7B%7D")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET of a method with side effects: %d, want 404", resp.StatusCode)
	}
}

// TestConnectUpstreamDown checks that in http mode a Connect call to an
// upstream that does not answer gets UNAVAILABLE without the address, and
// so does a REST call. Echo is NO_SIDE_EFFECTS, so grpc-go retries it and
// wraps its last error ("max retries exhausted: …"), which must be
// recognised as the connection's error all the same.
func TestConnectUpstreamDown(t *testing.T) {
	cfg := goms.DefaultConfig()
	addr := testutil.FreeAddr(t)
	cfg.Mode, cfg.HTTP.Addr, cfg.Upstream = goms.ModeHTTP, "127.0.0.1:0", addr
	s := goms.New(cfg, goms.WithLogger(discardLogger()))
	echo.RegisterEchoService(s, nil)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	for _, ct := range []string{"application/json", "application/connect+json", "application/grpc-web+json"} {
		path, body := "Echo", []byte(`{"message":"hi"}`)
		if ct != "application/json" {
			path, body = "Expand", envelope(0, body)
		}
		st, _, out := connectPost(t, "http://"+s.HTTPAddr()+"/fixtures.echo.EchoService/"+path, ct, body)
		_, port, _ := strings.Cut(addr, ":")
		if !strings.Contains(string(out), "unavailable") && !strings.Contains(string(out), "grpc-status: 14") || strings.Contains(string(out), port) {
			t.Errorf("%s: %d %q", ct, st, out)
		}
	}
	resp, err := http.Get("http://" + s.HTTPAddr() + "/v1/echo/hi")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, port, _ := strings.Cut(addr, ":"); resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(out), port) {
		t.Errorf("REST: %d %q, want 503 without the upstream's address", resp.StatusCode, out)
	}
}

// TestConnectStreamEndsFirst ends a bidi stream (its deadline) while the
// client still holds its request body open, over HTTP/1.1 (full duplex):
// the answer to the first message comes before the end, and the end
// carries the deadline.
func TestConnectStreamEndsFirst(t *testing.T) {
	base := "http://" + echotest.Serve(t, goms.DefaultConfig(), goms.WithLogger(discardLogger())).HTTPAddr() + "/fixtures.echo.EchoService/"
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, base+"Chat", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/connect+json")
	req.Header.Set("Connect-Timeout-Ms", "200")
	go pw.Write(envelope(0, []byte(`{"message":"one"}`)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	fl, ps := frames(t, body)
	if len(fl) != 2 || string(ps[0]) != `{"message":"re: one"}` || fl[1] != 2 || !strings.Contains(string(ps[1]), "deadline_exceeded") {
		t.Errorf("Chat past its deadline: %q", body)
	}
}

// TestConnectWithoutHTTPRules calls a hosted service that has no
// google.api.http rules, so no REST routes: Connect serves it anyway.
func TestConnectWithoutHTTPRules(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg, goms.WithLogger(discardLogger()))
	nohttp.RegisterPingService(s, &pingServer{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	// pingServer leaves Ping unimplemented: the answer is the service's.
	st, _, body := connectPost(t, "http://"+s.HTTPAddr()+"/fixtures.nohttp.PingService/Ping", "application/json", []byte(`{}`))
	if code, msg := connectErr(t, body); st != 501 || code != "unimplemented" || !strings.Contains(msg, "Ping not implemented") {
		t.Errorf("Ping: %d %s", st, body)
	}
}
