package connect_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/rules"
	"github.com/goms-io/goms/internal/testutil"
	"github.com/goms-io/goms/test/connect/gen/fixtures/echo/echoconnect"
	"github.com/goms-io/goms/test/connect/gen/fixtures/rules/rulesconnect"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // the details' types, for protojson
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	_ "github.com/goms-io/goms/mcp" // MCP tools at /mcp (mcp.tools)
)

// The differential test (issue 17): one seeded set of valid and invalid
// requests to the echo and rules fixtures (unary, server, client and bidi
// streams) goes over every transport GoMs serves, and every transport
// must give the same outcome as gRPC over the network: the same code, the
// same details and the same response messages, all protojson-normalised.
// Status messages are not compared: they are text for people, and
// transports word decoding errors their own way.

// diffSeed seeds the request set; the test prints it.
const diffSeed = 17

// diffCases is how many requests the seed draws.
const diffCases = 120

// dcase is one request of the set.
type dcase struct {
	name   string
	method string          // Echo, EchoBody, Expand, Collect, Chat, Place, PlaceMany
	reqs   []proto.Message // the request, or a stream's requests
	raw    string          // malformed JSON request body, instead of reqs (Place only)
	// midError is set for an Expand whose error follows some messages.
	midError bool
}

// outcome is a call's result, normalised.
type outcome struct {
	Code    string   `json:"code"`
	Details []string `json:"details,omitempty"`
	Msgs    []string `json:"msgs,omitempty"`
}

func (o outcome) String() string { b, _ := json.Marshal(o); return string(b) }

// canon is m's protojson with its keys sorted and no space.
func canon(m proto.Message) string {
	b, err := protojson.Marshal(m)
	if err != nil {
		return "!" + err.Error()
	}
	return canonJSON(b)
}

func canonJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "!" + err.Error()
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// detail is a detail's type and JSON.
func detail(m proto.Message) string {
	return string(m.ProtoReflect().Descriptor().FullName()) + " " + canon(m)
}

// fromStatus is the outcome of an error status st, after msgs.
func fromStatus(st *statuspb.Status, msgs []string) outcome {
	o := outcome{Code: codes.Code(st.GetCode()).String(), Msgs: msgs}
	for _, a := range st.GetDetails() {
		m, err := a.UnmarshalNew()
		if err != nil {
			o.Details = append(o.Details, "!"+a.GetTypeUrl())
			continue
		}
		o.Details = append(o.Details, detail(m))
	}
	return o
}

// fromErr is the outcome of err (nil: OK) after msgs, from a gRPC or
// connect-go client.
func fromErr(err error, msgs []string) outcome {
	if err == nil {
		return outcome{Code: codes.OK.String(), Msgs: msgs}
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		o := outcome{Code: codes.Code(ce.Code()).String(), Msgs: msgs}
		for _, d := range ce.Details() {
			m, err := d.Value()
			if err != nil {
				o.Details = append(o.Details, "!"+d.Type())
				continue
			}
			o.Details = append(o.Details, detail(m))
		}
		return o
	}
	return fromStatus(status.Convert(err).Proto(), msgs)
}

