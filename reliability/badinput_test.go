package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// badInputConfig is the configuration the bad-input tests serve: small
// limits so that oversized input is cheap to send.
func badInputConfig() goms.Config {
	cfg := goms.DefaultConfig()
	cfg.HTTP.MaxBodyBytes = 1024
	cfg.HTTP.MaxHeaderBytes = 128 << 10
	cfg.GRPC.MaxRecvBytes = 1024
	cfg.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	return cfg
}

// notOurs marks answers net/http writes itself, before any GoMs code
// runs: they are not the JSON error contract (see docs/RELIABILITY.md).
const notOurs = "net/http"

func post(path, contentType, body string) []byte {
	return []byte("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + contentType +
		"\r\nContent-Length: " + itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
}

func get(path string, header ...string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(header, "") + "Connection: close\r\n\r\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

// protoErr is the 400 body of a protojson decoding error.
func protoErr(msg string) string { return protoErrCode(3, msg) }

func protoErrCode(code int, msg string) string { return errorBody(code, "proto: "+msg) }

// normalize undoes protobuf-go's deliberate instability of error texts:
// "proto:" is followed by a space or a no-break space, at random per build.
func normalize(body string) string { return strings.ReplaceAll(body, "proto:\u00a0", "proto: ") }

const jsonCT = "application/json"

// httpCase is one bad HTTP request and the exact answer it must get.
type httpCase struct {
	name     string
	req      []byte
	status   int    // 0: the server closes the connection without answering
	body     string // exact body after compactJSON
	producer string // "" (GoMs / grpc-gateway: the JSON contract) or notOurs
}

// halfClosed names the cases whose client closes its sending side after
// the request, so that the server reads EOF where the request falls short.
var halfClosed = map[string]bool{"body shorter than Content-Length": true}

func httpCases() []httpCase {
	long := strings.Repeat("a", 64<<10)
	return []httpCase{
		// Malformed and mistyped JSON bodies.
		{"malformed JSON", post("/v1/echo", jsonCT, `{"message":`), 400, errorBody(3, "unexpected EOF"), ""},
		{"trailing garbage", post("/v1/echo", jsonCT, `{"message":"a"} x`), 200, `{"message":"a"}`, ""},
		{"JSON array", post("/v1/echo", jsonCT, `[1,2]`), 400, protoErr("syntax error (line 1:1): unexpected token ["), ""},
		{"JSON string", post("/v1/echo", jsonCT, `"hello"`), 400, protoErr(`syntax error (line 1:1): unexpected token "hello"`), ""},
		{"string field given a number", post("/v1/echo", jsonCT, `{"message":5}`), 400, protoErr("(line 1:12): invalid value for string field message: 5"), ""},
		{"int32 field given text", post("/v1/echo", jsonCT, `{"delayMs":"abc"}`), 400, protoErr(`(line 1:12): invalid value for int32 field delayMs: "abc"`), ""},
		{"int32 out of range", post("/v1/echo", jsonCT, `{"delayMs":3000000000}`), 400, protoErr("(line 1:12): invalid value for int32 field delayMs: 3000000000"), ""},
		{"int32 given a fraction", post("/v1/echo", jsonCT, `{"delayMs":1.5}`), 400, protoErr("(line 1:12): invalid value for int32 field delayMs: 1.5"), ""},
		{"unknown field", post("/v1/echo", jsonCT, `{"message":"a","nope":1}`), 400, protoErr(`(line 1:16): unknown field "nope"`), ""},
		{"duplicate field", post("/v1/echo", jsonCT, `{"message":"a","message":"b"}`), 400, protoErr(`(line 1:16): duplicate field "message"`), ""},
		{"invalid enum name", post("/v1/types/1", jsonCT, `{"color":"COLOR_PURPLE"}`), 400, protoErr(`(line 1:10): invalid value for enum field color: "COLOR_PURPLE"`), ""},
		{"enum number not declared", post("/v1/types/1", jsonCT, `{"color":99}`), 200, `{"id":"1","color":99,"count":"0","size":"0","flag":false,"tags":[]}`, ""},
		{"int64 out of range (string)", post("/v1/types/1", jsonCT, `{"count":"9223372036854775808"}`), 400, protoErr(`(line 1:10): invalid value for int64 field count: "9223372036854775808"`), ""},
		{"int64 out of range (number)", post("/v1/types/1", jsonCT, `{"count":9223372036854775808}`), 400, protoErr("(line 1:10): invalid value for int64 field count: 9223372036854775808"), ""},
		{"uint64 negative", post("/v1/types/1", jsonCT, `{"size":-1}`), 400, protoErr("(line 1:9): invalid value for uint64 field size: -1"), ""},
		{"bool given text", post("/v1/types/1", jsonCT, `{"flag":"yes"}`), 400, protoErr(`(line 1:9): invalid value for bool field flag: "yes"`), ""},
		{"repeated given a scalar", post("/v1/types/1", jsonCT, `{"tags":"a"}`), 400, protoErr(`syntax error (line 1:9): unexpected token "a"`), ""},
		{"invalid UTF-8 in body", post("/v1/echo", jsonCT, "{\"message\":\"\xff\"}"), 400, protoErr("syntax error (line 1:12): invalid UTF-8 in string"), ""},
		{"invalid UTF-8 escape in body", post("/v1/echo", jsonCT, `{"message":"\ud800"}`), 400, protoErr("unexpected EOF"), ""},
		{"empty body", post("/v1/echo", jsonCT, ``), 200, `{"message":""}`, ""},
		{"body on GET", []byte("GET /v1/echo/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"), 200, `{"message":"a"}`, ""},
		{"untyped body on GET", []byte("GET /v1/echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"), 415, errorBody(3, "request body must be JSON: Content-Type application/json"), ""},
		{"Content-Type text/plain", post("/v1/echo", "text/plain", `{"message":"a"}`), 415, errorBody(3, "request body must be JSON: Content-Type application/json"), ""},
		{"Content-Type form", post("/v1/echo", "application/x-www-form-urlencoded", `message=a`), 415, errorBody(3, "request body must be JSON: Content-Type application/json"), ""},
		{"body shorter than Content-Length", []byte("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"message\":\"a\""), 400, errorBody(3, "unexpected EOF"), ""},
		{"client stream: malformed second message", post("/v1/collect", jsonCT, `{"message":"a"}{"message":`), 400, errorBody(3, "unexpected EOF"), ""},
		// Stream errors end with the stream's newline delimiter.
		{"bidi stream: malformed body", post("/v1/chat", jsonCT, `0`), 400, protoErr("syntax error (line 1:1): unexpected token 0") + "\n", ""},
		{"bidi stream: body over the limit (chunked)", []byte("POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7dc\r\n{\"message\":\"" + strings.Repeat("x", 2000) + "\r\n0\r\n\r\n"), 413, errorBody(8, "request body larger than 1024 bytes") + "\n", ""},
		// Path and query parameters.
		{"path int64 not a number", post("/v1/types/abc", jsonCT, `{}`), 400, errorBody(3, `type mismatch, parameter: id, error: strconv.ParseInt: parsing "abc": invalid syntax`), ""},
		{"path int64 overflow", post("/v1/types/99999999999999999999", jsonCT, `{}`), 400, errorBody(3, `type mismatch, parameter: id, error: strconv.ParseInt: parsing "99999999999999999999": value out of range`), ""},
		{"query int32 not a number", get("/v1/echo/a?delayMs=abc"), 400, errorBody(3, `parsing field "delay_ms": strconv.ParseInt: parsing "abc": invalid syntax`), ""},
		{"query unknown parameter", get("/v1/echo/a?nope=1"), 200, `{"message":"a"}`, ""},
		{"query parameter overriding the path", get("/v1/echo/a?message=b"), 200, `{"message":"a"}`, ""},
		{"stream: query int32 not a number", get("/v1/expand/a?delayMs=abc"), 400, errorBody(3, `parsing field "delay_ms": strconv.ParseInt: parsing "abc": invalid syntax`), ""},
		{"percent-encoded slash in a path parameter", get("/v1/echo/a%2Fb"), 200, `{"message":"a/b"}`, ""},
		{"percent-encoded slash between literals", get("/v1%2Fecho/a"), 404, errorBody(5, "Not Found"), ""},
		{"percent-encoded space", get("/v1/echo/a%20b"), 200, `{"message":"a b"}`, ""},
		{"invalid UTF-8 in path", get("/v1/echo/%FF"), 400, errorBody(3, "request path or query is not valid UTF-8"), ""},
		{"invalid UTF-8 in query", get("/v1/echo/a?message=%FF"), 400, errorBody(3, "request path or query is not valid UTF-8"), ""},
		{"invalid percent-encoding", get("/v1/echo/%zz"), 400, errorBody(3, "Bad Request"), ""},
		{"dot segments", get("/v1/echo/../echo/a"), 404, errorBody(5, "Not Found"), ""},
		{"double slash", get("//v1/echo/a"), 404, errorBody(5, "Not Found"), ""},
		{"unknown route", get("/v1/nowhere"), 404, errorBody(5, "Not Found"), ""},
		{"wrong method", []byte("DELETE /v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 405, errorBody(12, "Method Not Allowed"), ""},
		// The path parameter makes a message over grpc.max_recv_bytes,
		// refused as over gRPC (issue 14, finding 8).
		{"long URL (64 KiB)", get("/v1/echo/" + long), 429, errorBody(8, "grpc: received message larger than max (65540 vs. 1024)"), ""},
		// Size limits, framing and protocol.
		{"oversized body (Content-Length)", post("/v1/echo", jsonCT, `{"message":"`+strings.Repeat("x", 2000)+`"}`), 413, errorBody(8, "request body larger than 1024 bytes"), ""},
		{"oversized body (chunked)", []byte("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7dc\r\n{\"message\":\"" + strings.Repeat("x", 2000) + "\r\n0\r\n\r\n"), 413, errorBody(8, "request body larger than 1024 bytes"), ""},
		{"URL over the header limit", get("/v1/echo/" + strings.Repeat("a", 200<<10)), 431, errorBody(8, "request headers larger than 131072 bytes"), ""},
		{"oversized header", get("/v1/echo/a", "X-Big: "+strings.Repeat("a", 200<<10)+"\r\n"), 431, errorBody(8, "request headers larger than 131072 bytes"), ""},
		{"URL over twice the header limit", get("/v1/echo/" + strings.Repeat("a", 2<<20)), 431, errorBody(8, "Request Header Fields Too Large"), ""},
		{"header over twice the header limit", get("/v1/echo/a", "X-Big: "+strings.Repeat("a", 2<<20)+"\r\n"), 431, errorBody(8, "Request Header Fields Too Large"), ""},
		{"malformed request line", []byte("GARBAGE\r\n\r\n"), 400, errorBody(3, "Bad Request"), ""},
		{"invalid header name", []byte("GET /v1/echo/a HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n"), 400, errorBody(3, "invalid header name"), ""},
		{"missing Host (HTTP/1.1)", []byte("GET /v1/echo/a HTTP/1.1\r\nConnection: close\r\n\r\n"), 400, errorBody(3, "missing required Host header"), ""},
		{"unsupported HTTP version", []byte("GET /v1/echo/a HTTP/3.0\r\nHost: x\r\n\r\n"), 505, errorBody(12, "unsupported protocol version"), ""},
		{"HTTP/1.0 client", []byte("GET /v1/echo/a HTTP/1.0\r\n\r\n"), 200, `{"message":"a"}`, ""},
		{"HTTP/1.0 client, bad input", []byte("POST /v1/echo HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{x}"), 400, errorBody(3, "invalid character 'x' looking for beginning of object key string"), ""},
		{"slow client never finishes headers", []byte("GET /v1/echo/a HTTP/1.1\r\nHost: x\r\n"), 0, "", notOurs},
	}
}

// TestBadInputHTTP sends each bad request on its own connection and checks
// the exact status and body; then the server still serves and no goroutine
// is left behind.
func TestBadInputHTTP(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := goms.New(configWithFreePorts(badInputConfig()), goms.WithLogger(discardLogger()))
	register(s, &echotest.Server{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopServer(t, s)
	cases := httpCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rawHTTP(t, s.HTTPAddr(), tc.req, halfClosed[tc.name])
			if tc.status == 0 {
				if got.err == nil {
					t.Fatalf("got %d %s, want the connection closed without an answer", got.status, got.body)
				}
				return
			}
			if got.err != nil {
				t.Fatalf("no response: %v", got.err)
			}
			if got.status != tc.status || normalize(got.body) != tc.body {
				t.Errorf("got %d %q\nwant %d %q", got.status, got.body, tc.status, tc.body)
			}
			isJSON := strings.HasPrefix(got.header.Get("Content-Type"), "application/json")
			if tc.producer == "" && got.status >= 400 && (!isJSON || !isErrorBody(got.body)) {
				t.Errorf("error answer is not the JSON error contract: %q %s", got.header.Get("Content-Type"), got.body)
			}
			if tc.producer == notOurs && isJSON {
				t.Errorf("case marked as net/http's own answer gave JSON: %s", got.body)
			}
		})
	}
	t.Run("h2c client on the HTTP port", func(t *testing.T) {
		// Two ports (the default): the HTTP port speaks HTTP/1 only, so an
		// HTTP/2 prior-knowledge client is refused by net/http.
		code, body, err := h2cRequest(s.HTTPAddr(), "POST", "/v1/echo", `{"message":`)
		if err == nil {
			t.Errorf("h2c on an HTTP/1 port: %d %s, want the connection refused", code, body)
		}
	})
	t.Run("server still up", func(t *testing.T) {
		if got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/alive"), false); got.status != 200 || got.body != `{"message":"alive"}` {
			t.Fatalf("after bad input: %+v", got)
		}
	})
	t.Logf("%d HTTP cases", len(cases)+1)
}

// TestBadInputH2C sends bad input over cleartext HTTP/2 to a one-port
// server, which speaks h2c: the answers are the same JSON errors.
func TestBadInputH2C(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := badInputConfig()
	addr := testutil.FreeAddr(t)
	cfg.GRPC.Addr, cfg.HTTP.Addr = addr, addr
	s := goms.New(cfg, goms.WithLogger(discardLogger()))
	register(s, &echotest.Server{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopServer(t, s)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"h2c ok", "GET", "/v1/echo/a", "", 200, `{"message":"a"}`},
		{"h2c malformed JSON", "POST", "/v1/echo", `{"message":`, 400, errorBody(3, "unexpected EOF")},
		{"h2c oversized body", "POST", "/v1/echo", `{"message":"` + strings.Repeat("x", 2000) + `"}`, 413, errorBody(8, "request body larger than 1024 bytes")},
		{"h2c unknown route", "GET", "/v1/nowhere", "", 404, errorBody(5, "Not Found")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, err := h2cRequest(addr, tc.method, tc.path, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.status || body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", code, body, tc.status, tc.want)
			}
		})
	}
}

// h2cRequest makes one request over cleartext HTTP/2 with prior knowledge.
func h2cRequest(addr, method, path, body string) (int, string, error) {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "http://"+addr+path, rd)
	req.Header.Set("Content-Type", jsonCT)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		return 0, "", fmt.Errorf("answered over %s, want HTTP/2", resp.Proto)
	}
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, compactJSON(string(data)), nil
}

