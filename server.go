package goms

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goms-io/goms/internal/console"
	"github.com/goms-io/goms/internal/gateway"
	"github.com/goms-io/goms/internal/inprocess"
	"github.com/goms-io/goms/internal/telemetry"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// Server hosts services and serves them on gRPC, on the HTTP gateway or on
// both, as its [Config.Mode] says. Build it with [New], add services with
// the generated Register functions, then call [Server.Run] (or
// [Server.Start] and [Server.Stop]). A Server serves once.
type Server struct {
	cfg  Config
	opts options
	log  *slog.Logger

	mu       sync.Mutex
	started  bool
	services []Service
	dialed   []*grpc.ClientConn

	tel      *telemetry.Telemetry
	discover Discovery // nil: no service discovery
	trace    Tracing   // zero: tracing off
	valid    checks    // the request checks (validate.go); zero: none
	local    localConn
	grpcLis  net.Listener
	httpLis  net.Listener
	adminLis net.Listener
	grpcSrv  *grpc.Server
	httpSrv  *http.Server
	adminSrv *http.Server
	health   *health.Server
	tls      *tls.Config // nil: plaintext
	serveErr chan error
	ready    atomic.Bool

	// Connections to other services (see Conn): by service name, the
	// pooled connections, and the dependencies readiness waits for.
	clients map[string]*serviceConn
	pooled  []*grpc.ClientConn
	deps    []*dependency
	// stopping is done once Stop begins.
	stopping context.Context
	stopNow  context.CancelFunc

	// Listening addresses, readable while Start runs.
	grpcAddr, httpAddr, adminAddr atomic.Pointer[string]
}

// New returns a Server for cfg. The configuration is checked by
// [Server.Start].
func New(cfg Config, opts ...Option) *Server {
	s := &Server{cfg: cfg, serveErr: make(chan error, 3)}
	s.stopping, s.stopNow = context.WithCancel(context.Background())
	WithOptions(opts...).applyToServer(&s.opts)
	s.trace = s.opts.tracing
	s.log = s.opts.logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.tel = telemetry.New(s.log, s.trace.TraceID, cfg.Log.SlowCall)
	return s
}

// Register adds svc to the server. It panics if the server has started.
func (s *Server) Register(svc Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic(fmt.Sprintf("goms: Register(%s) after Start", svc.name()))
	}
	s.services = append(s.services, svc)
	s.tel.RegisterService(svc.Desc, s.hosted(svc.name()))
}

// RegisterService implements [grpc.ServiceRegistrar], so grpc-go's
// generated Register<Service>Server functions work on a Server too; such
// services get no REST routes (in gateway mode they are also served over
// Connect and gRPC-Web). Start warns about each one whose protos declare
// HTTP routes: the Register<Service> function protoc-gen-goms generates
// serves them on both.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.Register(Service{Desc: desc, Impl: impl, grpcOnly: true})
}

// LocalConn returns a connection to the services hosted by this server
// that calls them in-process: no socket and no serialization, but with the
// server's interceptors, deadlines, metadata and status errors as over
// gRPC. Calls fail with codes.Unavailable before [Server.Start]; calls to
// services this server does not host fail with codes.Unimplemented.
func (s *Server) LocalConn() grpc.ClientConnInterface { return s.localClient() }

// localClient is the in-process connection as clients use it: traced when
// tracing is on.
func (s *Server) localClient() grpc.ClientConnInterface { return s.observeLocal(&s.local) }

// observeLocal wraps an in-process connection with the client
// interceptors, the client metrics and tracing.
func (s *Server) observeLocal(conn grpc.ClientConnInterface) grpc.ClientConnInterface {
	if len(s.opts.cunary) > 0 || len(s.opts.cstream) > 0 {
		conn = interceptedConn{conn: conn, unary: s.opts.cunary, stream: s.opts.cstream}
	}
	conn = s.tel.ObserveLocal(conn)
	if s.trace.Client != nil {
		conn = tracedConn{conn: conn, h: s.trace.Client}
	}
	return conn
}

