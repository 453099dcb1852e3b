package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goms-io/goms"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/rules"
	"github.com/goms-io/goms/internal/testutil"
	"github.com/goms-io/goms/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// rulesServer counts the calls that reach its handlers.
type rulesServer struct {
	rules.UnimplementedRulesServiceServer
	calls atomic.Int32
}

func (s *rulesServer) Place(context.Context, *rules.PlaceRequest) (*rules.PlaceResponse, error) {
	return &rules.PlaceResponse{Count: s.calls.Add(1)}, nil
}

// tools is what the tests opt in: one method of RulesService, and all of
// EchoService (whose Collect and Chat, client and bidi streams, are left
// out).
var tools = []string{"fixtures.rules.RulesService/Place", "fixtures.echo.EchoService"}

// wantTools are the tools of tools.
var wantTools = []string{
	"fixtures_echo_EchoService_Echo",
	"fixtures_echo_EchoService_EchoBody",
	"fixtures_echo_EchoService_Expand",
	"fixtures_rules_RulesService_Place",
}

// start starts a server in gateway mode hosting both fixtures, with
// cfg's MCP settings, and stops it when the test ends.
func start(t *testing.T, cfg goms.Config, impl *rulesServer, opts ...goms.Option) *goms.Server {
	t.Helper()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg, opts...)
	rules.RegisterRulesService(s, impl)
	echo.RegisterEchoService(s, &echotest.Server{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

// connect opens an MCP session with the SDK's client over streamable
// HTTP to the server at addr; progress notifications go to progress.
func connect(t *testing.T, addr string, progress chan<- *sdk.ProgressNotificationParams) *sdk.ClientSession {
	t.Helper()
	return connectWith(t, addr, progress, nil)
}

// connectWith is connect with an HTTP client of the test's choosing (nil:
// the default).
func connectWith(t *testing.T, addr string, progress chan<- *sdk.ProgressNotificationParams, hc *http.Client) *sdk.ClientSession {
	t.Helper()
	opts := &sdk.ClientOptions{}
	if progress != nil {
		opts.ProgressNotificationHandler = func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
			progress <- req.Params
		}
	}
	c := sdk.NewClient(&sdk.Implementation{Name: "goms-test", Version: "1"}, opts)
	cs, err := c.Connect(t.Context(), &sdk.StreamableClientTransport{Endpoint: "http://" + addr + goms.MCPPath, DisableStandaloneSSE: true, HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func mcpConfig() goms.Config {
	cfg := goms.DefaultConfig()
	cfg.MCP.Tools = tools
	return cfg
}

// toolNames lists the tools the server lists.
func toolNames(t *testing.T, cs *sdk.ClientSession) map[string]*sdk.Tool {
	t.Helper()
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	byName := make(map[string]*sdk.Tool)
	for _, tool := range res.Tools {
		byName[tool.Name] = tool
	}
	return byName
}

// checkList checks that tools/list lists exactly wantTools, and Place's
// description and input schema, its rules included.
func checkList(t *testing.T, cs *sdk.ClientSession) {
	t.Helper()
	byName := toolNames(t, cs)
	var names []string
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, wantTools) {
		t.Fatalf("tools/list = %v, want %v", names, wantTools)
	}
	place := byName["fixtures_rules_RulesService_Place"]
	if place.Description != "Place takes one order." {
		t.Errorf("Place's description = %q", place.Description)
	}
	got, _ := json.Marshal(place.InputSchema)
	for _, want := range []string{
		`"sku":{"description":"Sku names the product: upper-case letters and digits.","maxLength":16,"minLength":3,"pattern":"^[A-Z0-9]+$","type":"string"}`,
		`"quantity":{"description":"Quantity is how many, at least one.","exclusiveMinimum":0,"format":"int32","type":"integer"}`,
		`"note":{"description":"Note is free text, up to 8 characters.","maxLength":8,"type":"string"}`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("Place's input schema lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "$ref") {
		t.Errorf("Place's input schema is not self-contained:\n%s", got)
	}
	expand := byName["fixtures_echo_EchoService_Expand"]
	got, _ = json.Marshal(expand.InputSchema)
	if want := `"message":{"description":"Message to echo.","type":"string"}`; !strings.Contains(string(got), want) {
		t.Errorf("Expand's input schema lacks %s:\n%s", want, got)
	}
}

// call calls a tool and returns its result's text.
func call(t *testing.T, cs *sdk.ClientSession, params *sdk.CallToolParams) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), params)
	if err != nil {
		t.Fatalf("CallTool(%s): %v", params.Name, err)
	}
	if len(res.Content) != 1 {
		t.Fatalf("CallTool(%s): %d contents, want 1", params.Name, len(res.Content))
	}
	text, ok := res.Content[0].(*sdk.TextContent)
	if !ok {
		t.Fatalf("CallTool(%s): content %T, want text", params.Name, res.Content[0])
	}
	return text.Text, res.IsError
}

// checkCalls checks a valid call, and that invalid arguments are refused
// before the handler: rules broken, and JSON protojson refuses.
func checkCalls(t *testing.T, cs *sdk.ClientSession, impl *rulesServer) {
	t.Helper()
	text, isErr := call(t, cs, &sdk.CallToolParams{Name: "fixtures_rules_RulesService_Place", Arguments: map[string]any{"sku": "AB12", "quantity": 2}})
	if isErr || text != `{"count":1}` {
		t.Fatalf("Place = %s (isError %v), want {\"count\":1}", text, isErr)
	}
	text, isErr = call(t, cs, &sdk.CallToolParams{Name: "fixtures_rules_RulesService_Place", Arguments: map[string]any{"sku": "ab", "quantity": 0}})
	if !isErr || !strings.Contains(text, `"code":3`) || !strings.Contains(text, `"fieldViolations":[`) ||
		!strings.Contains(text, `"reason":"string.min_len"`) || !strings.Contains(text, `"reason":"int32.gt"`) {
		t.Errorf("Place(invalid) = %s (isError %v), want INVALID_ARGUMENT with its BadRequest", text, isErr)
	}
	text, isErr = call(t, cs, &sdk.CallToolParams{Name: "fixtures_rules_RulesService_Place", Arguments: map[string]any{"sku": "AB12", "bogus": 1}})
	if !isErr || !strings.Contains(text, `"code":3`) || !strings.Contains(text, "bogus") {
		t.Errorf("Place(unknown field) = %s (isError %v), want INVALID_ARGUMENT naming the field", text, isErr)
	}
	if n := impl.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1: invalid arguments reached it", n)
	}
}

