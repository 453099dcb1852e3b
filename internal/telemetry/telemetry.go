// Package telemetry records what a GoMs server observes of its calls:
// Prometheus metrics for gRPC calls served and made (over the network and
// in-process) and for HTTP requests, one log line per call served (at
// DEBUG unless it failed through the server's fault or was slow) and one
// per HTTP request.
//
// Series are resolved once per method and transport when a service is
// registered, not on every call; see rpcMetrics.
package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// transportLabel tells in-process calls from calls over the network in the
// gRPC metrics: "inprocess" or "network".
const transportLabel = "transport"

// Telemetry is what one server records, on a registry of its own so that
// several servers in one process do not collide.
type Telemetry struct {
	registry   *prometheus.Registry
	grpcServer *rpcMetrics
	grpcClient *rpcMetrics
	http       *httpMetrics
	log        *slog.Logger
	traceID    func(context.Context) string
	slowCall   time.Duration
}

// New returns the telemetry of a server, which logs to log. traceID
// returns the trace id a log line carries, "" for none; it may be nil.
// A call that lasts slowCall or longer is logged at WARN at least; 0:
// never.
func New(log *slog.Logger, traceID func(context.Context) string, slowCall time.Duration) *Telemetry {
	t := &Telemetry{
		log:        log,
		traceID:    traceID,
		slowCall:   slowCall,
		registry:   prometheus.NewRegistry(),
		grpcServer: newServerMetrics(),
		grpcClient: newClientMetrics(),
		http:       newHTTPMetrics(),
	}
	t.registry.MustRegister(t.grpcServer, t.grpcClient, t.http,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return t
}

// Registry is the registry [Telemetry.Handler] serves.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// RegisterService resolves the series of sd's methods before serving: for
// a service the server hosts, served over the network and in-process and
// called in-process; for one hosted elsewhere, called over the network.
func (t *Telemetry) RegisterService(sd *grpc.ServiceDesc, hosted bool) {
	if hosted {
		t.grpcServer.register(sd, overNetwork, inProcess)
		t.grpcClient.register(sd, inProcess)
	} else {
		t.grpcClient.register(sd, overNetwork)
	}
}

// ServerInterceptors returns the interceptors every call a server serves runs
// through: one that records the call's metrics and writes its log line
// (one interceptor rather than two, to keep the chain short). Calls whose
// peer is an in-process address count as transport "inprocess".
//
// The unary interceptor runs next, the rest of the server's unary chain (nil
// for none), itself: next gets the call's handler, and the interceptor
// replaces the chain [interceptor, next]. Chaining them would cost a closure
// per call (the handler that runs next), about 4% of a co-located call.
func (t *Telemetry) ServerInterceptors(next grpc.UnaryServerInterceptor) (grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	m, log, traceID, slow := t.grpcServer, t.log, t.traceID, t.slowCall
	if next == nil {
		next = func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(ctx, req)
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			mm, start := m.begin(serverTransport(ctx), info.FullMethod, "unary")
			resp, err := next(ctx, req, info, handler)
			d := clock() - start // one clock read for both
			mm.done(d, err)
			logCall(ctx, log, traceID, slow, info.FullMethod, d, err)
			return resp, err
		}, []grpc.StreamServerInterceptor{
			func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				ctx := ss.Context()
				mm, start := m.begin(serverTransport(ctx), info.FullMethod, streamKind(info.IsClientStream, info.IsServerStream))
				err := handler(srv, ss)
				d := clock() - start
				mm.done(d, err)
				logCall(ctx, log, traceID, slow, info.FullMethod, d, err)
				return err
			},
		}
}

// logCall writes the one line a call gets: method, code, duration, peer
// and trace id (from traceID, which may be nil), at a level set by the
// code (as go-grpc-middleware's DefaultServerCodeToLevel, one step lower:
// success and client errors at DEBUG, WARN for codes that suggest trouble,
// ERROR for server faults), and at WARN at least when the call lasted slow
// or longer (slow > 0). Successful calls are the bulk of the traffic, and
// an HTTP request already writes its own INFO line: at INFO, every call
// through the gateway wrote two, and one at 15k req/s wrote 134 MB a
// minute. It costs nothing when the level is disabled. (go-grpc-middleware's
// logging interceptor builds its fields for two events per call before the
// level is checked: about 90 allocations per call even with logging off.)
func logCall(ctx context.Context, l *slog.Logger, traceID func(context.Context) string, slow time.Duration, method string, d time.Duration, err error) {
	code := status.Code(err)
	level := callLevel(code)
	if slow > 0 && d >= slow && level < slog.LevelWarn {
		level = slog.LevelWarn
	}
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("grpc.method", method),
		slog.String("grpc.code", code.String()),
		slog.Duration("duration", d),
	}
	if slow > 0 && d >= slow {
		attrs = append(attrs, slog.Bool("slow", true))
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	if traceID != nil {
		if id := traceID(ctx); id != "" {
			attrs = append(attrs, slog.String("trace_id", id))
		}
	}
	if err != nil {
		msg := status.Convert(err).Message()
		if len(msg) > maxLoggedError {
			msg = strings.ToValidUTF8(msg[:maxLoggedError], "") + "…"
		}
		attrs = append(attrs, slog.String("error", msg))
	}
	l.LogAttrs(ctx, level, "call", attrs...)
}