// Dial returns a client connection to target (grpc-go syntax) owned by the
// server: it starts connecting when the server starts and is closed after
// the server stops. It uses the options given by [WithDialOptions], then
// opts.
func (s *Server) Dial(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	dialOpts, err := s.dialOptions(opts)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("dial %q: %w", target, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dialed = append(s.dialed, conn)
	if s.started {
		conn.Connect()
	}
	return conn, nil
}

func (s *Server) dialOptions(extra []grpc.DialOption) ([]grpc.DialOption, error) {
	creds := insecure.NewCredentials()
	tlsCfg, err := s.cfg.dialTLS()
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, s.tel.ClientDialOptions()...)
	if s.trace.Client != nil {
		opts = append(opts, grpc.WithStatsHandler(s.trace.Client))
	}
	if len(s.opts.cunary) > 0 {
		opts = append(opts, grpc.WithChainUnaryInterceptor(s.opts.cunary...))
	}
	if len(s.opts.cstream) > 0 {
		opts = append(opts, grpc.WithChainStreamInterceptor(s.opts.cstream...))
	}
	opts = append(opts, s.opts.dialOpts...)
	return append(opts, extra...), nil
}

// AdminAddr returns the address of the admin server (/healthz, /readyz,
// /metrics), or "" when [AdminConfig.Addr] is empty: the endpoints are then
// on [Server.HTTPAddr].
func (s *Server) AdminAddr() string { return loadAddr(&s.adminAddr) }

// Config returns the server's configuration, for example to decode a
// service's own section with [Config.DecodeService].
func (s *Server) Config() Config { return s.cfg }

// Registry returns the Prometheus registry /metrics serves, to which
// services may add their own collectors.
func (s *Server) Registry() *prometheus.Registry { return s.tel.Registry() }

// GRPCAddr returns the address the gRPC server listens on, or "" when it
// does not (before Start, or in [ModeHTTP]). With port 0 configured, it
// tells the port picked.
func (s *Server) GRPCAddr() string { return loadAddr(&s.grpcAddr) }

// HTTPAddr returns the address the HTTP gateway listens on, or "" when it
// does not (before Start, or in [ModeGRPC]).
func (s *Server) HTTPAddr() string { return loadAddr(&s.httpAddr) }

func storeAddr(p *atomic.Pointer[string], l net.Listener) {
	if l != nil {
		addr := l.Addr().String()
		p.Store(&addr)
	}
}

func loadAddr(p *atomic.Pointer[string]) string {
	if a := p.Load(); a != nil {
		return *a
	}
	return ""
}

// Run starts the server, serves until ctx is done or a server fails, then
// stops gracefully within [Config.ShutdownGrace]. It returns nil after a
// clean stop.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-s.serveErr:
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownGrace)
	defer cancel()
	return errors.Join(serveErr, s.Stop(stopCtx))
}

// Start checks the configuration and the services, opens the listeners and
// starts serving in the background. Listening errors name the address.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("goms: server already started")
	}
	if err := s.check(); err != nil {
		return err
	}
	if err := s.dialClients(); err != nil {
		return err
	}
	unary, stream := s.interceptors()
	if s.opts.noListen {
		s.startLocal(unary, stream)
	} else if err := s.startServing(ctx, unary, stream); err != nil {
		return err
	}
	for _, c := range s.dialed {
		c.Connect()
	}
	s.started = true
	s.ready.Store(true)
	s.publishAddrs()
	return nil
}

// startServing opens the listeners, starts the in-process connection and
// the servers the mode runs, and registers with discovery.
func (s *Server) startServing(ctx context.Context, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) error {
	if err := s.listen(); err != nil {
		return err
	}
	s.warnFileLimit()
	advertise, err := s.advertised()
	if err != nil {
		s.closeAll()
		return err
	}
	s.startLocal(unary, stream)
	if s.cfg.Mode.servesGRPC() {
		s.startGRPC(unary, stream)
	}
	if s.cfg.Mode.servesHTTP() {
		if err := s.startHTTP(ctx); err != nil {
			s.closeAll()
			return err
		}
	}
	s.startAdmin()
	if err := s.announce(ctx, advertise); err != nil {
		s.abort()
		return err
	}
	return nil
}