// counter returns the sum of the series name of method with transport
// (all codes), 0 if absent.
func counter(t *testing.T, s *goms.Server, name, method, transport string) float64 {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "grpc_method") == method && label(m, "transport") == transport {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestGateway serves the tools in gateway mode, calls into the hosted
// services in-process, and checks the list, a call, the refusals and the
// metrics.
func TestGateway(t *testing.T) {
	impl := &rulesServer{}
	s := start(t, mcpConfig(), impl)
	cs := connect(t, s.HTTPAddr(), nil)
	checkList(t, cs)
	checkCalls(t, cs, impl)
	// Three calls reached the interceptors: the valid one, and the one
	// the rules refused (OK and InvalidArgument); the arguments protojson
	// refused did not make a call.
	if got := counter(t, s, "grpc_server_handled_total", "Place", "mcp"); got != 2 {
		t.Errorf(`grpc_server_handled_total{grpc_method="Place",transport="mcp"} = %v, want 2`, got)
	}
	if got := counter(t, s, "grpc_server_handled_total", "Place", "inprocess"); got != 0 {
		t.Errorf(`grpc_server_handled_total{grpc_method="Place",transport="inprocess"} = %v, want 0`, got)
	}
}

// TestServerStream checks that a server stream's messages go out as
// progress notifications, in order, and that its result lists them.
func TestServerStream(t *testing.T) {
	s := start(t, mcpConfig(), &rulesServer{})
	progress := make(chan *sdk.ProgressNotificationParams, 16)
	cs := connect(t, s.HTTPAddr(), progress)
	params := &sdk.CallToolParams{Name: "fixtures_echo_EchoService_Expand", Arguments: map[string]any{"message": "one two three"}}
	params.SetProgressToken("expand-1")
	text, isErr := call(t, cs, params)
	want := `{"messages":[{"message":"one"},{"message":"two"},{"message":"three"}]}`
	if isErr || text != want {
		t.Fatalf("Expand = %s (isError %v), want %s", text, isErr, want)
	}
	// Close waits for the notifications the client received to be
	// handled: the server sent them before the result.
	cs.Close()
	close(progress)
	var got []*sdk.ProgressNotificationParams
	for p := range progress {
		got = append(got, p)
	}
	if len(got) != 3 {
		t.Fatalf("%d progress notifications, want 3", len(got))
	}
	for i, word := range []string{"one", "two", "three"} {
		p := got[i]
		if p.ProgressToken != "expand-1" || p.Progress != float64(i+1) || p.Message != `{"message":"`+word+`"}` {
			t.Errorf("progress %d = %+v, want token expand-1, progress %d, message %q", i, p, i+1, word)
		}
	}
	if got := counter(t, s, "grpc_server_handled_total", "Expand", "mcp"); got != 1 {
		t.Errorf(`grpc_server_handled_total{grpc_method="Expand",transport="mcp"} = %v, want 1`, got)
	}
}

// TestHTTPMode serves the tools from a server in http mode, which
// forwards the calls to its upstream: validation runs there, before the
// handler.
func TestHTTPMode(t *testing.T) {
	impl := &rulesServer{}
	backend := start(t, goms.DefaultConfig(), impl)
	cfg := mcpConfig()
	cfg.Mode, cfg.Upstream = goms.ModeHTTP, backend.GRPCAddr()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	front := goms.New(cfg)
	rules.RegisterRulesService(front, nil)
	echo.RegisterEchoService(front, nil)
	if err := front.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		front.Stop(ctx)
	})
	cs := connect(t, front.HTTPAddr(), nil)
	checkList(t, cs)
	checkCalls(t, cs, impl)
	if got := counter(t, backend, "grpc_server_handled_total", "Place", "network"); got != 2 {
		t.Errorf(`upstream grpc_server_handled_total{grpc_method="Place",transport="network"} = %v, want 2`, got)
	}
	// The front counts the calls it makes for the tools as MCP's, apart
	// from those of its routes (transport "network"), as a gateway-mode
	// server counts those it serves.
	for _, name := range []string{"grpc_client_started_total", "grpc_client_handled_total"} {
		if got := counter(t, front, name, "Place", "mcp"); got != 2 {
			t.Errorf(`front %s{grpc_method="Place",transport="mcp"} = %v, want 2`, name, got)
		}
		if got := counter(t, front, name, "Place", "network"); got != 0 {
			t.Errorf(`front %s{grpc_method="Place",transport="network"} = %v, want 0`, name, got)
		}
	}
	// A server stream's call, too.
	if _, isErr := call(t, cs, &sdk.CallToolParams{Name: "fixtures_echo_EchoService_Expand", Arguments: map[string]any{"message": "a b"}}); isErr {
		t.Fatal("Expand failed")
	}
	if got := counter(t, front, "grpc_client_handled_total", "Expand", "mcp"); got != 1 {
		t.Errorf(`front grpc_client_handled_total{grpc_method="Expand",transport="mcp"} = %v, want 1`, got)
	}
}

