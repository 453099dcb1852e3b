// Package setup starts the server set-ups that package bench's benchmarks
// compare, and the load-test server (bench/cmd/benchserver, driven by
// scripts/load.sh) serves: the same echo service, built here, in every
// set-up (EchoService; ConnectEchoService, its twin with connect-go's
// signatures, for the peers in peers.go), so that only the server side
// differs between the variants of a comparison; and the deployments of the example shop's service chain
// (chain.go). It is internal to bench: not part of GoMs's API.
package setup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/goms-io/goms"
	vtecho "github.com/goms-io/goms/bench/internal/gen/bench/vtecho/v1"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// EchoService is the service every set-up serves: it answers at once,
// without recording anything, so that the benchmarks measure the framework
// rather than the handler.
type EchoService struct {
	echo.UnimplementedEchoServiceServer
}

// Echo returns the request's message.
func (EchoService) Echo(_ context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	return &echo.EchoResponse{Message: req.GetMessage()}, nil
}

// EchoBody returns the request's message.
func (EchoService) EchoBody(_ context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	return &echo.EchoResponse{Message: req.GetMessage()}, nil
}

// Expand sends one response per space-separated word of the message.
func (EchoService) Expand(req *echo.EchoRequest, stream grpc.ServerStreamingServer[echo.EchoResponse]) error {
	for word := range strings.FieldsSeq(req.GetMessage()) {
		if err := stream.Send(&echo.EchoResponse{Message: word}); err != nil {
			return err
		}
	}
	return nil
}

// Impl names a server set-up.
type Impl string

// The set-ups. Every HTTP server is a net/http server on a loopback socket
// with the same settings as GoMs's; every gRPC server a grpc.Server on a
// loopback socket.
const (
	// GoMs is a GoMs server in gateway mode with its defaults (recovery
	// interceptors, health, reflection): gRPC, and an HTTP gateway that
	// calls the service through the in-process connection.
	GoMs Impl = "goms"
	// GoMsVT is the GoMs set-up with GoMs's opt-in fast codec
	// (github.com/goms-io/goms/vtcodec, on protoc-gen-go-vtproto's code),
	// serving bench.vtecho.v1.EchoService, the Echo of the fixtures'
	// service field for field, generated with fast_codec=vtproto
	// (bench/vtecho.buf.gen.yaml). The codec is process-wide: every
	// set-up of the process goes through it, and it hands messages
	// without vtproto's methods (all but this set-up's) to grpc-go's
	// proto codec.
	GoMsVT Impl = "goms-vt"
	// GRPC is a bare grpc.Server: no interceptors, no HTTP.
	GRPC Impl = "grpc"
	// GatewayInProc is raw grpc-gateway calling the implementation directly
	// (RegisterEchoServiceHandlerServer): no gRPC server, no interceptors,
	// no streaming.
	GatewayInProc Impl = "gateway-inproc"
	// GatewayEndpoint is raw grpc-gateway forwarding over a loopback gRPC
	// connection (RegisterEchoServiceHandlerFromEndpoint) to a bare
	// grpc.Server in the same process.
	GatewayEndpoint Impl = "gateway-endpoint"
	// GoMsHTTP is a GoMs server in http mode forwarding over a loopback gRPC
	// connection to a GoMs server in grpc mode in the same process: the
	// split deployment, run in one process.
	GoMsHTTP Impl = "goms-http"
	// Connect is a connect-go handler, no interceptors, on a net/http
	// server that speaks HTTP/1.1 and h2c: the Connect protocol over
	// HTTP (POST /fixtures.echo.EchoService/<Method>, JSON or proto) and
	// gRPC over h2c, on the same port (peers.go).
	Connect Impl = "connect"
	// Vanguard is vanguard's transcoder in front of the Connect set-up's
	// handler: REST from the proto's google.api.http rules, transcoded to
	// the connect-go handler (peers.go).
	Vanguard Impl = "vanguard"
	// GoMsConnect is the GoMs set-up called in the Connect protocol, as
	// the Connect set-up is (GoMs's own protocol code on its HTTP port,
	// then the in-process connection).
	GoMsConnect Impl = "goms-connect"
)

// Impls lists every set-up.
var Impls = []Impl{GoMs, GoMsVT, GRPC, GatewayInProc, GatewayEndpoint, GoMsHTTP, Connect, Vanguard, GoMsConnect}

// SpeaksConnect reports whether the benchmarks call impl in the Connect
// protocol rather than REST.
func SpeaksConnect(impl Impl) bool { return impl == Connect || impl == GoMsConnect }

// Server is a running set-up.
type Server struct {
	// GRPCAddr is the gRPC address to call, "" if the set-up has none.
	GRPCAddr string
	// HTTPAddr is the HTTP address to call, "" if the set-up has none.
	HTTPAddr string
	// Local is the GoMs server's in-process connection (impl GoMs only).
	Local grpc.ClientConnInterface

	cancel context.CancelFunc
	stops  []func() error
}

// Addrs says where a set-up listens. Port 0 picks a free port. The
// internal gRPC server of GatewayEndpoint and GoMsHTTP always uses a free
// loopback port.
type Addrs struct {
	GRPC, HTTP string
}

// LoopbackAddrs has every listener pick a free loopback port.
var LoopbackAddrs = Addrs{GRPC: "127.0.0.1:0", HTTP: "127.0.0.1:0"}

