package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	vtecho "github.com/goms-io/goms/bench/internal/gen/bench/vtecho/v1"
	"github.com/goms-io/goms/bench/internal/setup"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Every benchmark compares set-ups within one run: its sub-benchmarks are
// named <group>/impl=<set-up>, and the set-ups of one group run one after
// the other in each -count round, so `benchstat -col /impl` compares them
// under the same machine noise. Calls are made one at a time. Besides
// ns/op, they report cpu-ns/op: the CPU time of the whole process (client,
// servers and garbage collector, all in this process) per call.

// size is a payload size the benchmarks run with.
type size struct {
	name    string
	message string
}

// sizes are the payloads: the message field alone is 100 bytes or 64 KiB.
var sizes = []size{
	{"small", strings.Repeat("m", 100)},
	{"large", strings.Repeat("m", 64<<10)},
}

// streamWords is the number of messages each server-streaming call returns.
const streamWords = 100

// startAll starts the named set-ups on free loopback ports and stops them
// when b ends.
func startAll(b *testing.B, impls ...setup.Impl) map[setup.Impl]*setup.Server {
	b.Helper()
	servers := make(map[setup.Impl]*setup.Server, len(impls))
	for _, impl := range impls {
		s, err := setup.Start(impl, setup.LoopbackAddrs)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := s.Close(); err != nil {
				b.Errorf("close %s: %v", impl, err)
			}
		})
		servers[impl] = s
	}
	return servers
}

// grpcClient returns an echo client on a new loopback gRPC connection to
// addr, closed when b ends. Every gRPC variant uses this same client set-up.
func grpcClient(b *testing.B, addr string) echo.EchoServiceClient {
	b.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return echo.NewEchoServiceClient(cc)
}

// httpClient returns a keep-alive HTTP/1.1 client with its own connection
// pool, closed when b ends. Every HTTP variant uses this same client set-up.
func httpClient(b *testing.B) *http.Client {
	b.Helper()
	c := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
	}}
	b.Cleanup(c.CloseIdleConnections)
	return c
}

// checkEcho fails b unless resp answers message.
func checkEcho(b *testing.B, resp *echo.EchoResponse, err error, message string) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	if resp.GetMessage() != message {
		b.Fatalf("echo answered %d bytes, want %d", len(resp.GetMessage()), len(message))
	}
}

// BenchmarkUnary measures a unary gRPC call over loopback: a GoMs server
// with its default interceptors (impl=goms), the same with GoMs's opt-in
// fast codec (impl=goms-vt: vtcodec on protoc-gen-go-vtproto's code, at
// both ends, serving bench.vtecho.v1's copy of Echo), against the same
// service on a bare grpc.Server (impl=grpc) and on connect-go's gRPC
// protocol over h2c (impl=connect), all called by the same grpc-go client.
// vtcodec is registered in the whole process; for every impl but goms-vt
// it hands the messages to grpc-go's proto codec.
func BenchmarkUnary(b *testing.B) {
	impls := []setup.Impl{setup.GRPC, setup.GoMs, setup.GoMsVT, setup.Connect}
	servers := startAll(b, impls...)
	for _, sz := range sizes {
		b.Run("size="+sz.name, func(b *testing.B) {
			for _, impl := range impls {
				b.Run("impl="+string(impl), func(b *testing.B) {
					call := unaryCall(b, impl, servers[impl].GRPCAddr, sz.message)
					ctx := context.Background()
					got, err := call(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if got != sz.message {
						b.Fatalf("echo answered %d bytes, want %d", len(got), len(sz.message))
					}
					b.ReportAllocs()
					cpu := startCPU()
					for b.Loop() {
						if _, err := call(ctx); err != nil {
							b.Fatal(err)
						}
					}
					cpu.report(b)
				})
			}
		})
	}
}

// unaryCall returns a function that calls Echo with message on a new
// loopback connection to addr and returns the answer's message: the
// fixtures' echo client, or bench.vtecho.v1's for impl=goms-vt.
func unaryCall(b *testing.B, impl setup.Impl, addr, message string) func(context.Context) (string, error) {
	b.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	if impl == setup.GoMsVT {
		client, req := vtecho.NewEchoServiceClient(cc), &vtecho.EchoRequest{Message: message}
		return func(ctx context.Context) (string, error) {
			resp, err := client.Echo(ctx, req)
			return resp.GetMessage(), err
		}
	}
	client, req := echo.NewEchoServiceClient(cc), &echo.EchoRequest{Message: message}
	return func(ctx context.Context) (string, error) {
		resp, err := client.Echo(ctx, req)
		return resp.GetMessage(), err
	}
}

// httpEcho posts body to the EchoBody route at addr and discards the
// answer, failing b unless it is a 200.
func httpEcho(b *testing.B, c *http.Client, url string, body []byte) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// checkHTTPEcho makes one HTTP call and fails b unless it answers message.
func checkHTTPEcho(b *testing.B, c *http.Client, url string, body []byte, message string) {
	b.Helper()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Message string }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		b.Fatalf("POST %s: %s: %v", url, resp.Status, err)
	}
	if got.Message != message {
		b.Fatalf("POST %s answered %d bytes, want %d", url, len(got.Message), len(message))
	}
}