// TestOff checks that /mcp is not served when mcp.tools is empty, though
// the package is linked.
func TestOff(t *testing.T) {
	s := start(t, goms.DefaultConfig(), &rulesServer{})
	c := sdk.NewClient(&sdk.Implementation{Name: "goms-test", Version: "1"}, nil)
	cs, err := c.Connect(t.Context(), &sdk.StreamableClientTransport{Endpoint: "http://" + s.HTTPAddr() + goms.MCPPath, DisableStandaloneSSE: true}, nil)
	if err == nil {
		cs.Close()
		t.Fatal("Connect to /mcp succeeded with mcp.tools empty")
	}
}

// TestBadNames checks that Start fails on names that match no method, and
// on client or bidi streams named alone.
func TestBadNames(t *testing.T) {
	for name, want := range map[string]string{
		"fixtures.echo.Nothing":             `mcp.tools: "fixtures.echo.Nothing" names no method`,
		"fixtures.echo.EchoService/Nope":    `mcp.tools: "fixtures.echo.EchoService/Nope" names no method`,
		"fixtures.echo.EchoService/Chat":    "mcp.tools: fixtures.echo.EchoService/Chat is a client or bidi stream",
		"fixtures.echo.EchoService/Collect": "mcp.tools: fixtures.echo.EchoService/Collect is a client or bidi stream",
	} {
		cfg := goms.DefaultConfig()
		cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.MCP.Tools = []string{name}
		s := goms.New(cfg)
		echo.RegisterEchoService(s, &echotest.Server{})
		err := s.Start(context.Background())
		if err == nil {
			s.Stop(context.Background())
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: Start: %v, want %s…", name, err, want)
		}
	}
	cfg := mcpConfig()
	cfg.Mode = goms.ModeGRPC
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg)
	echo.RegisterEchoService(s, &echotest.Server{})
	err := s.Start(context.Background())
	if err == nil {
		s.Stop(context.Background())
	}
	if want := `mcp.tools is set, but mode "grpc" serves no HTTP port for /mcp`; err == nil || err.Error() != want {
		t.Errorf("grpc mode: Start: %v, want %s", err, want)
	}
}