// check checks the configuration and the services, and loads what they
// need before anything opens: the TLS certificates and the discovery
// backend.
func (s *Server) check() error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if err := s.checkServices(); err != nil {
		return err
	}
	if err := s.checkMCP(); err != nil {
		return err
	}
	tlsCfg, err := s.cfg.serverTLS()
	if err != nil {
		return err
	}
	s.tls = tlsCfg
	if s.valid, err = s.validation(); err != nil {
		return err
	}
	s.discover, err = newDiscovery(s.cfg, s.log)
	return err
}

// dialClients creates the connections to the services hosted elsewhere:
// those Conn asked for and those the gateway forwards to.
func (s *Server) dialClients() error {
	if s.cfg.Mode.servesHTTP() {
		// The gateway reaches services hosted elsewhere like any client.
		for _, svc := range s.services {
			if svc.Gateway != nil && !s.hosted(svc.name()) {
				s.clientFor(svc.name())
			}
		}
	}
	if err := s.resolveClients(); err != nil {
		s.closeConns()
		return err
	}
	return nil
}

// advertised returns the address to register with discovery, "" when
// there is none to register.
func (s *Server) advertised() (string, error) {
	if s.discover == nil || !s.cfg.Mode.servesGRPC() {
		return "", nil
	}
	listening := s.cfg.GRPC.Addr
	if s.grpcLis != nil {
		listening = s.grpcLis.Addr().String()
	} else if s.httpLis != nil {
		listening = s.httpLis.Addr().String()
	}
	return advertiseAddr(s.cfg, listening)
}

// interceptors returns the server interceptor chains: GoMs's telemetry,
// the user's, the request checks (if any), then panic recovery, innermost.
func (s *Server) interceptors() ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	// Inside the telemetry's unary interceptor, which runs them itself (a
	// closure per call less than a chain of all).
	inner := slices.Clone(s.opts.unary)
	if s.valid.unary != nil {
		inner = append(inner, s.valid.unary)
	}
	inner = append(inner, recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(s.recovered)))
	tel, stream := s.tel.ServerInterceptors(inprocess.ChainUnaryServerInterceptors(inner))
	stream = append(stream, s.opts.stream...)
	if s.valid.unary != nil {
		stream = append(stream, s.valid.stream)
	}
	stream = append(stream, recovery.StreamServerInterceptor(recovery.WithRecoveryHandlerContext(s.recovered)))
	return []grpc.UnaryServerInterceptor{tel}, stream
}

// startLocal builds the in-process connection to the hosted services,
// behind [Server.LocalConn] and the gateway.
func (s *Server) startLocal(unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) {
	var locals []inprocess.Service
	for _, svc := range s.services {
		if s.hosted(svc.name()) {
			locals = append(locals, inprocess.Service{Desc: svc.Desc, Impl: svc.Impl})
		}
	}
	// In-process calls bypass grpc-go's stats handlers, so the tracing
	// handler runs there as the outermost interceptor.
	if s.trace.Server != nil {
		unary = append([]grpc.UnaryServerInterceptor{s.trace.unary()}, unary...)
		stream = append([]grpc.StreamServerInterceptor{s.trace.stream()}, stream...)
	}
	s.local.conn.Store(inprocess.New(locals, unary, stream))
}

// startAdmin serves the admin endpoints on their own address, if any.
func (s *Server) startAdmin() {
	if s.adminLis == nil {
		return
	}
	s.log.Info("serving admin", "addr", s.adminLis.Addr().String())
	s.adminSrv = s.newHTTPServer(s.adminHandler(http.NotFoundHandler()))
	s.serve("admin", s.adminLis, s.adminSrv.Serve)
}

// announce registers the services this server exposes on gRPC with
// discovery, at advertise; nothing when advertise is "".
func (s *Server) announce(ctx context.Context, advertise string) error {
	if advertise == "" {
		return nil
	}
	var names []string
	for _, svc := range s.services {
		if s.hosted(svc.name()) && s.cfg.service(svc.name()).GRPC {
			names = append(names, svc.name())
		}
	}
	return s.discover.Register(ctx, names, advertise)
}

// publishAddrs makes the listening addresses readable.
func (s *Server) publishAddrs() {
	storeAddr(&s.grpcAddr, s.grpcLis)
	storeAddr(&s.httpAddr, s.httpLis)
	if s.cfg.onePort() {
		storeAddr(&s.grpcAddr, s.httpLis)
	}
	storeAddr(&s.adminAddr, s.adminLis)
}