// draw draws the request set from r.
func draw(r *rand.Rand, n int) []dcase {
	words := []string{"tea", "cup", "milk", "sugar", "lemon", "scone", "jam"}
	word := func() string { return words[r.IntN(len(words))] }
	special := func() string {
		if r.IntN(4) == 0 {
			return []string{"details", "panic"}[r.IntN(2)]
		}
		return word()
	}
	place := func() *rules.PlaceRequest {
		p := &rules.PlaceRequest{Sku: fmt.Sprintf("SKU%d", r.IntN(1000)), Quantity: int32(1 + r.IntN(9))}
		for range r.IntN(3) {
			p.Lines = append(p.Lines, &rules.Line{Note: word()})
		}
		switch r.IntN(6) { // one in two breaks a rule
		case 0:
			p.Sku = strings.ToLower(p.Sku)
		case 1:
			p.Quantity = -p.Quantity
		case 2:
			p.Sku, p.Quantity = "X", 0
		}
		if r.IntN(6) == 0 {
			p.Lines = append(p.Lines, &rules.Line{Note: "far too long"})
		}
		return p
	}
	malformed := []string{`{"sku":`, `{"sku":5,"quantity":1}`, `{"sku":"AB12","bogus":1}`, `{"quantity":"many"}`, `[1,2]`}
	var cases []dcase
	for i := range n {
		c := dcase{name: fmt.Sprintf("%03d", i)}
		switch r.IntN(8) {
		case 0:
			c.method, c.reqs = "Echo", []proto.Message{&echo.EchoRequest{Message: special()}}
		case 1:
			c.method, c.reqs = "EchoBody", []proto.Message{&echo.EchoRequest{Message: special()}}
		case 2:
			var ws []string
			for j := range 1 + r.IntN(4) {
				w := special()
				if (w == "details" || w == "panic") && j > 0 {
					c.midError = true
				}
				ws = append(ws, w)
				if w == "details" || w == "panic" {
					break
				}
			}
			c.method, c.reqs = "Expand", []proto.Message{&echo.EchoRequest{Message: strings.Join(ws, " ")}}
		case 3:
			c.method = "Collect"
			for range r.IntN(4) {
				c.reqs = append(c.reqs, &echo.EchoRequest{Message: word()})
			}
		case 4:
			c.method = "Chat"
			for range r.IntN(4) {
				c.reqs = append(c.reqs, &echo.EchoRequest{Message: word()})
			}
		case 5:
			c.method, c.reqs = "Place", []proto.Message{place()}
		case 6:
			c.method = "PlaceMany"
			for range r.IntN(4) {
				c.reqs = append(c.reqs, place())
			}
		case 7:
			c.method, c.raw = "Place", malformed[r.IntN(len(malformed))]
		}
		c.name += "/" + c.method
		cases = append(cases, c)
	}
	return cases
}

// diffRules implements the rules fixture, PlaceMany too.
type diffRules struct {
	rules.UnimplementedRulesServiceServer
}

func (diffRules) Place(context.Context, *rules.PlaceRequest) (*rules.PlaceResponse, error) {
	return &rules.PlaceResponse{Count: 1}, nil
}

func (diffRules) PlaceMany(stream grpc.ClientStreamingServer[rules.PlaceRequest, rules.PlaceResponse]) error {
	var n int32
	for {
		if _, err := stream.Recv(); err == io.EOF {
			return stream.SendAndClose(&rules.PlaceResponse{Count: n})
		} else if err != nil {
			return err
		}
		n++
	}
}

// transport calls one case, or says why it cannot express it.
type transport struct {
	name string
	skip func(c dcase) string
	call func(t *testing.T, c dcase) outcome
	// lossy, if set, drops from both outcomes what the transport cannot
	// carry (see skipTable).
	lossy func(outcome) outcome
}

// protobufOnly is the skip of transports whose requests are protobuf
// binary: a malformed JSON body is not a thing they can send.
func protobufOnly(c dcase) string {
	if c.raw != "" {
		return "requests are protobuf binary: no JSON to malform"
	}
	return ""
}

// noBidi adds to skip the bidi stream, for Connect and gRPC-Web in http
// mode: its HTTP port in cleartext is HTTP/1.1 only (h2c is one-port
// mode's), and connect-go's bidi streams need HTTP/2.
func noBidi(skip func(dcase) string) func(dcase) string {
	return func(c dcase) string {
		if c.method == "Chat" {
			return "bidi needs HTTP/2; http mode's cleartext port is HTTP/1.1"
		}
		return skip(c)
	}
}