// BenchmarkHTTP measures an HTTP/JSON unary call (the same JSON body, POST,
// keep-alive HTTP/1.1, over a loopback socket for every variant): raw
// grpc-gateway calling the implementation in-process (impl=gateway-inproc),
// GoMs in gateway mode (impl=goms, in-process with the gRPC interceptors),
// raw grpc-gateway forwarding over loopback gRPC (impl=gateway-endpoint),
// GoMs in http mode forwarding to GoMs in grpc mode (impl=goms-http),
// connect-go's Connect protocol (impl=connect), vanguard transcoding
// REST to connect-go (impl=vanguard) and GoMs in gateway mode called in
// the Connect protocol (impl=goms-connect). All but connect and
// goms-connect call the REST route POST /v1/echo; those call the
// method's gRPC path, setup.EchoBodyPath.
func BenchmarkHTTP(b *testing.B) {
	impls := []setup.Impl{setup.GatewayInProc, setup.GoMs, setup.GatewayEndpoint, setup.GoMsHTTP, setup.Connect, setup.Vanguard, setup.GoMsConnect}
	servers := startAll(b, impls...)
	for _, sz := range sizes {
		b.Run("size="+sz.name, func(b *testing.B) {
			body, err := json.Marshal(map[string]string{"message": sz.message})
			if err != nil {
				b.Fatal(err)
			}
			for _, impl := range impls {
				b.Run("impl="+string(impl), func(b *testing.B) {
					c := httpClient(b)
					url := "http://" + servers[impl].HTTPAddr + setup.EchoBodyPath(impl)
					checkHTTPEcho(b, c, url, body, sz.message)
					b.ReportAllocs()
					cpu := startCPU()
					for b.Loop() {
						httpEcho(b, c, url, body)
					}
					cpu.report(b)
				})
			}
		})
	}
}

// BenchmarkColocated measures one service calling another hosted in the
// same process, with the generated typed client: over a loopback gRPC
// connection to the GoMs server (impl=loopback), over the server's
// in-process connection (impl=local, interceptors included), and as a
// direct method call on the implementation (impl=direct).
func BenchmarkColocated(b *testing.B) {
	srv := startAll(b, setup.GoMs)[setup.GoMs]
	for _, sz := range sizes {
		b.Run("size="+sz.name, func(b *testing.B) {
			req := &echo.EchoRequest{Message: sz.message}
			// Calls between services carry a deadline: the incoming
			// call's, or client.call_timeout.
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			run := func(b *testing.B, call func() (*echo.EchoResponse, error)) {
				resp, err := call()
				checkEcho(b, resp, err, sz.message)
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					if _, err := call(); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
			}
			b.Run("impl=loopback", func(b *testing.B) {
				client := grpcClient(b, srv.GRPCAddr)
				run(b, func() (*echo.EchoResponse, error) { return client.Echo(ctx, req) })
			})
			b.Run("impl=local", func(b *testing.B) {
				client := echo.NewEchoServiceClient(srv.Local)
				run(b, func() (*echo.EchoResponse, error) { return client.Echo(ctx, req) })
			})
			b.Run("impl=direct", func(b *testing.B) {
				var impl echo.EchoServiceServer = setup.EchoService{}
				run(b, func() (*echo.EchoResponse, error) { return impl.Echo(ctx, req) })
			})
		})
	}
}