// checkServices rejects an empty server, duplicate services, services
// unfit for the mode and configuration sections naming no service.
func (s *Server) checkServices() error {
	if len(s.services) == 0 {
		return errors.New("goms: no services registered")
	}
	seen := make(map[string]bool)
	for _, svc := range s.services {
		if err := svc.check(s.served(svc.name())); err != nil {
			return fmt.Errorf("goms: service %s: %w", svc.name(), err)
		}
		if seen[svc.name()] {
			return fmt.Errorf("goms: service %s registered twice", svc.name())
		}
		seen[svc.name()] = true
	}
	for _, name := range s.cfg.Serve {
		if !seen[name] {
			return fmt.Errorf("goms: serve: unknown service %q; registered: %s", name, strings.Join(slices.Sorted(maps.Keys(seen)), ", "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.cfg.Services)) {
		if !seen[name] {
			return fmt.Errorf("%s: services: unknown service %q; registered: %s",
				s.cfg.Services[name].source, name, strings.Join(slices.Sorted(maps.Keys(seen)), ", "))
		}
	}
	return nil
}

// listen opens every listener the configuration needs before anything
// serves, so a taken port fails start-up as a whole.
func (s *Server) listen() error {
	for _, l := range []struct {
		what, addr string
		use        bool
		lis        *net.Listener
	}{
		{"gRPC server", s.cfg.GRPC.Addr, s.cfg.Mode.servesGRPC() && !s.cfg.onePort(), &s.grpcLis},
		{"HTTP server", s.cfg.HTTP.Addr, s.cfg.Mode.servesHTTP(), &s.httpLis},
		{"admin server", s.cfg.Admin.Addr, s.cfg.Admin.Addr != "", &s.adminLis},
	} {
		if !l.use {
			continue
		}
		lis, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.closeAll()
			return fmt.Errorf("%s: listen on %s: %w", l.what, l.addr, err)
		}
		*l.lis = lis
	}
	if s.grpcLis != nil {
		s.grpcLis = limitConns(s.grpcLis, s.cfg.GRPC.MaxConnections, "gRPC", s.log)
	}
	if s.httpLis != nil {
		s.httpLis = gateway.Listener(limitConns(s.httpLis, s.cfg.HTTP.MaxConnections, "HTTP", s.log))
		if s.tls != nil {
			s.httpLis = tls.NewListener(s.httpLis, s.tls)
		}
	}
	return nil
}

// serve runs serve(lis) in the background; its failure ends [Server.Run].
func (s *Server) serve(what string, lis net.Listener, serve func(net.Listener) error) {
	go func() {
		if err := serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- fmt.Errorf("%s server on %s: %w", what, lis.Addr(), err)
		}
	}()
}

