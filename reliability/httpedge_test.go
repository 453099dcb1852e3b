package reliability

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms/internal/fixtures/echotest"
)

// form is a raw form POST to path with extra header lines.
func form(path, body string, header ...string) []byte {
	return []byte("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		strings.Join(header, "") + "Content-Length: " + itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
}

// TestNoMethodOverride: grpc-gateway's X-HTTP-Method-Override on form
// POSTs and its POST-to-GET path-length fallback are off, so a form POST
// never runs a GET (or any other) route's handler (issue 14, finding 6).
func TestNoMethodOverride(t *testing.T) {
	s := serve(t, configWithFreePorts(badInputConfig()), nil)
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"override to GET", form("/v1/echo/a", "", "X-HTTP-Method-Override: GET\r\n")},
		{"override to DELETE", form("/v1/echo/a", "", "X-HTTP-Method-Override: DELETE\r\n")},
		{"form POST to a GET route", form("/v1/echo/a", "message=b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawHTTP(t, s.HTTPAddr(), tc.req, false)
			if got.status < 400 || got.status >= 500 || !isErrorBody(got.body) {
				t.Errorf("got %d %s, want 4xx with the JSON error body (the GET handler must not run)", got.status, got.body)
			}
		})
	}
	if got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/alive"), false); got.status != 200 {
		t.Fatalf("server after the requests: %+v", got)
	}
}

// TestJSONBodiesOnly: a request body is read only when its Content-Type
// declares JSON (application/json, application/*+json, with parameters);
// any other, or none, gets 415 with the JSON error body, and the service
// is not called. Form, text/plain and untyped bodies are what a page on
// another site can POST without a CORS preflight (issue 14, finding 12).
// Requests without a body are unaffected.
func TestJSONBodiesOnly(t *testing.T) {
	impl := &echotest.Server{}
	s := serve(t, configWithFreePorts(badInputConfig()), impl)
	const msg = `{"message":"a"}`
	refused := errorBody(3, "request body must be JSON: Content-Type application/json")
	for _, tc := range []struct {
		name   string
		req    []byte
		status int
		body   string
	}{
		{"application/json", post("/v1/echo", "application/json", msg), 200, msg},
		{"charset parameter", post("/v1/echo", "application/json; charset=utf-8", msg), 200, msg},
		{"upper case", post("/v1/echo", "Application/JSON", msg), 200, msg},
		{"+json suffix", post("/v1/echo", "application/merge-patch+json", msg), 200, msg},
		{"text/plain", post("/v1/echo", "text/plain", msg), 415, refused},
		{"text/plain with charset", post("/v1/echo", "text/plain;charset=UTF-8", msg), 415, refused},
		{"form", post("/v1/echo", "application/x-www-form-urlencoded", msg), 415, refused},
		{"multipart", post("/v1/echo", "multipart/form-data; boundary=x", "--x\r\n\r\n"+msg+"\r\n--x--\r\n"), 415, refused},
		{"text/json", post("/v1/echo", "text/json", msg), 415, refused},
		{"bare +json", post("/v1/echo", "application/+json", msg), 415, refused},
		{"malformed", post("/v1/echo", "application/json;;", msg), 415, refused},
		{"no Content-Type", []byte("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\nConnection: close\r\n\r\n" + msg), 415, refused},
		{"no Content-Type, chunked", []byte("POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nf\r\n" + msg + "\r\n0\r\n\r\n"), 415, refused},
		{"form, empty body", post("/v1/echo", "application/x-www-form-urlencoded", ""), 200, `{"message":""}`},
		{"GET without Content-Type", get("/v1/echo/a"), 200, msg},
		{"DELETE without a body", []byte("DELETE /v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 405, errorBody(12, "Method Not Allowed")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := impl.Calls()
			got := rawHTTP(t, s.HTTPAddr(), tc.req, false)
			if got.status != tc.status || got.body != tc.body {
				t.Errorf("got %d %s\nwant %d %s", got.status, got.body, tc.status, tc.body)
			}
			if tc.status == 415 && impl.Calls() != before {
				t.Error("the service was called")
			}
		})
	}
	if got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/alive"), false); got.status != 200 {
		t.Fatalf("server after the requests: %+v", got)
	}
}