// streamMessage is the Expand request of the streaming benchmarks: it
// answers with streamWords messages.
func streamMessage() string {
	words := make([]string, streamWords)
	for i := range words {
		words[i] = fmt.Sprintf("word%03d", i)
	}
	return strings.Join(words, " ")
}

// reportMessageRate reports the streamed messages per second of b's loop.
func reportMessageRate(b *testing.B) {
	b.ReportMetric(float64(b.N*streamWords)/b.Elapsed().Seconds(), "msgs/s")
}

// recvAll reads a server stream to its end and returns how many messages
// it received.
func recvAll(b *testing.B, stream grpc.ServerStreamingClient[echo.EchoResponse]) int {
	n := 0
	for {
		_, err := stream.Recv()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkStreamGRPC measures a server-streaming call of streamWords
// messages over loopback gRPC: bare grpc.Server (impl=grpc), GoMs
// (impl=goms), GoMs's in-process connection (impl=local) and connect-go's
// gRPC protocol over h2c (impl=connect). It reports msgs/s besides the
// time per call.
func BenchmarkStreamGRPC(b *testing.B) {
	servers := startAll(b, setup.GRPC, setup.GoMs, setup.Connect)
	req := &echo.EchoRequest{Message: streamMessage()}
	clients := []struct {
		impl   string
		client func(b *testing.B) echo.EchoServiceClient
	}{
		{"grpc", func(b *testing.B) echo.EchoServiceClient { return grpcClient(b, servers[setup.GRPC].GRPCAddr) }},
		{"goms", func(b *testing.B) echo.EchoServiceClient { return grpcClient(b, servers[setup.GoMs].GRPCAddr) }},
		{"local", func(b *testing.B) echo.EchoServiceClient { return echo.NewEchoServiceClient(servers[setup.GoMs].Local) }},
		{"connect", func(b *testing.B) echo.EchoServiceClient { return grpcClient(b, servers[setup.Connect].GRPCAddr) }},
	}
	for _, c := range clients {
		b.Run("impl="+c.impl, func(b *testing.B) {
			client := c.client(b)
			ctx := context.Background()
			call := func() int {
				stream, err := client.Expand(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				return recvAll(b, stream)
			}
			if n := call(); n != streamWords {
				b.Fatalf("got %d messages, want %d", n, streamWords)
			}
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				call()
			}
			cpu.report(b)
			reportMessageRate(b)
		})
	}
}

// BenchmarkStreamHTTP measures a server-streaming call of streamWords
// messages over HTTP, with the same HTTP client for every variant: raw
// grpc-gateway over loopback gRPC (impl=gateway-endpoint), GoMs in gateway
// mode (impl=goms) and GoMs in http mode (impl=goms-http), each answering
// POST /v1/expand with newline-delimited JSON, and connect-go's Connect
// streaming protocol with JSON messages (impl=connect, and GoMs in it:
// impl=goms-connect). Every variant is sent the same request message as a
// JSON body, the way its protocol sends one (setup.ExpandRequest): the
// REST variants not as the 100-word path of GET /v1/expand/{message},
// whose escaping and unescaping the Connect variants would not pay (and
// which BenchmarkStreamSSE, as a browser's EventSource, does). Raw in-process
// grpc-gateway cannot stream, and vanguard transcodes REST server streams
// only for google.api.HttpBody responses. It reports msgs/s besides the
// time per call.
func BenchmarkStreamHTTP(b *testing.B) {
	impls := []setup.Impl{setup.GatewayEndpoint, setup.GoMs, setup.GoMsHTTP, setup.Connect, setup.GoMsConnect}
	servers := startAll(b, impls...)
	message := streamMessage()
	for _, impl := range impls {
		b.Run("impl="+string(impl), func(b *testing.B) {
			c := httpClient(b)
			call := func() *http.Response {
				req, err := setup.ExpandRequest(impl, servers[impl].HTTPAddr, message)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				if resp.StatusCode != http.StatusOK {
					resp.Body.Close()
					b.Fatalf("%s %s: %s", req.Method, req.URL, resp.Status)
				}
				return resp
			}
			resp := call()
			n, err := setup.CountExpand(impl, resp)
			resp.Body.Close()
			if err != nil || n != streamWords {
				b.Fatalf("got %d messages, want %d: %v", n, streamWords, err)
			}
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				resp := call()
				_, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
			reportMessageRate(b)
		})
	}
}

// BenchmarkStreamWebSocket is BenchmarkStreamHTTP's stream over a
// WebSocket (GoMs only; no peer serves one): per call, a socket on
// Expand's POST route, the request message and the empty message that
// ends the client's side, then the 100 answers, one WebSocket message
// each, and the close. The socket's opening handshake is part of the
// call.
func BenchmarkStreamWebSocket(b *testing.B) {
	impls := []setup.Impl{setup.GoMs, setup.GoMsHTTP}
	servers := startAll(b, impls...)
	msg, err := json.Marshal(map[string]string{"message": streamMessage()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, impl := range impls {
		b.Run("impl="+string(impl), func(b *testing.B) {
			c := httpClient(b)
			call := func() int {
				conn, _, err := websocket.Dial(ctx, "ws://"+servers[impl].HTTPAddr+"/v1/expand", &websocket.DialOptions{HTTPClient: c})
				if err != nil {
					b.Fatal(err)
				}
				defer conn.CloseNow()
				if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
					b.Fatal(err)
				}
				if err := conn.Write(ctx, websocket.MessageText, nil); err != nil {
					b.Fatal(err)
				}
				for n := 0; ; n++ {
					if _, _, err := conn.Read(ctx); err != nil {
						if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
							b.Fatalf("after %d messages: %v", n, err)
						}
						return n
					}
				}
			}
			if n := call(); n != streamWords {
				b.Fatalf("got %d messages, want %d", n, streamWords)
			}
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				call()
			}
			cpu.report(b)
			reportMessageRate(b)
		})
	}
}

// BenchmarkStreamSSE is BenchmarkStreamHTTP asked for as Server-Sent
// Events (Accept: text/event-stream, as a browser's EventSource sends),
// GoMs only: grpc-gateway has no SSE.
func BenchmarkStreamSSE(b *testing.B) {
	impls := []setup.Impl{setup.GoMs, setup.GoMsHTTP}
	servers := startAll(b, impls...)
	path := "/v1/expand/" + url.PathEscape(streamMessage())
	for _, impl := range impls {
		b.Run("impl="+string(impl), func(b *testing.B) {
			c := httpClient(b)
			req, err := http.NewRequest("GET", "http://"+servers[impl].HTTPAddr+path, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept", "text/event-stream")
			get := func(w io.Writer) {
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				_, err = io.Copy(w, resp.Body)
				if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
					b.Fatalf("GET %s: %s %s: %v", path, resp.Status, resp.Header.Get("Content-Type"), err)
				}
			}
			var first bytes.Buffer
			get(&first)
			if n := bytes.Count(first.Bytes(), []byte("\ndata: ")); n != streamWords {
				b.Fatalf("got %d events, want %d", n, streamWords)
			}
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				get(io.Discard)
			}
			cpu.report(b)
			reportMessageRate(b)
		})
	}
}