// skipTable lists, for the record, every transport × case kind that the
// test leaves out, and why (the transports' skip functions apply it).
var skipTable = []struct{ transport, cases, reason string }{
	{"grpc, inprocess, connect-proto, grpc-web", "malformed JSON", "requests are protobuf binary: no JSON to malform"},
	{"rest-h1, rest-h2c, connect-json, grpc-web-json", "malformed protobuf", "requests are JSON"},
	{"mcp", "Collect, Chat, PlaceMany", "MCP tools are unary calls: mcp.tools refuses client and bidi streams"},
	{"mcp", "malformed JSON that is no JSON object", "the SDK client sends arguments as a JSON object; a text that is not one is a JSON-RPC error, not a tool call"},
	{"mcp", "Expand failing after messages", "the error result carries no messages: those before it came as progress notifications"},
	{"connect-json, connect-proto, grpc-web, grpc-web-json", "Chat over HTTP/1.1", "connect-go's bidi needs HTTP/2: Chat goes over h2c to the one-port server"},
	{"http-mode/connect-json, http-mode/connect-proto, http-mode/grpc-web, http-mode/grpc-web-json", "Chat", "connect-go's bidi needs HTTP/2, and http mode's cleartext HTTP port is HTTP/1.1 only (h2c is one-port mode's); grpc-web-text's client here sends its whole body first, so it takes Chat over HTTP/1.1"},
	{"connect-get-json, connect-get-proto", "all but Echo", "GET is for NO_SIDE_EFFECTS methods, and Echo is the fixtures' one"},
	{"grpc-web-text", "malformed JSON", "requests are protobuf binary (base64): no JSON to malform"},
	{"rest-sse", "all but Expand", "Server-Sent Events are a format of server streams"},
	{"rest-websocket", "Echo, Expand", "WebSockets are served on routes with a body (POST): Echo and Expand are GET routes"},
	{"rest-websocket", "an error's details (compared without)", "a WebSocket ends with a close frame: a code (4000 + the gRPC code) and a reason of at most 123 bytes, no room for details"},
}