// TestEscapedSlashNotSeparator: routes match the path as it came
// (r.URL.RawPath), so an escaped slash or letter in a route's literal
// segments matches no route, as it would not match a proxy's rule on the
// raw path (issue 14, finding 6); in a path parameter, escapes are
// decoded and %2F stays within the one parameter.
func TestEscapedSlashNotSeparator(t *testing.T) {
	impl := &echotest.Server{}
	s := serve(t, configWithFreePorts(badInputConfig()), impl)
	notFound := errorBody(5, "Not Found")
	for _, tc := range []struct {
		name   string
		req    []byte
		status int
		body   string
	}{
		{"escaped slash between literals (POST)", post("/v1%2Fecho", jsonCT, `{"message":"a"}`), 404, notFound},
		{"escaped slash, lower case", post("/v1%2fecho", jsonCT, `{"message":"a"}`), 404, notFound},
		{"escaped slashes throughout", get("/v1%2Fecho%2Fa"), 404, notFound},
		{"escaped letter in a literal", get("/%761/echo/a"), 404, notFound},
		{"escaped slash in a parameter", get("/v1/echo/a%2Fb"), 200, `{"message":"a/b"}`},
		{"escaped letter in a parameter", get("/v1/echo/%61"), 200, `{"message":"a"}`},
		{"escaped percent in a parameter", get("/v1/echo/a%252Fb"), 200, `{"message":"a%2Fb"}`},
		{"plain path", get("/v1/echo/a"), 200, `{"message":"a"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := impl.Calls()
			got := rawHTTP(t, s.HTTPAddr(), tc.req, false)
			if got.status != tc.status || got.body != tc.body {
				t.Errorf("got %d %s\nwant %d %s", got.status, got.body, tc.status, tc.body)
			}
			if tc.status == 404 && impl.Calls() != before {
				t.Error("the service was called")
			}
		})
	}
}

// TestMethods: a 405 carries Allow with the methods the path has; HEAD on
// a GET route answers as GET without the body; OPTIONS on a path with
// routes answers 204 with Allow, 404 on one without; the admin endpoints
// take GET and HEAD only (issue 14, finding 10).
func TestMethods(t *testing.T) {
	s := serve(t, configWithFreePorts(badInputConfig()), nil)
	base := "http://" + s.HTTPAddr()
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if body != "" {
			req.Header.Set("Content-Type", jsonCT)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, compactJSON(string(data))
	}
	const getRoute, postRoute, admin = "GET, HEAD, OPTIONS", "POST, OPTIONS", "GET, HEAD"
	for _, tc := range []struct {
		method, path, body string
		status             int
		allow              string
	}{
		{"DELETE", "/v1/echo", "", 405, postRoute},
		{"GET", "/v1/echo", "", 405, postRoute},
		{"HEAD", "/v1/echo", "", 405, postRoute},
		{"POST", "/v1/echo/a", `{}`, 405, getRoute},
		{"PUT", "/v1/echo/a", `{}`, 405, getRoute},
		{"OPTIONS", "/v1/echo/a", "", 204, getRoute},
		{"OPTIONS", "/v1/echo", "", 204, postRoute},
		{"OPTIONS", "/v1/nowhere", "", 404, ""},
		{"POST", "/healthz", `{}`, 405, admin},
		{"DELETE", "/readyz", "", 405, admin},
		{"PUT", "/metrics", `{}`, 405, admin},
		{"OPTIONS", "/healthz", "", 405, admin},
	} {
		resp, body := do(tc.method, tc.path, tc.body)
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want %d, Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.status, tc.allow)
		}
		if tc.status >= 400 && tc.method != "HEAD" && !isErrorBody(body) {
			t.Errorf("%s %s: body %.200q, want the JSON error body", tc.method, tc.path, body)
		}
	}
	for _, path := range []string{"/v1/echo/a", "/healthz", "/readyz", "/metrics"} {
		get, getBody := do("GET", path, "")
		head, headBody := do("HEAD", path, "")
		if head.StatusCode != get.StatusCode || head.StatusCode != 200 || headBody != "" ||
			head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q %q; GET: %d %q %q", path, head.StatusCode, head.Header.Get("Content-Type"), headBody,
				get.StatusCode, get.Header.Get("Content-Type"), getBody)
		}
		if path == "/v1/echo/a" && head.ContentLength != int64(len(`{"message":"a"}`)) {
			t.Errorf("HEAD %s: Content-Length %d, want GET's", path, head.ContentLength)
		}
	}
}

// TestSlowBody408: a body that does not arrive within http.read_timeout
// gets 408 with the JSON error body naming the condition, not 400 with
// the connection's error and its addresses (issue 14, finding 7).
func TestSlowBody408(t *testing.T) {
	cfg := configWithFreePorts(badInputConfig())
	cfg.HTTP.ReadTimeout = 300 * time.Millisecond
	s := serve(t, cfg, nil)
	for _, tc := range []struct{ name, req string }{
		{"Content-Length", "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"},
		{"chunked", "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"},
		{"bidi stream", "POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawHTTP(t, s.HTTPAddr(), []byte(tc.req), false)
			body := strings.TrimSuffix(got.body, "\n")
			if got.status != 408 || body != errorBody(4, "request body not received in time") {
				t.Errorf("got %d %q (%v), want 408 with the JSON error body", got.status, got.body, got.err)
			}
			if strings.Contains(got.body, "tcp") || strings.Contains(got.body, "127.0.0.1") {
				t.Errorf("the answer carries the connection's error: %s", got.body)
			}
		})
	}
	if got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/alive"), false); got.status != 200 {
		t.Fatalf("server after the requests: %+v", got)
	}
}

// TestEchoedInputTruncated: error messages that echo input (a path or
// query parameter that does not parse, a JSON value of the wrong type, an
// id the service did not find) are cut at 512 bytes in the answer, and at
// 512 bytes in the call's log line (issue 14, finding 7).
func TestEchoedInputTruncated(t *testing.T) {
	const maxMessage = 512
	long := strings.Repeat("x", 60<<10)
	check := func(t *testing.T, got rawResult, status int, prefix string) {
		t.Helper()
		var st struct{ Message string }
		if err := json.Unmarshal([]byte(got.body), &st); err != nil || got.status != status {
			t.Fatalf("got %d %.300s, want %d with the JSON error body", got.status, got.body, status)
		}
		if len(st.Message) > maxMessage || !strings.HasPrefix(st.Message, prefix) || !strings.HasSuffix(st.Message, "…") {
			t.Errorf("message of %d bytes, want at most %d starting %q and cut with …: %.300s", len(st.Message), maxMessage, prefix, st.Message)
		}
	}
	t.Run("gateway", func(t *testing.T) {
		cfg := configWithFreePorts(badInputConfig())
		cfg.HTTP.MaxBodyBytes = 1 << 20
		s := serve(t, cfg, nil)
		check(t, rawHTTP(t, s.HTTPAddr(), post("/v1/types/"+long, jsonCT, `{}`), false), 400, "type mismatch, parameter: id")
		check(t, rawHTTP(t, s.HTTPAddr(), get("/v1/echo/a?delayMs="+long), false), 400, `parsing field "delay_ms"`)
		check(t, rawHTTP(t, s.HTTPAddr(), post("/v1/types/1", jsonCT, `{"count":"`+strings.Repeat("9", 200<<10)+`x"}`), false), 400, "proto:")
	})
	t.Run("service", func(t *testing.T) {
		p := startProc(t, shopBin(t), "gateway")
		check(t, rawHTTP(t, p.HTTPAddr, get("/v1/products/"+long[:20<<10]), false), 404, `product "xxx`)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.Out.String(), "NotFound") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		for line := range strings.Lines(p.Out.String()) {
			if len(line) > 2048 {
				t.Errorf("log line of %d bytes: %.300s", len(line), line)
			}
		}
	})
}