// startGRPC builds the gRPC server and, unless it shares the HTTP port,
// serves it. The options given with [WithGRPCServerOptions] come after
// GoMs's, so they may replace them. On a shared port the connection-level
// options (header list size, streams, handshake and idle timeouts) do not
// apply: net/http's HTTP/2 server runs those connections, with the http.*
// limits.
func (s *Server) startGRPC(unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) {
	g := s.cfg.GRPC
	// GoMs's own long streams end at the stop (endOnStop), inside the
	// telemetry and the user's interceptors, outside panic recovery.
	stream = slices.Insert(slices.Clone(stream), len(stream)-1, s.endOnStop)
	// Deadlines from the network are capped (grpc.max_unary_timeout), as
	// the gateway caps those of HTTP requests; in-process callers keep
	// theirs, which costs a co-located call no timer.
	if capDeadline := unaryDeadline(g.MaxUnaryTimeout); capDeadline != nil {
		unary = append([]grpc.UnaryServerInterceptor{capDeadline}, unary...)
	}
	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(g.MaxRecvBytes),
		grpc.MaxSendMsgSize(g.MaxSendBytes),
		grpc.MaxHeaderListSize(uint32(g.MaxHeaderBytes)),
		grpc.MaxConcurrentStreams(uint32(g.MaxConcurrentStreams)),
		grpc.ConnectionTimeout(g.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: g.IdleTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepaliveEnforcement),
	}, s.opts.grpcOpts...)
	if g.StreamWorkers > 0 {
		opts = append(opts, grpc.NumStreamWorkers(uint32(g.StreamWorkers)))
	}
	if s.trace.Server != nil {
		opts = append(opts, grpc.StatsHandler(s.trace.Server))
	}
	if s.tls != nil && !s.cfg.onePort() {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	s.grpcSrv = grpc.NewServer(opts...)
	s.health = health.NewServer()
	for _, svc := range s.services {
		if !s.hosted(svc.name()) || !s.cfg.service(svc.name()).GRPC {
			continue
		}
		s.grpcSrv.RegisterService(svc.Desc, svc.Impl)
		s.health.SetServingStatus(svc.name(), healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(s.grpcSrv, s.health)
	if s.cfg.GRPC.Reflection {
		reflection.Register(s.grpcSrv)
	}
	if s.cfg.onePort() {
		return // served by the HTTP server, see startHTTP
	}
	s.log.Info("serving gRPC", "addr", s.grpcLis.Addr().String(), "mode", s.cfg.Mode, "tls", s.tls != nil)
	s.serve("gRPC", s.grpcLis, s.grpcSrv.Serve)
}

func (s *Server) startHTTP(ctx context.Context) error {
	var routes []gateway.Route
	for _, svc := range s.services {
		// A hosted service without HTTP rules still has its Connect and
		// gRPC-Web routes.
		if !s.cfg.service(svc.name()).HTTP || svc.Gateway == nil && !(s.cfg.HTTP.Connect && s.hosted(svc.name())) {
			continue
		}
		var conn grpc.ClientConnInterface = s.clients[svc.name()]
		if s.hosted(svc.name()) {
			conn = s.observeLocal(s.local.conn.Load().ForGateway())
		}
		routes = append(routes, gateway.Route{Service: svc.name(), Register: gateway.RegisterFunc(svc.Gateway), Conn: conn,
			Desc: svc.Desc, Descriptor: svc.Descriptor})
	}
	for _, svc := range s.services {
		if s.cfg.service(svc.name()).HTTP && svc.lostRoutes() {
			short := svc.name()[strings.LastIndexByte(svc.name(), '.')+1:]
			s.log.Warn("service registered without its HTTP routes: its google.api.http routes are not served",
				"service", svc.name(), "registered_with", "Register"+short+"Server (grpc-go)",
				"fix", "register it with Register"+short+" from its .goms.go file, or set services."+svc.name()+".http: false")
		}
	}
	if len(routes) == 0 && s.cfg.Mode == ModeHTTP {
		return errors.New("HTTP gateway: no registered service has HTTP rules (google.api.http), nothing to serve")
	}
	h, err := gateway.New(ctx, gateway.Options{
		MaxBodyBytes:    s.cfg.HTTP.MaxBodyBytes,
		MaxHeaderBytes:  s.cfg.HTTP.MaxHeaderBytes,
		DiscardUnknown:  s.cfg.HTTP.DiscardUnknown,
		CORSOrigins:     s.cfg.HTTP.CORSOrigins,
		MaxUnaryTimeout: s.cfg.GRPC.MaxUnaryTimeout,
		MaxRecvMsgBytes: s.cfg.GRPC.MaxRecvBytes,
		MaxSendMsgBytes: s.cfg.GRPC.MaxSendBytes,
		SSEKeepAlive:    s.cfg.HTTP.SSEKeepAlive,
		RPC:             s.cfg.HTTP.Connect,
		Logger:          s.log,
		MuxOptions:      s.opts.muxOpts,
	}, routes)
	if err != nil {
		return err
	}
	if s.cfg.HTTP.OpenAPIPath != "" {
		// Inside the metrics and the request log: it is a request like
		// any other on the port.
		if h, err = s.openAPI(h); err != nil {
			return err
		}
	}
	if h, err = s.mcp(h); err != nil {
		return err
	}
	if s.cfg.HTTP.DocsPath != "" && s.cfg.HTTP.OpenAPIPath != "" {
		h = console.Handler(s.cfg.HTTP.DocsPath, s.cfg.HTTP.OpenAPIPath, h)
	}
	h = s.tel.InstrumentHTTP(h)
	if s.trace.HTTP != nil {
		h = s.trace.HTTP(h)
	}
	if s.cfg.Admin.Addr == "" {
		h = s.adminHandler(h)
	}
	s.httpSrv = s.newHTTPServer(h)
	s.httpSrv.ConnContext = gateway.ConnContext
	if s.cfg.onePort() {
		// gRPC and HTTP share the listener: HTTP/2 requests with a gRPC
		// content type go to the gRPC server, cleartext (h2c) or over TLS.
		s.httpSrv.Handler = grpcOr(s.grpcSrv, h)
		s.httpSrv.Protocols = new(http.Protocols)
		s.httpSrv.Protocols.SetHTTP1(true)
		s.httpSrv.Protocols.SetHTTP2(true)
		s.httpSrv.Protocols.SetUnencryptedHTTP2(s.tls == nil)
		s.log.Info("serving gRPC", "addr", s.httpLis.Addr().String(), "mode", s.cfg.Mode, "tls", s.tls != nil, "shared_with", "HTTP")
	}
	// Outermost: it counts every HTTP/1 request that reaches a handler.
	s.httpSrv.Handler = gateway.CheckFraming(s.httpSrv.Handler)
	attrs := []any{"addr", s.httpLis.Addr().String(), "mode", s.cfg.Mode, "tls", s.tls != nil}
	if s.cfg.Mode == ModeHTTP {
		attrs = append(attrs, "upstream", s.cfg.Upstream)
	}
	s.log.Info("serving HTTP", attrs...)
	s.serve("HTTP", s.httpLis, s.httpSrv.Serve)
	return nil
}

// newHTTPServer returns an http.Server for h with the configured timeouts
// and limits.
func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.HTTP.ReadTimeout,
		WriteTimeout:      s.cfg.HTTP.WriteTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    gateway.MaxHeaderBytes(s.cfg.HTTP.MaxHeaderBytes),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: s.cfg.HTTP.MaxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// keepaliveEnforcement answers clients that ping more often than every
// 10 seconds with GOAWAY ("too_many_pings"); pings on idle connections are
// allowed. grpc-go's own default (5 minutes, no idle pings) cuts off the
// common 10–30 s client keepalive settings. [WithGRPCServerOptions] can
// replace it.
var keepaliveEnforcement = keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}

// grpcOr sends gRPC requests to grpcSrv and everything else to other.
func grpcOr(grpcSrv *grpc.Server, other http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// gRPC-Web (application/grpc-web…) is the gateway's.
		if ct := r.Header.Get("Content-Type"); r.ProtoMajor == 2 && strings.HasPrefix(ct, "application/grpc") && !strings.HasPrefix(ct, "application/grpc-web") {
			grpcSrv.ServeHTTP(w, r)
			return
		}
		other.ServeHTTP(w, r)
	})
}

