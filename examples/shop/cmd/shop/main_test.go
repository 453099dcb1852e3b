package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	stockv1 "github.com/goms-io/goms/examples/shop/gen/stock/v1"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// shopBin returns the example binary, built by the first test that needs
// it (testutil.Binary) and removed by TestMain.
func shopBin(t testing.TB) string { return testutil.Binary(t, ".") }

func TestMain(m *testing.M) { testutil.Main(m) }

// startShop starts the shop with args on free ports and waits until it
// serves what its mode serves. Cleanup stops it with SIGTERM and requires
// exit status 0.
func startShop(t *testing.T, mode string, args ...string) *testutil.Process {
	t.Helper()
	p := testutil.StartProcess(t, shopBin(t), nil, mode, args...)
	t.Cleanup(func() {
		select {
		case <-p.Done: // stopped or killed by the test
			return
		default:
		}
		if err := p.Stop(); err != nil {
			t.Errorf("shop %v: %v; output:\n%s", p.Cmd.Args[1:], err, p.Out)
		}
	})
	return p
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// edge says where the shared assertions reach a topology of the shop: its
// HTTP/JSON edge and the gRPC address of a process hosting each service.
// In one process they are all the same.
type edge struct {
	http                   string
	orders, catalog, stock string
}

// sameAddr is the edge of one process serving everything.
func sameAddr(grpcAddr, httpAddr string) edge {
	return edge{http: httpAddr, orders: grpcAddr, catalog: grpcAddr, stock: grpcAddr}
}

// checkGRPC runs the example's calls with a plain grpc-go client. The order
// service's calls cross all three services (orders → catalog → stock), the
// catalog's cross two, ListProducts as a stream on both hops.
func checkGRPC(t *testing.T, e edge) {
	orders := ordersv1.NewOrderServiceClient(dial(t, e.orders))
	catalog := catalogv1.NewCatalogServiceClient(dial(t, e.catalog))
	stock := stockv1.NewStockServiceClient(dial(t, e.stock))

	t.Run("grpc/GetProduct", func(t *testing.T) {
		resp, err := catalog.GetProduct(ctx(t), &catalogv1.GetProductRequest{Id: "tea"})
		if err != nil || resp.GetProduct().GetPriceCents() != 450 || resp.GetProduct().GetUnitsInStock() != 100 {
			t.Fatalf("GetProduct(tea) = %v, %v; want 450 cents, 100 in stock", resp, err)
		}
	})
	t.Run("grpc/GetProduct/NotFound", func(t *testing.T) {
		_, err := catalog.GetProduct(ctx(t), &catalogv1.GetProductRequest{Id: "caviar"})
		if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `product "caviar" not found`) {
			t.Fatalf("GetProduct(caviar) error = %v, want NotFound", err)
		}
	})
	t.Run("grpc/ListProducts/stream", func(t *testing.T) {
		stream, err := catalog.ListProducts(ctx(t), &catalogv1.ListProductsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			resp, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s:%d", resp.GetProduct().GetId(), resp.GetProduct().GetUnitsInStock()))
		}
		if got, want := strings.Join(got, ","), "coffee:25,croissant:6,tea:100"; got != want {
			t.Fatalf("streamed %s, want %s", got, want)
		}
	})
	t.Run("grpc/GetStock", func(t *testing.T) {
		resp, err := stock.GetStock(ctx(t), &stockv1.GetStockRequest{ProductId: "coffee"})
		if err != nil || resp.GetStock().GetUnits() != 25 {
			t.Fatalf("GetStock(coffee) = %v, %v", resp, err)
		}
	})
	t.Run("grpc/CreateOrder", func(t *testing.T) {
		resp, err := orders.CreateOrder(ctx(t), &ordersv1.CreateOrderRequest{Items: []*ordersv1.Item{
			{ProductId: "tea", Quantity: 2}, {ProductId: "croissant", Quantity: 3},
		}})
		if err != nil || resp.GetOrder().GetTotalCents() != 2*450+3*180 {
			t.Fatalf("CreateOrder = %v, %v", resp, err)
		}
		got, err := orders.GetOrder(ctx(t), &ordersv1.GetOrderRequest{Id: resp.GetOrder().GetId()})
		if err != nil || got.GetOrder().GetTotalCents() != resp.GetOrder().GetTotalCents() {
			t.Fatalf("GetOrder = %v, %v", got, err)
		}
	})
	t.Run("grpc/QuoteOrder", func(t *testing.T) {
		resp, err := orders.QuoteOrder(ctx(t), &ordersv1.QuoteOrderRequest{Items: []*ordersv1.Item{
			{ProductId: "coffee", Quantity: 1}, {ProductId: "croissant", Quantity: 6},
		}})
		if err != nil || resp.GetTotalCents() != 890+6*180 || len(resp.GetLines()) != 2 {
			t.Fatalf("QuoteOrder = %v, %v", resp, err)
		}
	})
	t.Run("grpc/CreateOrder/InvalidArgument", func(t *testing.T) {
		_, err := orders.CreateOrder(ctx(t), &ordersv1.CreateOrderRequest{Items: []*ordersv1.Item{{ProductId: "caviar", Quantity: 1}}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `unknown product "caviar"`) {
			t.Fatalf("CreateOrder(caviar) error = %v, want InvalidArgument", err)
		}
	})
	t.Run("grpc/QuoteOrder/FailedPrecondition", func(t *testing.T) {
		// The stock level comes from the far end of the chain.
		_, err := orders.QuoteOrder(ctx(t), &ordersv1.QuoteOrderRequest{Items: []*ordersv1.Item{{ProductId: "croissant", Quantity: 7}}})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `7 of "croissant" ordered, 6 in stock`) {
			t.Fatalf("QuoteOrder(7 croissants) error = %v, want FailedPrecondition", err)
		}
	})
}