// TestHints checks the hints idempotency_level gives and the descriptions
// of a GET route's path parameters, on the example's OrderService.
func TestHints(t *testing.T) {
	sd := ordersv1.File_shop_orders_v1_orders_proto.Services().ByName("OrderService")
	var fragment string
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	reg := registrar{}
	ordersv1.RegisterOrderService(&reg, nil)
	fragment = reg.svc.OpenAPI
	got, err := mcp.Tools(goms.MCPSpec{Tools: []string{"shop.orders.v1.OrderService"},
		Services: []goms.MCPService{{Descriptor: sd, OpenAPI: fragment}}})
	if err != nil {
		t.Fatal(err)
	}
	hints := map[string]string{}
	for _, tool := range got {
		a := tool.Tool.Annotations
		hints[tool.Tool.Name] = map[[2]bool]string{{false, false}: "", {true, true}: "read-only", {false, true}: "idempotent"}[[2]bool{a.ReadOnlyHint, a.IdempotentHint}]
	}
	want := map[string]string{
		"shop_orders_v1_OrderService_CreateOrder": "",
		"shop_orders_v1_OrderService_QuoteOrder":  "read-only",
		"shop_orders_v1_OrderService_GetOrder":    "read-only",
	}
	if !maps(hints, want) {
		t.Errorf("hints = %v, want %v (QuoteLive, a bidi stream, left out)", hints, want)
	}
	for _, tool := range got {
		if tool.Tool.Name != "shop_orders_v1_OrderService_GetOrder" {
			continue
		}
		s, _ := json.Marshal(tool.Tool.InputSchema)
		if want := `"description":"ID of the order, as CreateOrder assigns it: o-\u003cnumber\u003e."`; !strings.Contains(string(s), want) {
			t.Errorf("GetOrder's schema lacks the path parameter's description %s:\n%s", want, s)
		}
		if tool.Tool.Description != "GetOrder returns a stored order by its ID, or NOT_FOUND." {
			t.Errorf("GetOrder's description = %q", tool.Tool.Description)
		}
	}
}

// registrar keeps the Service a generated Register function builds.
type registrar struct{ svc goms.Service }

func (r *registrar) Register(svc goms.Service) { r.svc = svc }

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// headerTransport adds a header to every request.
type headerTransport struct{ key, value string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.key, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMetadata checks that a tool call passes the request's credentials
// on as metadata, as the gateway's routes do, to the user's interceptors,
// which see the call as any other.
func TestMetadata(t *testing.T) {
	seen := make(chan []string, 1)
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen <- md.Get("authorization")
		return handler(ctx, req)
	}
	s := start(t, mcpConfig(), &rulesServer{}, goms.WithUnaryInterceptors(record))
	cs := connectWith(t, s.HTTPAddr(), nil, &http.Client{Transport: headerTransport{"Authorization", "Bearer t0ken"}})
	if text, isErr := call(t, cs, &sdk.CallToolParams{Name: "fixtures_rules_RulesService_Place", Arguments: map[string]any{"sku": "AB12", "quantity": 1}}); isErr {
		t.Fatalf("Place: %s", text)
	}
	if got := <-seen; !slices.Equal(got, []string{"Bearer t0ken"}) {
		t.Errorf("the interceptor saw authorization %q, want [Bearer t0ken]", got)
	}
}

