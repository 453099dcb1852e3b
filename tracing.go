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

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// tracing is the OpenTelemetry wiring of a Server: otelgrpc's stats
// handlers on the gRPC server and on the connections the server dials,
// otelhttp on the HTTP gateway, and the same handlers run by hand around
// in-process calls, which grpc-go's stats machinery never sees.
type tracing struct {
	server, client stats.Handler
	tp             trace.TracerProvider
	propagator     propagation.TextMapPropagator
}

// w3c is the default propagator: W3C trace context and baggage.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// newTracing returns the wiring for tp, or nil when tp is nil: tracing is
// then off and costs nothing.
func newTracing(tp trace.TracerProvider) *tracing {
	if tp == nil {
		return nil
	}
	opts := []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(w3c)}
	return &tracing{
		server:     otelgrpc.NewServerHandler(opts...),
		client:     otelgrpc.NewClientHandler(opts...),
		tp:         tp,
		propagator: w3c,
	}
}

// httpHandler traces the HTTP requests next serves, continuing the
// caller's trace from its traceparent header.
func (t *tracing) httpHandler(next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "http.server",
		otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "HTTP " + r.Method }))
}

// unary and stream are the server-side stats handler as interceptors, for
// in-process calls.
func (t *tracing) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, end := beginRPC(ctx, t.server, info.FullMethod, false, false, false)
		resp, err := handler(ctx, req)
		end(err)
		return resp, err
	}
}

func (t *tracing) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, end := beginRPC(ss.Context(), t.server, info.FullMethod, false, info.IsClientStream, info.IsServerStream)
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
// in-process connection: it starts the client span and injects the trace
// context into the outgoing metadata, which the in-process server side
// extracts.
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
	tracingFromEnv func(context.Context, func(string) (string, bool)) (trace.TracerProvider, error)
)

// RegisterTracerProviderFromEnv installs how [Main] builds a tracer
// provider from the standard OpenTelemetry environment. When that
// environment asks for OTLP export (see [Main]), Main calls fromEnv with
// its lookup of environment variables and serves with the provider it
// returns ([WithTracerProvider]); if the provider has a method
// Shutdown(context.Context) error, Main calls it when the process stops,
// which flushes pending spans. An error stops Main, with exit status 2.
// The package github.com/goms-io/goms/otlp calls it from its init
// function, so that importing it (import _ "github.com/goms-io/goms/otlp")
// turns OTLP export on. RegisterTracerProviderFromEnv panics if fromEnv is
// nil or if it is called twice.
func RegisterTracerProviderFromEnv(fromEnv func(ctx context.Context, lookup func(string) (string, bool)) (trace.TracerProvider, error)) {
	tracingMu.Lock()
	defer tracingMu.Unlock()
	if fromEnv == nil {
		panic("goms: RegisterTracerProviderFromEnv(nil)")
	}
	if tracingFromEnv != nil {
		panic("goms: RegisterTracerProviderFromEnv called twice")
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

// tracerFromEnv returns the tracer provider the environment asks for, nil
// when it asks for none. Without a registered provider (the program lacks
// package goms/otlp), it warns on log and returns nil: the OTEL_* variables
// are often set for every process of a deployment, and tracing is not a
// reason to refuse to serve.
func tracerFromEnv(ctx context.Context, lookup func(string) (string, bool), log *slog.Logger) (trace.TracerProvider, error) {
	key := otlpRequested(lookup)
	if key == "" {
		return nil, nil
	}
	tracingMu.Lock()
	fromEnv := tracingFromEnv
	tracingMu.Unlock()
	if fromEnv == nil {
		log.Warn(key + " is set, but this program has no OTLP exporter; tracing is off: add the blank import github.com/goms-io/goms/otlp to the main package")
		return nil, nil
	}
	return fromEnv(ctx, lookup)
}
