// Package otelgoms traces a GoMs [goms.Server] with OpenTelemetry: with
// [WithTracerProvider], it records spans for HTTP requests and for gRPC
// calls served and made, over the network and in-process, carries W3C
// trace context between them and puts the trace id in call logs. It is a
// package apart so that programs that do not trace link no OpenTelemetry,
// and is named like OpenTelemetry's instrumentation packages (otelgrpc,
// otelhttp) so that it clashes neither with package goms nor with
// go.opentelemetry.io/otel in the programs that import it.
package otelgoms

import (
	"context"
	"net/http"

	"github.com/goms-io/goms"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// w3c is the propagator: W3C trace context and baggage.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// WithTracerProvider turns on OpenTelemetry tracing with tp: spans for
// HTTP requests (named "HTTP <method>"), gRPC calls served (over the
// network and in-process) and gRPC calls made through [goms.Server.Conn],
// [goms.Server.LocalConn], [goms.Server.Dial] and the gateway, with W3C
// trace context and baggage propagated between them, and the trace id in
// each call's log line. With a nil tp, tracing is off. [goms.Main] sets it
// from the standard OTEL_* environment when the program imports package
// github.com/goms-io/goms/otlp.
func WithTracerProvider(tp trace.TracerProvider) goms.Option {
	return goms.WithTracing(newTracing(tp))
}

// newTracing returns the instrumentation of tp: otelgrpc's stats handlers
// for gRPC calls, otelhttp for the gateway. It is the zero Tracing, off,
// when tp is nil.
func newTracing(tp trace.TracerProvider) goms.Tracing {
	if tp == nil {
		return goms.Tracing{}
	}
	opts := []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(w3c)}
	return goms.Tracing{
		Server: otelgrpc.NewServerHandler(opts...),
		Client: otelgrpc.NewClientHandler(opts...),
		// Traces the HTTP requests next serves, continuing the caller's
		// trace from its traceparent header.
		HTTP: func(next http.Handler) http.Handler {
			return otelhttp.NewHandler(next, "http.server",
				otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(w3c),
				otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "HTTP " + r.Method }))
		},
		TraceID: traceID,
	}
}

// traceID returns the id of the span context in ctx, "" when it has none.
func traceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