// TestContentLengthWithTransferEncoding: net/http reads a request with
// both Content-Length and Transfer-Encoding as chunked and keeps the
// connection; the edge answers it 400 with the JSON error body and closes
// the connection (RFC 9112 §6.1), so that what a proxy in front took for
// the next request is never read (issue 14, finding 9). Requests before
// it on the same connection, of every framing, are served.
func TestContentLengthWithTransferEncoding(t *testing.T) {
	s := serve(t, configWithFreePorts(badInputConfig()), nil)
	const smuggled = "GET /v1/echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	conn, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	chunkedBody := "f\r\n{\"message\":\"c\"}\r\n0\r\n\r\n"
	conn.Write([]byte(
		// Served: a GET, a body by Content-Length, a chunked body, OPTIONS *.
		"GET /v1/echo/a HTTP/1.1\r\nHost: x\r\n\r\n" +
			"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"message\":\"b\"}" +
			"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedBody +
			"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" +
			// Refused: both, with a body that ends where Content-Length says
			// and a request after it.
			"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled))
	br := bufio.NewReader(conn)
	for i, want := range []string{`{"message":"a"}`, `{"message":"b"}`, `{"message":"c"}`, ""} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || compactJSON(string(data)) != want {
			t.Errorf("answer %d: %d %s, want 200 %s", i+1, resp.StatusCode, data, want)
		}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("answer to Content-Length with Transfer-Encoding: %v", err)
	}
	data, _ := io.ReadAll(resp.Body)
	if want := errorBody(3, "request has both Content-Length and Transfer-Encoding"); resp.StatusCode != 400 || compactJSON(string(data)) != want || !resp.Close {
		t.Errorf("got %d %s (close %v), want 400 %s and the connection closed", resp.StatusCode, data, resp.Close, want)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the 400: %q, %v; want the connection closed", rest, err)
	}
	if got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/alive"), false); got.status != 200 {
		t.Fatalf("server after the requests: %+v", got)
	}
}