// Admin paths, served on the HTTP address or on [AdminConfig.Addr].
const (
	livenessPath  = "/healthz"
	readinessPath = "/readyz"
	metricsPath   = "/metrics"
)

// adminHandler serves the liveness, readiness and metrics endpoints and
// passes every other request to next.
func (s *Server) adminHandler(next http.Handler) http.Handler {
	metrics := s.tel.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case livenessPath, readinessPath, metricsPath:
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				gateway.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
				return
			}
		}
		switch r.URL.Path {
		case livenessPath:
			writeHealth(w, true)
		case readinessPath:
			writeReadiness(w, s.ready.Load(), s.waitingFor())
		case metricsPath:
			metrics.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// writeReadiness answers the readiness probe: ready once started and not
// stopping, with every dependency reached; the body names those missing.
func writeReadiness(w http.ResponseWriter, started bool, waiting []string) {
	if !started || len(waiting) == 0 {
		writeHealth(w, started)
		return
	}
	body, _ := json.Marshal(struct {
		Status     string   `json:"status"`
		WaitingFor []string `json:"waiting_for"`
	}{"NOT_SERVING", waiting})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(append(body, '\n'))
}

// writeHealth answers a health probe: 200 SERVING or 503 NOT_SERVING.
func writeHealth(w http.ResponseWriter, ok bool) {
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"NOT_SERVING"}`+"\n")
		return
	}
	io.WriteString(w, `{"status":"SERVING"}`+"\n")
}

// Stop stops the server gracefully: readiness and gRPC health turn
// NOT_SERVING first, and the long streams GoMs serves itself (health
// Watch, reflection) end with UNAVAILABLE "server is stopping"; then
// listeners close, and in-flight calls (unary and streams, gRPC and HTTP)
// may finish until ctx is done; then the remaining connections are
// closed, which cancels the contexts of the calls still running. Client
// connections from [Server.Dial] close last. Stop returns an error when it
// had to cut calls off.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	s.ready.Store(false)
	if s.health != nil {
		s.health.Shutdown()
	}
	// Health Watch and reflection streams end now (see endOnStop), with
	// UNAVAILABLE, after the watchers have been told NOT_SERVING.
	s.stopNow()
	if s.discover != nil {
		// Deregister before draining, so that clients stop picking this
		// server while it finishes the calls in flight.
		if err := s.discover.Deregister(ctx); err != nil {
			s.log.Warn("deregistering", "err", err)
		}
	}
	if deadline, ok := ctx.Deadline(); ok {
		s.log.Info("stopping", "grace", time.Until(deadline).Round(time.Millisecond))
	} else {
		s.log.Info("stopping")
	}
	var forced atomic.Bool
	var wg sync.WaitGroup
	// On a shared port the HTTP server runs the gRPC connections and its
	// Shutdown drains them: grpc-go's GracefulStop would close the
	// streams it serves through ServeHTTP at once (Drain is Close there).
	if s.grpcSrv != nil && !s.cfg.onePort() {
		wg.Go(func() {
			done := make(chan struct{})
			go func() { s.grpcSrv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				forced.Store(true)
				s.grpcSrv.Stop()
				<-done
			}
		})
	}
	if s.httpSrv != nil {
		wg.Go(func() {
			if err := s.httpSrv.Shutdown(ctx); err != nil {
				forced.Store(true)
				s.httpSrv.Close()
			}
		})
	}
	wg.Wait()
	if s.grpcSrv != nil && s.cfg.onePort() {
		s.grpcSrv.Stop()
	}
	// The admin server answers probes (readiness: NOT_SERVING) until the
	// end of the drain.
	if s.adminSrv != nil {
		s.adminSrv.Close()
	}
	s.closeConns()
	// The program's own streams to the services hosted here end too, as
	// the network's did when the servers closed their connections.
	if c := s.local.conn.Swap(nil); c != nil {
		c.Close()
	}
	if forced.Load() {
		return errors.New("goms: shutdown grace period exceeded; calls still in flight were cut off")
	}
	s.log.Info("stopped")
	return nil
}

// abort stops servers that Start began before it failed.
func (s *Server) abort() {
	if s.grpcSrv != nil {
		s.grpcSrv.Stop()
	}
	for _, h := range []*http.Server{s.httpSrv, s.adminSrv} {
		if h != nil {
			h.Close()
		}
	}
	s.closeAll()
}

// closeAll releases listeners and connections after a failed Start.
func (s *Server) closeAll() {
	for _, l := range []net.Listener{s.grpcLis, s.httpLis, s.adminLis} {
		if l != nil {
			l.Close()
		}
	}
	s.closeConns()
}

func (s *Server) closeConns() {
	for _, c := range append(s.pooled, s.dialed...) {
		c.Close()
	}
	if s.discover != nil {
		s.discover.Close()
	}
}

// recovered turns a handler panic into codes.Internal and logs its stack.
func (s *Server) recovered(ctx context.Context, p any) error {
	method, _ := grpc.Method(ctx)
	s.log.ErrorContext(ctx, "panic in handler", "method", method, "panic", p, "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

// localConn is the connection [Server.LocalConn] returns: it exists before
// the server starts and dispatches to the in-process conn built by Start.
type localConn struct {
	conn atomic.Pointer[inprocess.Conn]
}

var errNotServing = status.Error(codes.Unavailable, "goms: server is not serving")

func (c *localConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	conn := c.conn.Load()
	if conn == nil {
		return errNotServing
	}
	return conn.Invoke(ctx, method, args, reply, opts...)
}

func (c *localConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	conn := c.conn.Load()
	if conn == nil {
		return nil, errNotServing
	}
	return conn.NewStream(ctx, desc, method, opts...)
}