func TestDifferential(t *testing.T) {
	var c counter
	register := func(s *goms.Server) {
		echo.RegisterEchoService(s, &echotest.Server{})
		rules.RegisterRulesService(s, diffRules{})
	}
	gwCfg := goms.DefaultConfig()
	gwCfg.GRPC.Addr, gwCfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	gwCfg.MCP.Tools = []string{"fixtures.rules.RulesService/Place", "fixtures.echo.EchoService"}
	gw := goms.New(gwCfg, c.options(), quiet())
	register(gw)
	start(t, gw)
	opCfg := goms.DefaultConfig()
	opCfg.GRPC.Addr = testutil.FreeAddr(t)
	opCfg.HTTP.Addr = opCfg.GRPC.Addr
	op := goms.New(opCfg, c.options(), quiet())
	register(op)
	start(t, op)

	// http mode: an edge with no services of its own forwards to a
	// gRPC-mode backend, whose interceptors count the calls.
	beCfg := goms.DefaultConfig()
	beCfg.Mode, beCfg.GRPC.Addr = goms.ModeGRPC, "127.0.0.1:0"
	be := goms.New(beCfg, c.options(), quiet())
	register(be)
	start(t, be)
	hmCfg := goms.DefaultConfig()
	hmCfg.Mode, hmCfg.HTTP.Addr, hmCfg.Upstream = goms.ModeHTTP, "127.0.0.1:0", be.GRPCAddr()
	hmCfg.MCP.Tools = gwCfg.MCP.Tools
	hm := goms.New(hmCfg, quiet())
	echo.RegisterEchoService(hm, nil)
	rules.RegisterRulesService(hm, nil)
	start(t, hm)

	conn, err := grpc.NewClient(gw.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	gwBase, opBase, hmBase := "http://"+gw.HTTPAddr(), "http://"+op.HTTPAddr(), "http://"+hm.HTTPAddr()
	h2 := h2c()

	grpcLike := func(ec echo.EchoServiceClient, rc rules.RulesServiceClient) func(*testing.T, dcase) outcome {
		return func(t *testing.T, c dcase) outcome { return callGRPC(t.Context(), ec, rc, c) }
	}
	// connectLike calls with connect-go's client over HTTP/1.1 to base,
	// but Chat over h2c to chatBase (bidi needs HTTP/2).
	connectLike := func(base, chatBase string, opts ...connect.ClientOption) func(*testing.T, dcase) outcome {
		ec1 := echoconnect.NewEchoServiceClient(http.DefaultClient, base, opts...)
		rc1 := rulesconnect.NewRulesServiceClient(http.DefaultClient, base, opts...)
		ec2 := echoconnect.NewEchoServiceClient(h2, chatBase, opts...)
		return func(t *testing.T, c dcase) outcome {
			if c.method == "Chat" {
				return callConnect(t.Context(), ec2, rc1, c)
			}
			return callConnect(t.Context(), ec1, rc1, c)
		}
	}
	connectJSON := func(base, chatBase string) func(*testing.T, dcase) outcome {
		call := connectLike(base, chatBase, connect.WithProtoJSON())
		return func(t *testing.T, c dcase) outcome {
			if c.raw != "" {
				return rawConnect(t, base, c)
			}
			return call(t, c)
		}
	}
	rest := func(hc *http.Client, base string) func(*testing.T, dcase) outcome {
		return func(t *testing.T, c dcase) outcome { return callREST(t, hc, base, c) }
	}
	mcpAt := func(addr string) func(*testing.T, dcase) outcome {
		cs := mcpConnect(t, addr)
		return func(t *testing.T, c dcase) outcome { return callMCP(t, cs, c) }
	}
	grpcWebJSON := func(base, chatBase string) func(*testing.T, dcase) outcome {
		call := connectLike(base, chatBase, connect.WithGRPCWeb(), connect.WithProtoJSON())
		return func(t *testing.T, c dcase) outcome {
			if c.raw != "" {
				return callGRPCWebRaw(t, base, c, grpcWebJSONType)
			}
			return call(t, c)
		}
	}
	grpcWebText := func(base string) func(*testing.T, dcase) outcome {
		return func(t *testing.T, c dcase) outcome { return callGRPCWebRaw(t, base, c, grpcWebTextType) }
	}
	sse := func(base string) func(*testing.T, dcase) outcome {
		return func(t *testing.T, c dcase) outcome { return callSSE(t, base, c) }
	}
	ws := func(base string) func(*testing.T, dcase) outcome {
		return func(t *testing.T, c dcase) outcome { return callWebSocket(t, base, c) }
	}
	none := func(dcase) string { return "" }
	transports := []transport{
		{"grpc", protobufOnly, grpcLike(echo.NewEchoServiceClient(conn), rules.NewRulesServiceClient(conn)), nil},
		{"inprocess", protobufOnly, grpcLike(echo.NewEchoServiceClientFrom(gw), rules.NewRulesServiceClientFrom(gw)), nil},
		{"rest-h1", none, rest(http.DefaultClient, gwBase), nil},
		{"rest-h2c", none, rest(h2, opBase), nil},
		{"rest-sse", sseOnly, sse(gwBase), nil},
		{"rest-websocket", wsSkip, ws(gwBase), wsLossy},
		{"connect-json", none, connectJSON(gwBase, opBase), nil},
		{"connect-proto", protobufOnly, connectLike(gwBase, opBase), nil},
		{"connect-get-json", getOnly, connectGet(t, gwBase, connect.WithProtoJSON()), nil},
		{"connect-get-proto", getOnly, connectGet(t, gwBase), nil},
		{"grpc-web", protobufOnly, connectLike(gwBase, opBase, connect.WithGRPCWeb()), nil},
		{"grpc-web-json", none, grpcWebJSON(gwBase, opBase), nil},
		{"grpc-web-text", protobufOnly, grpcWebText(gwBase), nil},
		{"mcp", mcpSkip, mcpAt(gw.HTTPAddr()), nil},
		{"http-mode/rest-h1", none, rest(http.DefaultClient, hmBase), nil},
		{"http-mode/rest-sse", sseOnly, sse(hmBase), nil},
		{"http-mode/rest-websocket", wsSkip, ws(hmBase), wsLossy},
		{"http-mode/connect-json", noBidi(none), connectJSON(hmBase, hmBase), nil},
		{"http-mode/connect-proto", noBidi(protobufOnly), connectLike(hmBase, hmBase), nil},
		{"http-mode/connect-get-json", getOnly, connectGet(t, hmBase, connect.WithProtoJSON()), nil},
		{"http-mode/connect-get-proto", getOnly, connectGet(t, hmBase), nil},
		{"http-mode/grpc-web", noBidi(protobufOnly), connectLike(hmBase, hmBase, connect.WithGRPCWeb()), nil},
		{"http-mode/grpc-web-json", noBidi(none), grpcWebJSON(hmBase, hmBase), nil},
		{"http-mode/grpc-web-text", protobufOnly, grpcWebText(hmBase), nil},
		{"http-mode/mcp", mcpSkip, mcpAt(hm.HTTPAddr()), nil},
	}

	r := rand.New(rand.NewPCG(diffSeed, diffSeed))
	cases := append(draw(r, diffCases), earlyCases()...)
	t.Logf("seed %d: %d requests, and %d answered before their body's end", diffSeed, diffCases, len(earlyCases()))
	for _, s := range skipTable {
		t.Logf("skipped: %s × %s: %s", s.transport, s.cases, s.reason)
	}

	var calls, comparisons, skips, diffs int
	for _, dc := range cases {
		var ref outcome
		var refFrom string
		for _, tr := range transports {
			if why := tr.skip(dc); why != "" {
				skips++
				continue
			}
			before := c.unary.Load() + c.stream.Load()
			got := tr.call(t, dc)
			calls++
			ran := c.unary.Load() + c.stream.Load() - before
			want := int64(1)
			if dc.raw != "" {
				want = 0 // refused before the interceptors: nothing to call
			}
			if ran != want {
				t.Errorf("%s over %s: %d interceptor runs, want %d", dc.name, tr.name, ran, want)
			}
			if refFrom == "" {
				ref, refFrom = got, tr.name
				continue
			}
			comparisons++
			expect := ref
			if tr.lossy != nil {
				got, expect = tr.lossy(got), tr.lossy(ref)
			}
			if got.String() != expect.String() {
				diffs++
				t.Errorf("%s %v%s: %s gives\n  %s\n%s gives\n  %s", dc.name, dc.reqs, dc.raw, tr.name, got, refFrom, expect)
			}
		}
	}
	t.Logf("%d requests, %d transports, %d calls, %d comparisons, %d skipped, %d differences", len(cases), len(transports), calls, comparisons, skips, diffs)
}

// callGRPC calls c with a gRPC client (over the network or in-process).
func callGRPC(ctx context.Context, ec echo.EchoServiceClient, rc rules.RulesServiceClient, c dcase) outcome {
	var msgs []string
	one := func(m proto.Message, err error) outcome {
		if err != nil {
			return fromErr(err, nil)
		}
		return fromErr(nil, []string{canon(m)})
	}
	switch c.method {
	case "Echo":
		return one(ec.Echo(ctx, c.reqs[0].(*echo.EchoRequest)))
	case "EchoBody":
		return one(ec.EchoBody(ctx, c.reqs[0].(*echo.EchoRequest)))
	case "Place":
		return one(rc.Place(ctx, c.reqs[0].(*rules.PlaceRequest)))
	case "Expand":
		s, err := ec.Expand(ctx, c.reqs[0].(*echo.EchoRequest))
		if err != nil {
			return fromErr(err, nil)
		}
		for {
			m, err := s.Recv()
			if err == io.EOF {
				return fromErr(nil, msgs)
			}
			if err != nil {
				return fromErr(err, msgs)
			}
			msgs = append(msgs, canon(m))
		}
	case "Collect":
		s, err := ec.Collect(ctx)
		if err != nil {
			return fromErr(err, nil)
		}
		for _, m := range c.reqs {
			_ = s.Send(m.(*echo.EchoRequest)) // an early error shows in CloseAndRecv
		}
		return one(s.CloseAndRecv())
	case "PlaceMany":
		s, err := rc.PlaceMany(ctx)
		if err != nil {
			return fromErr(err, nil)
		}
		for _, m := range c.reqs {
			_ = s.Send(m.(*rules.PlaceRequest))
		}
		return one(s.CloseAndRecv())
	case "Chat":
		s, err := ec.Chat(ctx)
		if err != nil {
			return fromErr(err, nil)
		}
		for _, m := range c.reqs {
			_ = s.Send(m.(*echo.EchoRequest))
		}
		_ = s.CloseSend()
		for {
			m, err := s.Recv()
			if err == io.EOF {
				return fromErr(nil, msgs)
			}
			if err != nil {
				return fromErr(err, msgs)
			}
			msgs = append(msgs, canon(m))
		}
	}
	panic("no method " + c.method)
}

// callConnect calls c with connect-go's client.
func callConnect(ctx context.Context, ec echoconnect.EchoServiceClient, rc rulesconnect.RulesServiceClient, c dcase) outcome {
	var msgs []string
	switch c.method {
	case "Echo":
		resp, err := ec.Echo(ctx, connect.NewRequest(c.reqs[0].(*echo.EchoRequest)))
		if err != nil {
			return fromErr(err, nil)
		}
		return fromErr(nil, []string{canon(resp.Msg)})
	case "EchoBody":
		resp, err := ec.EchoBody(ctx, connect.NewRequest(c.reqs[0].(*echo.EchoRequest)))
		if err != nil {
			return fromErr(err, nil)
		}
		return fromErr(nil, []string{canon(resp.Msg)})
	case "Place":
		resp, err := rc.Place(ctx, connect.NewRequest(c.reqs[0].(*rules.PlaceRequest)))
		if err != nil {
			return fromErr(err, nil)
		}
		return fromErr(nil, []string{canon(resp.Msg)})
	case "Expand":
		s, err := ec.Expand(ctx, connect.NewRequest(c.reqs[0].(*echo.EchoRequest)))
		if err != nil {
			return fromErr(err, nil)
		}
		defer s.Close()
		for s.Receive() {
			msgs = append(msgs, canon(s.Msg()))
		}
		return fromErr(s.Err(), msgs)
	case "Collect":
		s := ec.Collect(ctx)
		for _, m := range c.reqs {
			_ = s.Send(m.(*echo.EchoRequest))
		}
		resp, err := s.CloseAndReceive()
		if err != nil {
			return fromErr(err, nil)
		}
		return fromErr(nil, []string{canon(resp.Msg)})
	case "PlaceMany":
		s := rc.PlaceMany(ctx)
		for _, m := range c.reqs {
			_ = s.Send(m.(*rules.PlaceRequest))
		}
		resp, err := s.CloseAndReceive()
		if err != nil {
			return fromErr(err, nil)
		}
		return fromErr(nil, []string{canon(resp.Msg)})
	case "Chat":
		s := ec.Chat(ctx)
		for _, m := range c.reqs {
			_ = s.Send(m.(*echo.EchoRequest))
		}
		_ = s.CloseRequest()
		for {
			m, err := s.Receive()
			if errors.Is(err, io.EOF) {
				_ = s.CloseResponse()
				return fromErr(nil, msgs)
			}
			if err != nil {
				return fromErr(err, msgs)
			}
			msgs = append(msgs, canon(m))
		}
	}
	panic("no method " + c.method)
}

// restRoutes are the fixtures' HTTP rules: method, path, response type.
func restRequest(base string, c dcase) (*http.Request, proto.Message) {
	jsonBody := func() io.Reader {
		if c.raw != "" {
			return strings.NewReader(c.raw)
		}
		var b bytes.Buffer
		for _, m := range c.reqs {
			j, _ := protojson.Marshal(m)
			b.Write(j)
			b.WriteByte('\n')
		}
		return &b
	}
	var method, path string
	var resp proto.Message = &echo.EchoResponse{}
	switch c.method {
	case "Echo":
		method, path = http.MethodGet, "/v1/echo/"+url.PathEscape(c.reqs[0].(*echo.EchoRequest).GetMessage())
	case "Expand":
		method, path = http.MethodGet, "/v1/expand/"+url.PathEscape(c.reqs[0].(*echo.EchoRequest).GetMessage())
	case "EchoBody":
		method, path = http.MethodPost, "/v1/echo"
	case "Collect":
		method, path = http.MethodPost, "/v1/collect"
	case "Chat":
		method, path = http.MethodPost, "/v1/chat"
	case "Place":
		method, path, resp = http.MethodPost, "/v1/orders", &rules.PlaceResponse{}
	case "PlaceMany":
		method, path, resp = http.MethodPost, "/v1/orders:many", &rules.PlaceResponse{}
	}
	var body io.Reader
	if method == http.MethodPost {
		body = jsonBody()
	}
	req, _ := http.NewRequest(method, base+path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, resp
}

// callREST calls c's REST route: the answer is one JSON message, or
// newline-delimited {"result": …} lines for server and bidi streams;
// an error is the google.rpc.Status JSON body (or last line).
func callREST(t *testing.T, hc *http.Client, base string, c dcase) outcome {
	req, respType := restRequest(base, c)
	resp, err := hc.Do(req.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	statusOf := func(b []byte, msgs []string) outcome {
		st := &statuspb.Status{}
		if err := protojson.Unmarshal(b, st); err != nil {
			return outcome{Code: "!not a status: " + string(b)}
		}
		return fromStatus(st, msgs)
	}
	msgOf := func(b []byte) string {
		m := respType.ProtoReflect().New().Interface()
		if err := protojson.Unmarshal(b, m); err != nil {
			return "!" + string(b)
		}
		return canon(m)
	}
	if c.method != "Expand" && c.method != "Chat" {
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return statusOf(b, nil)
		}
		return fromErr(nil, []string{msgOf(b)})
	}
	var msgs []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Bytes()
		var r struct {
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(line, &r) == nil && r.Result != nil {
			msgs = append(msgs, msgOf(r.Result))
			continue
		}
		return statusOf(line, msgs)
	}
	return fromErr(nil, msgs)
}

// rawConnect posts c's malformed JSON to Place with the Connect protocol.
func rawConnect(t *testing.T, base string, c dcase) outcome {
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/fixtures.rules.RulesService/Place", strings.NewReader(c.raw))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		m := &rules.PlaceResponse{}
		if err := protojson.Unmarshal(b, m); err != nil {
			return outcome{Code: "!" + string(b)}
		}
		return fromErr(nil, []string{canon(m)})
	}
	var e struct {
		Code    connect.Code `json:"code"`
		Details []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"details"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return outcome{Code: "!not a Connect error: " + string(b)}
	}
	st := &statuspb.Status{Code: int32(e.Code)}
	for _, d := range e.Details {
		v, _ := base64.RawStdEncoding.DecodeString(strings.TrimRight(d.Value, "="))
		st.Details = append(st.Details, &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type, Value: v})
	}
	return fromStatus(st, nil)
}

