package goms

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// Tracing instruments a [Server]'s calls for a tracing system; [WithTracing]
// installs it. GoMs links no tracing system of its own: package
// github.com/goms-io/goms/otelgoms builds a Tracing for OpenTelemetry. A
// nil field leaves its part untraced; the zero Tracing turns tracing off,
// which costs nothing.
type Tracing struct {
	// Server is the grpc-go stats handler of the calls the Server serves:
	// installed on the gRPC server (grpc.StatsHandler) for calls over the
	// network, and run by the Server around each in-process call, which
	// grpc-go's stats machinery never sees, as the outermost interceptor.
	Server stats.Handler
	// Client is the stats handler of the calls made through
	// [Server.Conn], [Server.LocalConn], [Server.Dial] and the gateway:
	// installed on dialled connections (grpc.WithStatsHandler) and run
	// around in-process calls.
	Client stats.Handler
	// HTTP wraps the HTTP gateway's handler, to trace HTTP requests.
	HTTP func(http.Handler) http.Handler
	// TraceID returns the id of the trace ctx belongs to, which the log
	// line of a call then carries; "" when there is none.
	TraceID func(ctx context.Context) string
}

// unary and stream are the server-side stats handler as interceptors, for
// in-process calls.
func (t Tracing) unary() grpc.UnaryServerInterceptor {
	h := t.Server
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, end := beginRPC(ctx, h, info.FullMethod, false, false, false)
		resp, err := handler(ctx, req)
		end(err)
		return resp, err
	}
}

func (t Tracing) stream() grpc.StreamServerInterceptor {
	h := t.Server
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, end := beginRPC(ss.Context(), h, info.FullMethod, false, info.IsClientStream, info.IsServerStream)
		err := handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
		end(err)
		return err
	}
}

// beginRPC reports the start of a call to h and returns the call's context
// and a func reporting its end.
func beginRPC(ctx context.Context, h stats.Handler, method string, client, clientStream, serverStream bool) (context.Context, func(error)) {
	ctx = h.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: method})
	begin := time.Now()
	h.HandleRPC(ctx, &stats.Begin{Client: client, BeginTime: begin, IsClientStream: clientStream, IsServerStream: serverStream})
	return ctx, func(err error) {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		h.HandleRPC(ctx, &stats.End{Client: client, BeginTime: begin, EndTime: time.Now(), Error: err})
	}
}

// contextStream replaces a server stream's context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// tracedConn runs the client-side stats handler around calls on an
// in-process connection (OpenTelemetry's starts the client span and
// injects the trace context into the outgoing metadata, which the
// in-process server side extracts).
type tracedConn struct {
	conn grpc.ClientConnInterface
	h    stats.Handler
}

func (c tracedConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	ctx, end := beginRPC(ctx, c.h, method, true, false, false)
	err := c.conn.Invoke(ctx, method, args, reply, opts...)
	end(err)
	return err
}

func (c tracedConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, end := beginRPC(ctx, c.h, method, true, desc.ClientStreams, desc.ServerStreams)
	cs, err := c.conn.NewStream(ctx, desc, method, opts...)
	if err != nil {
		end(err)
		return nil, err
	}
	s := &tracedStream{ClientStream: cs}
	stop := context.AfterFunc(ctx, func() { s.finish(end, ctx.Err()) })
	s.end = func(err error) { stop(); end(err) }
	return s, nil
}

// tracedStream reports the end of a stream once: when RecvMsg fails (io.EOF
// is a clean end) or the call's context ends.
type tracedStream struct {
	grpc.ClientStream
	once sync.Once
	end  func(error)
}

func (s *tracedStream) finish(end func(error), err error) { s.once.Do(func() { end(err) }) }

func (s *tracedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.finish(s.end, err)
	}
	return err
}

var (
	tracingMu      sync.Mutex
	tracingFromEnv func(context.Context, func(string) (string, bool)) (Option, func(context.Context) error, error)
)

// RegisterTracingFromEnv installs how [Main] sets up tracing from the
// standard OpenTelemetry environment. When that environment asks for OTLP
// export (see [Main]), Main calls fromEnv with its lookup of environment
// variables and serves with the [Option] it returns (such as one from
// [WithTracing]); when the returned shutdown is not nil, Main calls it
// when the process stops, to flush pending spans. An error stops Main,
// with exit status 2. The package github.com/goms-io/goms/otlp calls it
// from its init function, so that importing it (import _
// "github.com/goms-io/goms/otlp") turns OTLP export on.
// RegisterTracingFromEnv panics if fromEnv is nil or if it is called twice.
func RegisterTracingFromEnv(fromEnv func(ctx context.Context, lookup func(string) (string, bool)) (opt Option, shutdown func(context.Context) error, err error)) {
	tracingMu.Lock()
	defer tracingMu.Unlock()
	if fromEnv == nil {
		panic("goms: RegisterTracingFromEnv(nil)")
	}
	if tracingFromEnv != nil {
		panic("goms: RegisterTracingFromEnv called twice")
	}
	tracingFromEnv = fromEnv
}

// otlpRequested returns the variable by which the standard OpenTelemetry
// environment asks for OTLP export of traces, "" when it does not: an
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set,
// OTEL_SDK_DISABLED is not "true" and OTEL_TRACES_EXPORTER is unset or
// "otlp".
func otlpRequested(lookup func(string) (string, bool)) string {
	env := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") ||
		(env("OTEL_TRACES_EXPORTER") != "" && env("OTEL_TRACES_EXPORTER") != "otlp") {
		return ""
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if env(k) != "" {
			return k
		}
	}
	return ""
}

// tracingFromEnvironment returns the tracing option the environment asks
// for and the func that flushes it, nil and nil when it asks for none.
// Without a registered setup (the program lacks package goms/otlp), it
// warns on log and returns nils: the OTEL_* variables are often set for
// every process of a deployment, and tracing is not a reason to refuse to
// serve.
func tracingFromEnvironment(ctx context.Context, lookup func(string) (string, bool), log *slog.Logger) (Option, func(context.Context) error, error) {
	key := otlpRequested(lookup)
	if key == "" {
		return nil, nil, nil
	}
	tracingMu.Lock()
	fromEnv := tracingFromEnv
	tracingMu.Unlock()
	if fromEnv == nil {
		log.Warn(key + " is set, but this program has no OTLP exporter; tracing is off: add the blank import github.com/goms-io/goms/otlp to the main package")
		return nil, nil, nil
	}
	return fromEnv(ctx, lookup)
}