// callLevel is the log level of a call that ended with code.
func callLevel(code codes.Code) slog.Level {
	switch code {
	case codes.OK, codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.Unauthenticated:
		return slog.LevelDebug
	case codes.DeadlineExceeded, codes.PermissionDenied, codes.ResourceExhausted, codes.FailedPrecondition,
		codes.Aborted, codes.OutOfRange, codes.Unavailable:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// MCPCall is the call option of the calls the MCP endpoint makes on a
// dialled connection (in http mode, to the upstream): [ClientDialOptions]
// records them with transport "mcp" rather than "network", as the server
// metrics do the MCP endpoint's in-process calls.
var MCPCall grpc.CallOption = mcpCall{}

type mcpCall struct{ grpc.EmptyCallOption }

// clientTransport is the transport of a call on a dialled connection
// with opts.
func clientTransport(opts []grpc.CallOption) int {
	for _, o := range opts {
		if _, ok := o.(mcpCall); ok {
			return viaMCP
		}
	}
	return overNetwork
}

// ClientDialOptions instrument the connections a server dials: their
// calls are recorded in the client metrics, transport "network", or
// "mcp" for calls with [MCPCall].
func (t *Telemetry) ClientDialOptions() []grpc.DialOption {
	m := t.grpcClient
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			mm, start := m.begin(clientTransport(opts), method, "unary")
			err := invoker(ctx, method, req, reply, cc, opts...)
			mm.done(clock()-start, err)
			return err
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			mm, start := m.begin(clientTransport(opts), method, streamKind(desc.ClientStreams, desc.ServerStreams))
			cs, err := streamer(ctx, desc, cc, method, opts...)
			return observeClientStream(cs, err, desc, mm, start)
		}),
	}
}

// ObserveLocal records the calls of conn, an in-process connection, in
// the client metrics, transport "inprocess", as ClientDialOptions does for
// dialled ones (without an interceptor's closure per call).
func (t *Telemetry) ObserveLocal(conn grpc.ClientConnInterface) grpc.ClientConnInterface {
	return observedConn{conn: conn, m: t.grpcClient}
}

// observedConn is the connection ObserveLocal returns.
type observedConn struct {
	conn grpc.ClientConnInterface
	m    *rpcMetrics
}

func (c observedConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	mm, start := c.m.begin(inProcess, method, "unary")
	err := c.conn.Invoke(ctx, method, args, reply, opts...)
	mm.done(clock()-start, err)
	return err
}

func (c observedConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	mm, start := c.m.begin(inProcess, method, streamKind(desc.ClientStreams, desc.ServerStreams))
	cs, err := c.conn.NewStream(ctx, desc, method, opts...)
	return observeClientStream(cs, err, desc, mm, start)
}

// observeClientStream records the end of a client stream in mm: when
// RecvMsg fails (io.EOF being success), or when it returns the one
// response of a stream that is not server-streaming.
func observeClientStream(cs grpc.ClientStream, err error, desc *grpc.StreamDesc, mm *methodMetrics, start time.Duration) (grpc.ClientStream, error) {
	if err != nil {
		mm.done(clock()-start, err)
		return nil, err
	}
	return &observedClientStream{ClientStream: cs, serverStreams: desc.ServerStreams, mm: mm, start: start}, nil
}

type observedClientStream struct {
	grpc.ClientStream
	serverStreams bool
	mm            *methodMetrics
	start         time.Duration // see clock
	ended         bool          // RecvMsg is not called concurrently
}

// Buffered passes on the wrapped stream's Buffered (the in-process
// connection's: how many received messages wait), 0 if it has none.
func (s *observedClientStream) Buffered() int {
	if b, ok := s.ClientStream.(interface{ Buffered() int }); ok {
		return b.Buffered()
	}
	return 0
}

func (s *observedClientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if (err != nil || !s.serverStreams) && !s.ended {
		s.ended = true
		end := err
		if end == io.EOF {
			end = nil
		}
		s.mm.done(clock()-s.start, end)
	}
	return err
}

// InstrumentHTTP counts, times and logs the requests next serves: one
// line per request (method, path, status, duration), in every mode, for
// requests no route matched too. It is the one INFO line of a request:
// the in-process call a gateway request makes logs at DEBUG unless it
// failed or was slow.
func (t *Telemetry) InstrumentHTTP(next http.Handler) http.Handler {
	return t.http.instrument(next, func(r *http.Request, code int, d time.Duration) {
		logRequest(r, t.log, t.traceID, code, d)
	})
}

// maxLoggedPath bounds the path a request's log line carries: the rest is
// cut, so that a client cannot make a log line as long as its URL.
const maxLoggedPath = 256

// maxLoggedError bounds the error message a call's log line carries:
// messages echo input (an id not found), which a client can make as long
// as its request.
const maxLoggedError = 512

// logRequest writes the line of an HTTP request that was answered with
// code after d, at a level set by the code as logCall does for calls: a
// server fault at ERROR, an overload or a timeout at WARN, the rest at
// INFO. It costs nothing when the level is disabled.
func logRequest(r *http.Request, l *slog.Logger, traceID func(context.Context) string, code int, d time.Duration) {
	level := slog.LevelInfo
	switch {
	case code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout ||
		code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		level = slog.LevelWarn
	case code >= 500:
		level = slog.LevelError
	}
	ctx := r.Context()
	if !l.Enabled(ctx, level) {
		return
	}
	path := r.URL.Path
	if len(path) > maxLoggedPath {
		path = strings.ToValidUTF8(path[:maxLoggedPath], "") + "…"
	}
	attrs := []slog.Attr{
		slog.String("http.method", r.Method),
		slog.String("http.path", path),
		slog.Int("http.status", code),
		slog.Duration("duration", d),
		slog.String("peer", r.RemoteAddr),
	}
	if traceID != nil {
		if id := traceID(ctx); id != "" {
			attrs = append(attrs, slog.String("trace_id", id))
		}
	}
	l.LogAttrs(ctx, level, "http", attrs...)
}

// Handler serves the registry in the Prometheus text format.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}