// mcpSkip says which cases MCP cannot express.
func mcpSkip(c dcase) string {
	switch {
	case c.method == "Collect" || c.method == "Chat" || c.method == "PlaceMany":
		return "MCP tools are unary calls"
	case c.raw != "" && !json.Valid([]byte(c.raw)), c.raw != "" && !strings.HasPrefix(c.raw, "{"):
		return "arguments are a JSON object"
	case c.midError:
		return "the error result carries no messages"
	}
	return ""
}

// mcpConnect connects the SDK's client to addr's /mcp.
func mcpConnect(t *testing.T, addr string) *sdk.ClientSession {
	t.Helper()
	cl := sdk.NewClient(&sdk.Implementation{Name: "goms-differential", Version: "1"}, nil)
	cs, err := cl.Connect(t.Context(), &sdk.StreamableClientTransport{Endpoint: "http://" + addr + goms.MCPPath, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

var mcpTools = map[string]string{
	"Echo":     "fixtures_echo_EchoService_Echo",
	"EchoBody": "fixtures_echo_EchoService_EchoBody",
	"Expand":   "fixtures_echo_EchoService_Expand",
	"Place":    "fixtures_rules_RulesService_Place",
}

// callMCP calls c's tool: the result is the response's JSON, or
// {"messages": […]} for a server stream; an error result is the
// google.rpc.Status JSON.
func callMCP(t *testing.T, cs *sdk.ClientSession, c dcase) outcome {
	args := map[string]any{}
	raw := []byte(c.raw)
	if c.raw == "" {
		raw, _ = protojson.Marshal(c.reqs[0])
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: mcpTools[c.method], Arguments: args})
	if err != nil {
		t.Fatalf("%s: CallTool: %v", c.name, err)
	}
	if len(res.Content) != 1 {
		return outcome{Code: fmt.Sprintf("!%d contents", len(res.Content))}
	}
	text, ok := res.Content[0].(*sdk.TextContent)
	if !ok {
		return outcome{Code: fmt.Sprintf("!content %T", res.Content[0])}
	}
	if res.IsError {
		st := &statuspb.Status{}
		if err := protojson.Unmarshal([]byte(text.Text), st); err != nil {
			return outcome{Code: "!not a status: " + text.Text}
		}
		return fromStatus(st, nil)
	}
	var respType proto.Message = &echo.EchoResponse{}
	if c.method == "Place" {
		respType = &rules.PlaceResponse{}
	}
	msgOf := func(b []byte) string {
		m := respType.ProtoReflect().New().Interface()
		if err := protojson.Unmarshal(b, m); err != nil {
			return "!" + string(b)
		}
		return canon(m)
	}
	if c.method != "Expand" {
		return fromErr(nil, []string{msgOf([]byte(text.Text))})
	}
	var r struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal([]byte(text.Text), &r); err != nil {
		return outcome{Code: "!" + text.Text}
	}
	var msgs []string
	for _, m := range r.Messages {
		msgs = append(msgs, msgOf(m))
	}
	return fromErr(nil, msgs)
}