func configWithFreePorts(cfg goms.Config) goms.Config {
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	return cfg
}

// rawCodec sends and receives bytes as they are, to put invalid protobuf
// on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *v.(*[]byte) = data; return nil }
func (rawCodec) Name() string                       { return "proto" }

// grpcCase is one bad gRPC call and the exact status it must get.
type grpcCase struct {
	name string
	call func(ctx context.Context) error
	code codes.Code
	msg  string
}

// TestBadInputGRPC makes each bad call and checks the exact code and
// message; then the server still serves and no goroutine is left behind.
func TestBadInputGRPC(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	impl := &echotest.Server{Entered: make(chan string, 1)}
	s := goms.New(configWithFreePorts(badInputConfig()), goms.WithLogger(discardLogger()))
	register(s, impl)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopServer(t, s)
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := echo.NewEchoServiceClient(conn)
	invokeRaw := func(ctx context.Context, method string, msg []byte) error {
		var out []byte
		return conn.Invoke(ctx, method, &msg, &out, grpc.ForceCodec(rawCodec{}))
	}
	// waitEntered cancels ctx once a handler has started.
	cancelWhenEntered := func(cancel context.CancelFunc) {
		<-impl.Entered
		cancel()
	}
	big := strings.Repeat("x", 2000)
	cases := []grpcCase{
		{"unknown service", func(ctx context.Context) error { return invokeRaw(ctx, "/nope.Nope/Echo", nil) },
			codes.Unimplemented, "unknown service nope.Nope"},
		{"unknown method", func(ctx context.Context) error {
			return invokeRaw(ctx, "/fixtures.echo.EchoService/Nope", nil)
		}, codes.Unimplemented, "unknown method Nope for service fixtures.echo.EchoService"},
		{"malformed method name", func(ctx context.Context) error { return invokeRaw(ctx, "no-slash", nil) },
			codes.Unimplemented, "malformed method name: \"no-slash\""},
		{"oversized message", func(ctx context.Context) error {
			_, err := client.Echo(ctx, &echo.EchoRequest{Message: big})
			return err
		}, codes.ResourceExhausted, "grpc: received message larger than max (2003 vs. 1024)"},
		{"oversized message in a client stream", func(ctx context.Context) error {
			st, err := client.Collect(ctx)
			if err != nil {
				return err
			}
			st.Send(&echo.EchoRequest{Message: "ok"})
			st.Send(&echo.EchoRequest{Message: big})
			_, err = st.CloseAndRecv()
			return err
		}, codes.ResourceExhausted, "grpc: received message larger than max (2003 vs. 1024)"},
		{"garbage protobuf", func(ctx context.Context) error {
			return invokeRaw(ctx, "/fixtures.echo.EchoService/Echo", []byte{0xff, 0xff, 0xff})
		}, codes.Internal, "grpc: failed to unmarshal the received message: proto: cannot parse invalid wire-format data"},
		{"invalid UTF-8 in a string field", func(ctx context.Context) error {
			return invokeRaw(ctx, "/fixtures.echo.EchoService/Echo", []byte{0x0a, 0x01, 0xff})
		}, codes.Internal, "grpc: failed to unmarshal the received message: string field contains invalid UTF-8"},
		{"invalid metadata key (client-side)", func(ctx context.Context) error {
			_, err := client.Echo(metadata.AppendToOutgoingContext(ctx, "bad key", "v"), &echo.EchoRequest{})
			return err
		}, codes.Internal, `header key "bad key" contains illegal characters not in [0-9a-z-_.]`},
		{"invalid metadata value (client-side)", func(ctx context.Context) error {
			_, err := client.Echo(metadata.AppendToOutgoingContext(ctx, "k", "a\nb"), &echo.EchoRequest{})
			return err
		}, codes.Internal, `header key "k" contains value with non-printable ASCII characters`},
		{"already-expired deadline", func(ctx context.Context) error {
			ctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
			defer cancel()
			_, err := client.Echo(ctx, &echo.EchoRequest{Message: "late"})
			return err
		}, codes.DeadlineExceeded, "context deadline exceeded"},
		{"deadline expires in the handler", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := client.Echo(ctx, &echo.EchoRequest{Message: "slow", DelayMs: 60_000})
			return err
		}, codes.DeadlineExceeded, "context deadline exceeded"},
		{"client cancels mid-call", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			go cancelWhenEntered(cancel)
			_, err := client.Echo(ctx, &echo.EchoRequest{Message: "slow", DelayMs: 60_000})
			return err
		}, codes.Canceled, "context canceled"},
		{"client cancels mid-stream", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			st, err := client.Expand(ctx, &echo.EchoRequest{Message: "a b c d e f", DelayMs: 1})
			if err != nil {
				return err
			}
			if _, err := st.Recv(); err != nil {
				return err
			}
			cancel()
			for {
				if _, err := st.Recv(); err != nil {
					return err
				}
			}
		}, codes.Canceled, "context canceled"},
		{"send after CloseSend (bidi)", func(ctx context.Context) error {
			st, err := client.Chat(ctx)
			if err != nil {
				return err
			}
			st.CloseSend()
			return st.Send(&echo.EchoRequest{Message: "after"})
		}, codes.Internal, "SendMsg called after CloseSend"},
		{"send after CloseAndRecv (client stream)", func(ctx context.Context) error {
			st, err := client.Collect(ctx)
			if err != nil {
				return err
			}
			if _, err := st.CloseAndRecv(); err != nil {
				return err
			}
			return st.Send(&echo.EchoRequest{Message: "after"})
		}, codes.Internal, "SendMsg called after CloseSend"},
		{"health of an unknown service", func(ctx context.Context) error {
			_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "nope.Nope"})
			return err
		}, codes.NotFound, "unknown service"},
		{"panicking handler", func(ctx context.Context) error {
			_, err := client.Echo(ctx, &echo.EchoRequest{Message: "panic"})
			return err
		}, codes.Internal, "internal error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := tc.call(ctx)
			st := status.Convert(err)
			msg := normalize(st.Message())
			// When a deadline expires, grpc-go's client reports either its
			// own context error or the server's reset of the stream,
			// whichever it sees first.
			if st.Code() == codes.DeadlineExceeded && msg == "stream terminated by RST_STREAM with error code: CANCEL" {
				msg = "context deadline exceeded"
			}
			if st.Code() != tc.code || msg != tc.msg {
				t.Errorf("got %v: %q\nwant %v: %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
	raw := rawGRPCCases()
	for _, tc := range raw {
		t.Run(tc.name, func(t *testing.T) {
			code, msg, err := rawGRPC(s.GRPCAddr(), tc.headers, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || msg != tc.msg {
				t.Errorf("got %v: %q\nwant %v: %q", code, msg, tc.code, tc.msg)
			}
		})
	}
	t.Run("server still up", func(t *testing.T) {
		resp, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "alive"})
		if err != nil || resp.GetMessage() != "alive" {
			t.Fatalf("after bad input: %v, %v", resp, err)
		}
	})
	t.Logf("%d gRPC cases", len(cases)+len(raw))
}

// rawGRPCCase is a hand-made gRPC request: metadata grpc-go clients
// refuse to send.
type rawGRPCCase struct {
	name    string
	headers []hpack.HeaderField
	body    []byte
	code    codes.Code
	msg     string
}

func rawGRPCCases() []rawGRPCCase {
	h := func(extra ...string) []hpack.HeaderField {
		f := []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
			{Name: ":path", Value: "/fixtures.echo.EchoService/Echo"}, {Name: ":authority", Value: "x"},
			{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"}}
		for i := 0; i+1 < len(extra); i += 2 {
			f = append(f, hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
		}
		return f
	}
	msg := []byte{0, 0, 0, 0, 3, 0x0a, 0x01, 'a'} // EchoRequest{message: "a"}
	return []rawGRPCCase{
		{"raw: valid call", h(), msg, codes.OK, ""},
		{"raw: malformed grpc-timeout", h("grpc-timeout", "abc"), msg, codes.Internal, `malformed grpc-timeout: transport: timeout unit is not recognized: "abc"`},
		{"raw: already-expired grpc-timeout", h("grpc-timeout", "0n"), msg, codes.DeadlineExceeded, "context deadline exceeded"},
		{"raw: invalid base64 in a -bin header", h("x-data-bin", "!!!"), msg, codes.Internal, `malformed binary metadata "!!!" in header "x-data-bin": illegal base64 data at input byte 0`},
		{"raw: unknown grpc-encoding", h("grpc-encoding", "snappy"), []byte{1, 0, 0, 0, 1, 0}, codes.Unimplemented, `grpc: Decompressor is not installed for grpc-encoding "snappy"`},
		{"raw: compressed flag without grpc-encoding", h(), []byte{1, 0, 0, 0, 1, 0}, codes.Internal, "grpc: compressed flag set with identity or empty encoding"},
		{"raw: truncated message", h(), []byte{0, 0, 0, 0, 9, 0x0a}, codes.Internal, "unexpected EOF"},
		{"raw: wrong content-type", append(h()[:4], hpack.HeaderField{Name: "content-type", Value: "text/plain"}), msg, codes.InvalidArgument, `invalid gRPC request content-type "text/plain"`},
	}
}

// rawGRPC makes one gRPC call by hand over HTTP/2 and returns the status
// the server's trailers carry.
func rawGRPC(addr string, headers []hpack.HeaderField, body []byte) (codes.Code, string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return 0, "", err
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		return 0, "", err
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range headers {
		enc.WriteField(f)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		return 0, "", err
	}
	if err := fr.WriteData(1, true, body); err != nil {
		return 0, "", err
	}
	code, msg := codes.Unknown, ""
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, "", fmt.Errorf("no gRPC status: %w", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.MetaHeadersFrame:
			for _, hf := range f.Fields {
				switch hf.Name {
				case "grpc-status":
					n, _ := strconv.Atoi(hf.Value)
					code = codes.Code(n)
				case "grpc-message":
					msg = decodeGRPCMessage(hf.Value)
				case ":status":
					if hf.Value != "200" {
						msg = "HTTP status " + hf.Value
					}
				}
			}
			if f.StreamEnded() {
				return code, msg, nil
			}
		case *http2.RSTStreamFrame:
			return 0, "", fmt.Errorf("stream reset: %v", f.ErrCode)
		case *http2.GoAwayFrame:
			return 0, "", fmt.Errorf("GOAWAY: %v %s", f.ErrCode, f.DebugData())
		}
	}
}

// decodeGRPCMessage undoes grpc-message's percent-encoding.
func decodeGRPCMessage(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// TestDiscardUnknown: with http.discard_unknown, JSON fields and enum names
// the proto does not declare are ignored, as grpc-gateway does by default;
// without it they are refused (the table above).
func TestDiscardUnknown(t *testing.T) {
	cfg := badInputConfig()
	cfg.HTTP.DiscardUnknown = true
	s := serve(t, configWithFreePorts(cfg), nil)
	for _, tc := range []struct{ req, want string }{
		{`{"message":"a","nope":1}`, `{"message":"a"}`},
		{`{"color":"COLOR_PURPLE","count":"2"}`, `{"id":"1","color":"COLOR_UNSPECIFIED","count":"2","size":"0","flag":false,"tags":[]}`},
	} {
		path := "/v1/echo"
		if strings.Contains(tc.req, "color") {
			path = "/v1/types/1"
		}
		got := rawHTTP(t, s.HTTPAddr(), post(path, jsonCT, tc.req), false)
		if got.status != 200 || got.body != tc.want {
			t.Errorf("%s: got %d %s, want 200 %s", tc.req, got.status, got.body, tc.want)
		}
	}
}

// TestBidiMalformedMessage: a malformed message in the middle of a bidi
// stream's body ends the call: the handler sees Canceled, as when a
// network client goes away, and the HTTP client gets the decoding error as
// the stream's last line (or as the whole answer, when the error comes
// before the first response). It holds over HTTP/1 and h2c in gateway
// mode, and in http mode, where the call goes to a remote upstream.
func TestBidiMalformedMessage(t *testing.T) {
	handlerErr := make(chan error, 1)
	observe := goms.WithStreamInterceptors(
		func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			err := handler(srv, ss)
			handlerErr <- err
			return err
		})
	const body = `{"message":"a"}{"message":`
	http1 := func(t *testing.T, addr string) (int, string) {
		got := rawHTTP(t, addr, post("/v1/chat", jsonCT, body), false)
		return got.status, got.body
	}
	onePort := configWithFreePorts(badInputConfig())
	onePort.HTTP.Addr = testutil.FreeAddr(t)
	onePort.GRPC.Addr = onePort.HTTP.Addr
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) string // returns the HTTP address
		call  func(t *testing.T, addr string) (int, string)
	}{
		{"gateway mode, HTTP/1", func(t *testing.T) string {
			return serve(t, configWithFreePorts(badInputConfig()), nil, observe).HTTPAddr()
		}, http1},
		{"gateway mode, h2c", func(t *testing.T) string {
			return serve(t, onePort, nil, observe).HTTPAddr()
		}, func(t *testing.T, addr string) (int, string) {
			code, got, err := h2cRequest(addr, "POST", "/v1/chat", body)
			if err != nil {
				t.Fatal(err)
			}
			return code, got
		}},
		{"http mode", func(t *testing.T) string {
			backend := serve(t, configWithFreePorts(badInputConfig()), nil, observe)
			cfg := configWithFreePorts(badInputConfig())
			cfg.Mode, cfg.Upstream = goms.ModeHTTP, backend.GRPCAddr()
			return serve(t, cfg, nil).HTTPAddr()
		}, http1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, got := tc.call(t, tc.start(t))
			lines := strings.Split(strings.TrimSuffix(normalize(got), "\n"), "\n")
			wantErr := errorBody(3, "unexpected EOF")
			switch {
			case code == 200 && len(lines) == 2 && lines[0] == `{"result":{"message":"re: a"}}` && lines[1] == wantErr:
			case code == 400 && len(lines) == 1 && lines[0] == wantErr:
			default:
				t.Errorf("got %d %q, want the decoding error %s, after the first answer or alone", code, got, wantErr)
			}
			select {
			case err := <-handlerErr:
				if status.Code(err) != codes.Canceled {
					t.Errorf("handler returned %v, want Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("handler did not return")
			}
		})
	}
}

// TestInvalidUTF8PathRejected: a path parameter that is not UTF-8 cannot
// be a proto3 string; it should be refused with 400 InvalidArgument.
func TestInvalidUTF8PathRejected(t *testing.T) {
	s := serve(t, configWithFreePorts(badInputConfig()), nil)
	got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/%FF"), false)
	if got.status != 400 || !isErrorBody(got.body) {
		t.Errorf("got %d %s, want 400 and the error contract", got.status, got.body)
	}
}

// TestInputErrorStaysWithItsRequest: on one keep-alive HTTP/1 connection,
// a request whose body fails to decode does not change the answers of the
// requests after it (the connection's body slot is cleared for each).
func TestInputErrorStaysWithItsRequest(t *testing.T) {
	s := serve(t, configWithFreePorts(badInputConfig()), nil)
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "http://" + s.HTTPAddr()
	var conns []net.Conn
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               int
	}{
		{"POST", "/v1/echo", `{"message":`, 400, 3},
		{"GET", "/v1/echo/panic", "", 500, 13},
		{"POST", "/v1/chat", `0`, 400, 3},
		{"GET", "/v1/echo/panic", "", 500, 13},
		{"POST", "/v1/echo", `{"message":"ok"}`, 200, 0},
	} {
		var rd io.Reader
		if tc.body != "" {
			rd = strings.NewReader(tc.body)
		}
		req, _ := http.NewRequest(tc.method, base+tc.path, rd)
		req.Header.Set("Content-Type", jsonCT)
		var conn net.Conn
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { conn = info.Conn },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conns = append(conns, conn)
		var got struct{ Code int }
		if resp.StatusCode != tc.status || (tc.status != 200 && (json.Unmarshal(data, &got) != nil || got.Code != tc.code)) {
			t.Errorf("%s %s after a failed body on the same connection: got %d %s, want %d with code %d",
				tc.method, tc.path, resp.StatusCode, data, tc.status, tc.code)
		}
	}
	for _, c := range conns[1:] {
		if c != conns[0] {
			t.Fatal("the requests did not share one connection")
		}
	}
}
