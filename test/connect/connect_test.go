package connect_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/examples/shop"
	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/rules"
	"github.com/goms-io/goms/internal/testutil"
	"github.com/goms-io/goms/test/connect/gen/fixtures/echo/echoconnect"
	"github.com/goms-io/goms/test/connect/gen/fixtures/rules/rulesconnect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"

	_ "github.com/goms-io/goms/validate" // protovalidate, as the rules fixture's .goms.go imports it
)

// counter counts the calls the server interceptors see.
type counter struct{ unary, stream atomic.Int64 }

func (c *counter) options() goms.Option {
	return goms.WithOptions(
		goms.WithUnaryInterceptors(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			c.unary.Add(1)
			return h(ctx, req)
		}),
		goms.WithStreamInterceptors(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			c.stream.Add(1)
			return h(srv, ss)
		}),
	)
}

func quiet() goms.Option { return goms.WithLogger(slog.New(slog.DiscardHandler)) }

// start starts s and stops it at the test's end.
func start(t *testing.T, s *goms.Server) *goms.Server {
	t.Helper()
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

// servers starts the echo and rules services behind the HTTP edge in
// gateway mode and in http mode (forwarding to a gRPC-mode backend),
// both counted by c, and returns the base URL of each.
func servers(t *testing.T, c *counter) map[string]string {
	t.Helper()
	register := func(s *goms.Server) {
		echo.RegisterEchoService(s, &echotest.Server{})
		rules.RegisterRulesService(s, rulesServer{})
	}
	backendCfg := goms.DefaultConfig()
	backendCfg.Mode, backendCfg.GRPC.Addr = goms.ModeGRPC, "127.0.0.1:0"
	backend := goms.New(backendCfg, c.options(), quiet())
	register(backend)
	start(t, backend)

	gwCfg := goms.DefaultConfig()
	gwCfg.GRPC.Addr, gwCfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	gw := goms.New(gwCfg, c.options(), quiet())
	register(gw)
	start(t, gw)

	hmCfg := goms.DefaultConfig()
	hmCfg.Mode, hmCfg.HTTP.Addr, hmCfg.Upstream = goms.ModeHTTP, "127.0.0.1:0", backend.GRPCAddr()
	hm := goms.New(hmCfg, quiet())
	echo.RegisterEchoService(hm, nil)
	rules.RegisterRulesService(hm, nil)
	start(t, hm)

	// One port: gRPC and HTTP share it; cleartext HTTP/2 (h2c) is served.
	opCfg := goms.DefaultConfig()
	opCfg.GRPC.Addr = testutil.FreeAddr(t)
	opCfg.HTTP.Addr = opCfg.GRPC.Addr
	op := goms.New(opCfg, c.options(), quiet())
	register(op)
	start(t, op)
	return map[string]string{"gateway": "http://" + gw.HTTPAddr(), "http": "http://" + hm.HTTPAddr(), "oneport": "http://" + op.HTTPAddr()}
}

type rulesServer struct {
	rules.UnimplementedRulesServiceServer
}

func (rulesServer) Place(context.Context, *rules.PlaceRequest) (*rules.PlaceResponse, error) {
	return &rules.PlaceResponse{Count: 1}, nil
}

// h2c is an HTTP client that speaks cleartext HTTP/2, which bidirectional
// streams need.
func h2c() *http.Client {
	tr := &http.Transport{}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	tr.DialTLSContext = func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no TLS") }
	tr.TLSClientConfig = &tls.Config{}
	return &http.Client{Transport: tr}
}

// protocols are connect-go's client protocols and codecs.
var protocols = map[string][]connect.ClientOption{
	"connect-json":  {connect.WithProtoJSON()},
	"connect-proto": nil,
	"grpc-web":      {connect.WithGRPCWeb()},
	"grpc-web-json": {connect.WithGRPCWeb(), connect.WithProtoJSON()},
}

func TestConnectUnary(t *testing.T) {
	var c counter
	for mode, base := range servers(t, &c) {
		for name, opts := range protocols {
			t.Run(mode+"/"+name, func(t *testing.T) {
				client := echoconnect.NewEchoServiceClient(http.DefaultClient, base, opts...)
				before := c.unary.Load()
				resp, err := client.Echo(context.Background(), connect.NewRequest(&echo.EchoRequest{Message: "hi"}))
				if err != nil {
					t.Fatal(err)
				}
				if resp.Msg.GetMessage() != "hi" {
					t.Errorf("message %q, want hi", resp.Msg.GetMessage())
				}
				if n := c.unary.Load() - before; n != 1 {
					t.Errorf("interceptor ran %d times for one call, want 1", n)
				}

				// A header name HTTP allows but gRPC metadata does not:
				// left out of the metadata, not a failed call.
				odd := connect.NewRequest(&echo.EchoRequest{Message: "odd"})
				odd.Header().Set("X-Odd!Name", "1")
				if _, err := client.Echo(context.Background(), odd); err != nil {
					t.Errorf("call with header X-Odd!Name: %v", err)
				}

				resp, err = client.Echo(context.Background(), connect.NewRequest(&echo.EchoRequest{Message: "header"}))
				if err != nil {
					t.Fatal(err)
				}
				if got := resp.Header().Get("X-Served-By"); got != "echo" {
					t.Errorf("header x-served-by %q, want echo", got)
				}

				_, err = client.Echo(context.Background(), connect.NewRequest(&echo.EchoRequest{Message: "details"}))
				var ce *connect.Error
				if !errors.As(err, &ce) {
					t.Fatalf("error %v, want a *connect.Error", err)
				}
				if ce.Code() != connect.CodeFailedPrecondition || ce.Message() != "stock too low" {
					t.Errorf("error %v, want failed_precondition: stock too low", ce)
				}
				if info := errorInfo(t, ce); info.GetReason() != "STOCK_LOW" || info.GetMetadata()["sku"] != "tea" {
					t.Errorf("ErrorInfo %v, want reason STOCK_LOW, sku tea", info)
				}

				// A deadline in the past: the call is not made.
				ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
				defer cancel()
				time.Sleep(time.Millisecond)
				_, err = client.Echo(ctx, connect.NewRequest(&echo.EchoRequest{Message: "late"}))
				if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
					t.Errorf("late call: %v, want deadline_exceeded", err)
				}
			})
		}
	}
}

