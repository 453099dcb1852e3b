// Package otlp is the OTLP trace exporter of GoMs: with it, [goms.Main]
// sends spans to the collector that the standard OTEL_* environment names
// (OTEL_EXPORTER_OTLP_ENDPOINT, over http/protobuf or grpc). Import it for
// its side effect, import _ "github.com/goms-io/goms/otlp", and set
// OTEL_EXPORTER_OTLP_ENDPOINT in the process's environment.
package otlp

import (
	"context"
	"errors"
	"strings"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/otelgoms"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func init() {
	goms.RegisterTracingFromEnv(func(ctx context.Context, lookup func(string) (string, bool)) (goms.Option, func(context.Context) error, error) {
		tp, err := fromEnv(ctx, lookup)
		if err != nil {
			return nil, nil, err
		}
		return otelgoms.WithTracerProvider(tp), tp.Shutdown, nil
	})
}

// fromEnv sets up the global tracer provider from the standard
// OpenTelemetry environment, which goms.Main has found asks for OTLP
// export. OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
// chooses "grpc" or "http/protobuf" (the default); the exporter reads its
// other OTEL_* variables itself, and the resource OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES. Main shuts the provider down, which flushes
// pending spans.
func fromEnv(ctx context.Context, lookup func(string) (string, bool)) (*sdktrace.TracerProvider, error) {
	env := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	key := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	protocol := env(key)
	if protocol == "" {
		key = "OTEL_EXPORTER_OTLP_PROTOCOL"
		protocol = env(key)
	}
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, errors.New("environment " + key + `: invalid value "` + protocol + `": want "grpc" or "http/protobuf"`)
	}
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.Environment())
	if err != nil {
		res = resource.Default()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp, nil
}