// httpCall is one HTTP request and the response the gateway must give.
type httpCall struct {
	name, method, path, body string
	wantStatus               int
	wantBody                 []string // substrings of the response body
}

// checkHTTP runs the example's calls over HTTP/JSON with net/http.
func checkHTTP(t *testing.T, addr string) {
	for _, c := range []httpCall{
		{"GetProduct", "GET", "/v1/products/coffee", "", 200,
			[]string{`"id":"coffee"`, `"priceCents":"890"`, `"unitsInStock":25`}},
		{"GetProduct/NotFound", "GET", "/v1/products/caviar", "", 404,
			[]string{`"code":5`, `"message":"product \"caviar\" not found"`, `"details":[]`}},
		{"ListProducts/stream", "GET", "/v1/products", "", 200, []string{
			`{"result":{"product":{"id":"coffee","name":"Coffee beans, 250 g","priceCents":"890","unitsInStock":25}}}` + "\n",
			`{"result":{"product":{"id":"croissant","name":"Croissant","priceCents":"180","unitsInStock":6}}}` + "\n",
			`{"result":{"product":{"id":"tea","name":"Green tea, 50 bags","priceCents":"450","unitsInStock":100}}}` + "\n",
		}},
		{"CreateOrder", "POST", "/v1/orders", `{"items":[{"productId":"coffee","quantity":2}]}`, 200,
			[]string{`"totalCents":"1780"`, `"unitPriceCents":"890"`}},
		{"QuoteOrder", "POST", "/v1/orders:quote", `{"items":[{"productId":"tea","quantity":2},{"productId":"croissant","quantity":3}]}`, 200,
			[]string{`"totalCents":"1440"`, `{"productId":"croissant","quantity":3,"unitPriceCents":"180"}`}},
		{"QuoteOrder/FailedPrecondition", "POST", "/v1/orders:quote", `{"items":[{"productId":"croissant","quantity":7}]}`, 400,
			[]string{`"code":9`, `7 of \"croissant\" ordered, 6 in stock`}},
		{"CreateOrder/InvalidArgument", "POST", "/v1/orders", `{"items":[{"productId":"tea","quantity":0}]}`, 400,
			// The proto's rule (buf.validate), checked before the handler.
			[]string{`"code":3`, `"message":"invalid request: items[0].quantity: must be greater than 0"`,
				`{"field":"items[0].quantity","description":"must be greater than 0","reason":"int32.gt"`}},
		{"CreateOrder/MalformedJSON", "POST", "/v1/orders", `{"items":[{`, 400,
			[]string{`"code":3`, `"message":`}},
		{"UnknownPath", "GET", "/v1/nothing-here", "", 404,
			[]string{`"code":5`, `"message":"Not Found"`}},
		{"GetOrder/NotFound", "GET", "/v1/orders/o-999", "", 404,
			[]string{`"code":5`, `order \"o-999\" not found`}},
		{"GetOrder/InvalidArgument", "GET", "/v1/orders/x-1", "", 400,
			[]string{`"code":3`, `{"field":"id","description":"does not match regex pattern ` + "`^o-[0-9]{1,18}$`" + `","reason":"string.pattern"`}},
	} {
		t.Run("http/"+c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx(t), c.method, "http://"+addr+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			body := compactJSON(raw)
			if resp.StatusCode != c.wantStatus {
				t.Errorf("%s %s: status %d, want %d; body %s", c.method, c.path, resp.StatusCode, c.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			for _, want := range c.wantBody {
				if !strings.Contains(string(body), want) {
					t.Errorf("%s %s: body %s lacks %s", c.method, c.path, body, want)
				}
			}
			if c.wantStatus != 200 && !json.Valid(raw) {
				t.Errorf("error body is not JSON: %s", body)
			}
		})
	}
	// A browser's EventSource gets the products as Server-Sent Events,
	// and one that reconnects after the second (Last-Event-ID: 2) gets
	// the rest.
	t.Run("http/ListProducts/SSE-resume", func(t *testing.T) {
		req, err := http.NewRequestWithContext(ctx(t), "GET", "http://"+addr+"/v1/products", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Last-Event-ID", "2")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var data []string
		for line := range strings.Lines(string(raw)) {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				line = "data: " + compactJSON([]byte(d))
			}
			data = append(data, line)
		}
		want := "id: 3\ndata: " + `{"product":{"id":"tea","name":"Green tea, 50 bags","priceCents":"450","unitsInStock":100}}` + "\n\n"
		if got := strings.Join(data, ""); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || got != want {
			t.Errorf("GET /v1/products, Last-Event-ID: 2 = %s %q\n%s\nwant\n%s", resp.Status, resp.Header.Get("Content-Type"), got, want)
		}
	})
}

// checkCurl makes one call across the chain with curl.
func checkCurl(t *testing.T, addr string) {
	t.Run("curl/QuoteOrder", func(t *testing.T) {
		out, err := exec.CommandContext(ctx(t), "curl", "-sS", "-w", `\n%{http_code}\n`,
			"-X", "POST", "http://"+addr+"/v1/orders:quote", "-H", "Content-Type: application/json",
			"-d", `{"items":[{"productId":"coffee","quantity":1},{"productId":"tea","quantity":1}]}`).CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		if got := compactJSON(out); !strings.Contains(got, `"totalCents":"1340"`) || !strings.HasSuffix(got, "\n200\n") {
			t.Fatalf("curl POST /v1/orders:quote answered:\n%s", got)
		}
	})
}

// checkWebSocket quotes two baskets over a WebSocket on QuoteLive's
// route, then one that cannot be priced, which ends the stream with its
// code.
func checkWebSocket(t *testing.T, addr string) {
	t.Run("websocket/QuoteLive", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx(t), "ws://"+addr+"/v1/orders:quoteLive", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		for _, basket := range []struct{ items, total string }{
			{`[{"productId":"tea","quantity":1}]`, `"totalCents":"450"`},
			{`[{"productId":"tea","quantity":2},{"productId":"coffee","quantity":1}]`, `"totalCents":"1790"`},
		} {
			if err := c.Write(ctx(t), websocket.MessageText, []byte(`{"items":`+basket.items+`}`)); err != nil {
				t.Fatal(err)
			}
			_, quote, err := c.Read(ctx(t))
			if err != nil || !strings.Contains(string(quote), basket.total) {
				t.Fatalf("quote of %s: %s %v, want %s", basket.items, quote, err, basket.total)
			}
		}
		if err := c.Write(ctx(t), websocket.MessageText, []byte(`{"items":[{"productId":"caviar","quantity":1}]}`)); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Read(ctx(t))
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4003 || !strings.Contains(ce.Reason, "caviar") {
			t.Fatalf("unknown product: %v, want close 4003 (INVALID_ARGUMENT) naming it", err)
		}
	})
}