func errorInfo(t *testing.T, ce *connect.Error) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		if info, ok := v.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("no ErrorInfo in %v", ce.Details())
	return nil
}

func TestConnectStreams(t *testing.T) {
	var c counter
	for mode, base := range servers(t, &c) {
		for name, opts := range protocols {
			t.Run(mode+"/"+name, func(t *testing.T) {
				hc := http.DefaultClient // HTTP/1.1: bidi is full duplex
				if mode == "oneport" {
					hc = h2c()
				}
				client := echoconnect.NewEchoServiceClient(hc, base, opts...)
				ctx := context.Background()
				before := c.stream.Load()

				ss, err := client.Expand(ctx, connect.NewRequest(&echo.EchoRequest{Message: "a b c"}))
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for ss.Receive() {
					got = append(got, ss.Msg().GetMessage())
				}
				if err := ss.Err(); err != nil {
					t.Fatal(err)
				}
				if strings.Join(got, ",") != "a,b,c" {
					t.Errorf("Expand: %q, want a,b,c", got)
				}

				cs := client.Collect(ctx)
				for _, m := range []string{"x", "y"} {
					if err := cs.Send(&echo.EchoRequest{Message: m}); err != nil {
						t.Fatal(err)
					}
				}
				resp, err := cs.CloseAndReceive()
				if err != nil {
					t.Fatal(err)
				}
				if resp.Msg.GetMessage() != "x y" {
					t.Errorf("Collect: %q, want \"x y\"", resp.Msg.GetMessage())
				}

				streams := int64(3)
				// connect-go's client refuses bidirectional streams over
				// HTTP/1.1: the one-port server speaks h2c.
				if mode == "oneport" {
					streams++
					chat(t, client)
				}

				// An error in the middle of a stream, with its details.
				ss, err = client.Expand(ctx, connect.NewRequest(&echo.EchoRequest{Message: "ok details"}))
				if err != nil {
					t.Fatal(err)
				}
				for ss.Receive() {
				}
				var ce *connect.Error
				if !errors.As(ss.Err(), &ce) || ce.Code() != connect.CodeFailedPrecondition {
					t.Fatalf("Expand with details: %v, want failed_precondition", ss.Err())
				}
				errorInfo(t, ce)

				if n := c.stream.Load() - before; n != streams {
					t.Errorf("stream interceptor ran %d times for %d streams", n, streams)
				}
			})
		}
	}
}