// Start starts impl on addrs. Close stops it.
func Start(impl Impl, addrs Addrs) (*Server, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cancel: cancel}
	var err error
	switch impl {
	case GoMs, GoMsConnect:
		err = s.startGoMs(ctx, goms.ModeGateway, addrs, "")
	case GoMsVT:
		err = s.startGoMsVT(ctx, addrs)
	case GRPC:
		s.GRPCAddr, err = s.startGRPC(addrs.GRPC)
	case GatewayInProc:
		mux := runtime.NewServeMux()
		if err = echo.RegisterEchoServiceHandlerServer(ctx, mux, EchoService{}); err == nil {
			s.HTTPAddr, err = s.startHTTP(addrs.HTTP, mux)
		}
	case GatewayEndpoint:
		var upstream string
		if upstream, err = s.startGRPC(LoopbackAddrs.GRPC); err != nil {
			break
		}
		mux := runtime.NewServeMux()
		dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if err = echo.RegisterEchoServiceHandlerFromEndpoint(ctx, mux, upstream, dial); err == nil {
			s.HTTPAddr, err = s.startHTTP(addrs.HTTP, mux)
		}
	case GoMsHTTP:
		backend := &Server{}
		if err = backend.startGoMs(ctx, goms.ModeGRPC, LoopbackAddrs, ""); err != nil {
			break
		}
		s.stops = append(s.stops, backend.stops...)
		err = s.startGoMs(ctx, goms.ModeHTTP, addrs, backend.GRPCAddr)
	case Connect:
		err = s.startConnect(addrs)
	case Vanguard:
		err = s.startVanguard(addrs)
	default:
		err = fmt.Errorf("unknown impl %q", impl)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("start %s: %w", impl, err)
	}
	return s, nil
}

// Close stops the set-up's servers, the last started first.
func (s *Server) Close() error {
	s.cancel()
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		errs = append(errs, s.stops[i]())
	}
	s.stops = nil
	return errors.Join(errs...)
}

// startGoMs starts a GoMs server in mode, serving EchoService with the
// goms's defaults (whatever interceptors goms installs by
// default), except that the logger is disabled (slog.DiscardHandler): log
// lines are neither formatted nor written, since their cost depends on
// where they go.
func (s *Server) startGoMs(ctx context.Context, mode goms.Mode, addrs Addrs, upstream string) error {
	cfg := goms.DefaultConfig()
	cfg.Mode = mode
	cfg.GRPC.Addr, cfg.HTTP.Addr = addrs.GRPC, addrs.HTTP
	cfg.Upstream = upstream
	cfg.ShutdownGrace = time.Second
	var impl echo.EchoServiceServer = EchoService{}
	if mode == goms.ModeHTTP {
		impl = nil
	}
	return s.serveGoMs(ctx, cfg, func(srv *goms.Server) { echo.RegisterEchoService(srv, impl) })
}

// serveGoMs starts a GoMs server with cfg and the services register
// registers, logging to slog.DiscardHandler, and makes it s's: its
// addresses, its in-process connection (but in http mode) and its stop.
func (s *Server) serveGoMs(ctx context.Context, cfg goms.Config, register func(*goms.Server)) error {
	srv := goms.New(cfg, goms.WithLogger(slog.New(slog.DiscardHandler)))
	register(srv)
	if err := srv.Start(ctx); err != nil {
		return err
	}
	s.stops = append(s.stops, func() error {
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		return srv.Stop(stopCtx)
	})
	s.GRPCAddr, s.HTTPAddr = srv.GRPCAddr(), srv.HTTPAddr()
	if cfg.Mode != goms.ModeHTTP {
		s.Local = srv.LocalConn()
	}
	return nil
}

// VTEchoService is EchoService for bench.vtecho.v1 (impl GoMsVT).
type VTEchoService struct {
	vtecho.UnimplementedEchoServiceServer
}

// Echo returns the request's message.
func (VTEchoService) Echo(_ context.Context, req *vtecho.EchoRequest) (*vtecho.EchoResponse, error) {
	return &vtecho.EchoResponse{Message: req.GetMessage()}, nil
}

// startGoMsVT starts the GoMs set-up of startGoMs, in gateway mode,
// serving VTEchoService.
func (s *Server) startGoMsVT(ctx context.Context, addrs Addrs) error {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = addrs.GRPC, addrs.HTTP
	cfg.ShutdownGrace = time.Second
	return s.serveGoMs(ctx, cfg, func(srv *goms.Server) { vtecho.RegisterEchoService(srv, VTEchoService{}) })
}

// startGRPC starts a bare grpc.Server serving EchoService on addr and
// returns the address it listens on.
func (s *Server) startGRPC(addr string) (string, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := grpc.NewServer()
	echo.RegisterEchoServiceServer(srv, EchoService{})
	go srv.Serve(lis)
	s.stops = append(s.stops, func() error { srv.Stop(); return nil })
	return lis.Addr().String(), nil
}

// startHTTP serves h on addr with the settings of GoMs's HTTP server and
// returns the address it listens on.
func (s *Server) startHTTP(addr string, h http.Handler) (string, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lis)
	s.stops = append(s.stops, srv.Close)
	return lis.Addr().String(), nil
}