// checkShop runs every shared assertion against a topology.
func checkShop(t *testing.T, e edge) {
	checkGRPC(t, e)
	checkHTTP(t, e.http)
	checkCurl(t, e.http)
	checkWebSocket(t, e.http)
}

func TestGRPCMode(t *testing.T) {
	p := startShop(t, "grpc")
	checkGRPC(t, sameAddr(p.GRPCAddr, ""))
	if strings.Contains(p.Out.String(), "serving HTTP") {
		t.Errorf("grpc mode serves HTTP:\n%s", p.Out)
	}
}

func TestHTTPMode(t *testing.T) {
	backend := startShop(t, "grpc")
	front := startShop(t, "http", "-upstream", backend.GRPCAddr)
	checkHTTP(t, front.HTTPAddr)
	if strings.Contains(front.Out.String(), "serving gRPC") {
		t.Errorf("http mode serves gRPC:\n%s", front.Out)
	}
}

// TestStartErrors checks that bad configuration and taken ports stop the
// process at once with a message naming the culprit.
func TestStartErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name     string
		args     []string
		env      []string
		wantCode int
		wantOut  string
	}{
		{"grpc port taken", []string{"-grpc-addr", taken.Addr().String(), "-http-addr", "127.0.0.1:0"}, nil, 1,
			"gRPC server: listen on " + taken.Addr().String() + ": "},
		{"http port taken", []string{"-grpc-addr", "127.0.0.1:0", "-http-addr", taken.Addr().String()}, nil, 1,
			"HTTP server: listen on " + taken.Addr().String() + ": "},
		{"bad address", []string{"-grpc-addr", "localhost"}, nil, 2,
			`invalid value "localhost" for flag -grpc-addr: invalid address "localhost": want host:port`},
		{"bad mode flag", []string{"-mode", "both"}, nil, 2,
			`invalid value "both" for flag -mode: invalid mode "both": want "gateway", "grpc" or "http"` + "\nrun " + "shop -h for the flags\n"},
		{"unknown flag", []string{"-grpc-adr", "127.0.0.1:0"}, nil, 2,
			"flag provided but not defined: -grpc-adr\nrun shop -h for the flags\n"},
		{"help", []string{"-h"}, nil, 0,
			"(env GOMS_LOG_LEVEL) (default info)"},
		{"bad mode env", nil, []string{"GOMS_MODE=both"}, 2,
			`goms: environment GOMS_MODE: invalid mode "both": want "gateway", "grpc" or "http"`},
		{"http mode without upstream", []string{"-mode", "http"}, nil, 2,
			`goms: mode "http" needs an upstream gRPC target (flag -upstream or GOMS_UPSTREAM)`},
		{"unresolvable host", []string{"-grpc-addr", "no-such-host.invalid:1", "-http-addr", "127.0.0.1:0"}, nil, 1,
			"gRPC server: listen on no-such-host.invalid:1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(shopBin(t), tc.args...)
			cmd.Env = append(os.Environ(), tc.env...)
			var out bytes.Buffer
			cmd.Stderr = &out
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running after 20s; output:\n%s", &out)
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.wantCode {
				t.Errorf("exit status %d, want %d", code, tc.wantCode)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, &out)
			}
			// The usage is for -h; an error gets one line and a hint.
			if usage := strings.Contains(out.String(), "Usage of "); usage != (tc.name == "help") {
				t.Errorf("usage printed: %v, want %v:\n%s", usage, tc.name == "help", &out)
			}
		})
	}
}