// chat runs a bidirectional stream: each answer before the next message.
func chat(t *testing.T, client echoconnect.EchoServiceClient) {
	t.Helper()
	bs := client.Chat(context.Background())
	for _, m := range []string{"one", "two"} {
		if err := bs.Send(&echo.EchoRequest{Message: m}); err != nil {
			t.Fatal(err)
		}
		r, err := bs.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetMessage() != "re: "+m {
			t.Errorf("Chat: %q, want re: %s", r.GetMessage(), m)
		}
	}
	if err := bs.CloseRequest(); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Receive(); err == nil {
		t.Error("Chat: a message after the end")
	}
	_ = bs.CloseResponse()
}

func TestConnectValidation(t *testing.T) {
	var c counter
	for mode, base := range servers(t, &c) {
		for name, opts := range protocols {
			t.Run(mode+"/"+name, func(t *testing.T) {
				client := rulesconnect.NewRulesServiceClient(http.DefaultClient, base, opts...)
				resp, err := client.Place(context.Background(), connect.NewRequest(&rules.PlaceRequest{Sku: "AB12", Quantity: 1}))
				if err != nil {
					t.Fatal(err)
				}
				if resp.Msg.GetCount() != 1 {
					t.Errorf("count %d, want 1", resp.Msg.GetCount())
				}
				_, err = client.Place(context.Background(), connect.NewRequest(&rules.PlaceRequest{Sku: "ab", Quantity: 0}))
				var ce *connect.Error
				if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
					t.Fatalf("invalid order: %v, want invalid_argument", err)
				}
				var fields []string
				for _, d := range ce.Details() {
					if v, err := d.Value(); err == nil {
						if br, ok := v.(*errdetails.BadRequest); ok {
							for _, fv := range br.GetFieldViolations() {
								fields = append(fields, fv.GetField())
							}
						}
					}
				}
				if strings.Join(fields, ",") != "sku,sku,quantity" {
					t.Errorf("BadRequest fields %q, want sku (length, pattern), quantity", fields)
				}
			})
		}
	}
}

// TestConnectGet calls a NO_SIDE_EFFECTS method of the example with
// connect-go's GET requests, and checks that a method with side effects
// is not served on GET.
func TestConnectGet(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg, quiet())
	shop.Register(s)
	start(t, s)
	for _, opts := range [][]connect.ClientOption{{connect.WithProtoJSON()}, nil} {
		var sawGet bool
		hc := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			sawGet = sawGet || r.Method == http.MethodGet
			return http.DefaultTransport.RoundTrip(r)
		})}
		client := connect.NewClient[catalogv1.GetProductRequest, catalogv1.GetProductResponse](hc,
			"http://"+s.HTTPAddr()+"/shop.catalog.v1.CatalogService/GetProduct",
			append(opts, connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects))...)
		resp, err := client.CallUnary(context.Background(), connect.NewRequest(&catalogv1.GetProductRequest{Id: "tea"}))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Msg.GetProduct().GetId() != "tea" || !sawGet {
			t.Errorf("GET GetProduct: %v (GET sent: %v)", resp.Msg, sawGet)
		}
		_, err = client.CallUnary(context.Background(), connect.NewRequest(&catalogv1.GetProductRequest{Id: "nope"}))
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("GET of a missing product: %v, want not_found", err)
		}
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestConnectOff checks that http.connect: false leaves the gRPC paths to
// REST, which has no route there.
func TestConnectOff(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.HTTP.Connect = false
	s := echotest.Serve(t, cfg, quiet())
	client := echoconnect.NewEchoServiceClient(http.DefaultClient, "http://"+s.HTTPAddr(), connect.WithProtoJSON())
	_, err := client.Echo(context.Background(), connect.NewRequest(&echo.EchoRequest{Message: "hi"}))
	if connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Errorf("with http.connect false: %v, want unimplemented (404)", err)
	}
}