// TestUpstreamDown checks that in http mode, with the upstream gone, a
// call is an UNAVAILABLE tool error that does not name its address.
func TestUpstreamDown(t *testing.T) {
	upstream := testutil.FreeAddr(t)
	cfg := mcpConfig()
	cfg.Mode, cfg.Upstream = goms.ModeHTTP, upstream
	cfg.Client.ConnectTimeout = time.Millisecond
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	front := goms.New(cfg)
	rules.RegisterRulesService(front, nil)
	echo.RegisterEchoService(front, nil)
	if err := front.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		front.Stop(ctx)
	})
	cs := connect(t, front.HTTPAddr(), nil)
	for _, name := range []string{"fixtures_rules_RulesService_Place", "fixtures_echo_EchoService_Expand"} {
		text, isErr := call(t, cs, &sdk.CallToolParams{Name: name, Arguments: map[string]any{}})
		if !isErr || !strings.Contains(text, `"code":14`) || !strings.Contains(text, "upstream unavailable") || strings.Contains(text, upstream) {
			t.Errorf("%s = %s (isError %v), want UNAVAILABLE without the address %s", name, text, isErr, upstream)
		}
	}
}

// httpKey marks the contexts of requests the test's HTTP tracing saw.
type httpKey struct{}

// recorder is a stats.Handler that records the methods it traces, and
// whether their context came through the HTTP tracing.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s http=%v", info.FullMethodName, ctx.Value(httpKey{}) != nil))
	return ctx
}
func (r *recorder) HandleRPC(context.Context, stats.RPCStats)                         {}
func (r *recorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (r *recorder) HandleConn(context.Context, stats.ConnStats)                       {}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// TestTracing checks that a tool call is traced as any call: on the
// server side, and on the client side as a child of the HTTP request's
// span (here, with the context the HTTP tracing gave the request).
func TestTracing(t *testing.T) {
	server, client := &recorder{}, &recorder{}
	s := start(t, mcpConfig(), &rulesServer{}, goms.WithTracing(goms.Tracing{
		Server: server,
		Client: client,
		HTTP: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), httpKey{}, true)))
			})
		},
	}))
	cs := connect(t, s.HTTPAddr(), nil)
	if text, isErr := call(t, cs, &sdk.CallToolParams{Name: "fixtures_rules_RulesService_Place", Arguments: map[string]any{"sku": "AB12", "quantity": 1}}); isErr {
		t.Fatalf("Place: %s", text)
	}
	want := []string{"/fixtures.rules.RulesService/Place http=true"}
	if got := client.seen(); !slices.Equal(got, want) {
		t.Errorf("client spans %q, want %q", got, want)
	}
	if got := server.seen(); len(got) != 1 || !strings.HasPrefix(got[0], "/fixtures.rules.RulesService/Place ") {
		t.Errorf("server spans %q, want one of Place", got)
	}
}

// TestMalformed checks that malformed requests to /mcp get a 4xx with a
// JSON google.rpc.Status body, and that the endpoint still answers after.
func TestMalformed(t *testing.T) {
	cfg := mcpConfig()
	cfg.HTTP.MaxBodyBytes = 1 << 10
	s := start(t, cfg, &rulesServer{})
	url := "http://" + s.HTTPAddr() + goms.MCPPath
	for _, c := range []struct {
		method, contentType, body string
		status                    int
		code                      int
	}{
		{"POST", "application/json", "{bad", 400, 3},
		{"POST", "application/json", "[]", 400, 3},
		{"POST", "text/plain", "{}", 415, 3},
		{"GET", "", "", 405, 12},
		{"POST", "application/json", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"` + strings.Repeat("x", 2<<10) + `"}}`, 413, 8},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), c.method, url, strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" || err != nil || st.Code != c.code || st.Message == "" {
			t.Errorf("%s %s %.20q: %d %s %+v (%v), want %d with a JSON status of code %d",
				c.method, c.contentType, c.body, resp.StatusCode, resp.Header.Get("Content-Type"), st, err, c.status, c.code)
		}
	}
	cs := connect(t, s.HTTPAddr(), nil)
	if text, isErr := call(t, cs, &sdk.CallToolParams{Name: "fixtures_rules_RulesService_Place", Arguments: map[string]any{"sku": "AB12", "quantity": 1}}); isErr {
		t.Fatalf("Place after malformed requests: %s", text)
	}
}