// compactJSON is testutil.CompactJSON on bytes.
func compactJSON(body []byte) string { return testutil.CompactJSON(string(body)) }

// TestREADMECalls runs every curl and grpcurl command of the README's
// quickstart against the example in gateway mode, so that the README cannot
// drift from what the example does.
func TestREADMECalls(t *testing.T) {
	readme, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The quickstart's section only: other sections call other services
	// (the project goms new writes, tested by cmd/goms).
	_, quickstart, _ := strings.Cut(string(readme), "\n## Quickstart\n")
	quickstart, _, _ = strings.Cut(quickstart, "\n## ")
	var calls []string
	for line := range strings.Lines(quickstart) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "curl ") || strings.HasPrefix(line, "grpcurl ") || strings.HasPrefix(line, "grpc-health-probe ") {
			calls = append(calls, line)
		}
	}
	if len(calls) < 5 {
		t.Fatalf("found %d curl/grpcurl commands in README.md, want the quickstart's", len(calls))
	}
	// The README tells how to get the pinned grpcurl and grpc-health-probe,
	// which is how this test gets them.
	const root = "../../../.." // the repository's root, where the README's commands run
	const makeTools, path = "`make tools`", "`export PATH=$PWD/.tmp/bin:$PATH`"
	if !strings.Contains(string(readme), makeTools) || !strings.Contains(string(readme), path) {
		t.Fatalf("README.md does not say how to get the pinned grpcurl and grpc-health-probe: %s, then %s", makeTools, path)
	}
	build := exec.Command("make", "tools")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make tools: %v\n%s", err, out)
	}
	bin, err := filepath.Abs(filepath.Join(root, ".tmp", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	p := startShop(t, "gateway")
	for _, call := range calls {
		t.Run(call, func(t *testing.T) {
			cmdline := strings.NewReplacer("127.0.0.1:8080", p.HTTPAddr, "127.0.0.1:42001", p.GRPCAddr).Replace(call)
			if strings.HasPrefix(cmdline, "curl ") {
				cmdline = strings.Replace(cmdline, "curl ", "curl -sS ", 1)
			}
			cmd := exec.Command("bash", "-c", cmdline)
			cmd.Dir, cmd.Env = root, env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", cmdline, err, out)
			}
			if strings.HasPrefix(call, "curl ") {
				// No quickstart call is malformed: an INVALID_ARGUMENT
				// (a body without Content-Type: application/json gets 415
				// with it) means the README's command is wrong.
				if strings.Contains(compactJSON(out), `"code":3,`) {
					t.Errorf("%s: answered INVALID_ARGUMENT: %s", cmdline, out)
				}
				sse := strings.Contains(call, "text/event-stream")
				for line := range strings.Lines(string(out)) {
					if sse {
						// Server-Sent Events: JSON in the data lines.
						if strings.HasPrefix(line, "id: ") || strings.TrimSpace(line) == "" {
							continue
						}
						var ok bool
						if line, ok = strings.CutPrefix(line, "data: "); !ok {
							t.Errorf("%s: output line is not an id or data line: %s", cmdline, line)
							continue
						}
					}
					if !json.Valid([]byte(line)) {
						t.Errorf("%s: output line is not JSON: %s", cmdline, line)
					}
				}
				if sse && !strings.Contains(string(out), "id: 3\ndata: ") {
					t.Errorf("%s: no third event:\n%s", cmdline, out)
				}
			}
			if strings.Contains(call, "caviar") {
				want := `{"code":5,"message":"product \"caviar\" not found","details":[]}`
				if got := strings.TrimSpace(compactJSON(out)); got != want || !strings.Contains(string(readme), "`"+want+"`") {
					t.Errorf("the README documents %s; the server sends %s", want, got)
				}
			}
			if strings.Contains(call, " list") && !strings.Contains(string(out), "shop.catalog.v1.CatalogService") {
				t.Errorf("grpcurl list lacks the catalog service:\n%s", out)
			}
			if strings.Contains(call, " describe") && !strings.Contains(string(out), "rpc ListProducts") {
				t.Errorf("grpcurl describe lacks the methods:\n%s", out)
			}
			if strings.HasPrefix(call, "grpc-health-probe") && !strings.Contains(string(out), "SERVING") {
				t.Errorf("grpc-health-probe: %s", out)
			}
		})
	}
}
