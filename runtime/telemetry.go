package runtime

import (
	"context"
	"log/slog"
	"net/http"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// transportLabel tells in-process calls from calls over the network in the
// gRPC metrics: "inprocess" or "network".
const transportLabel = "transport"

// telemetry is the metrics a Server records, on a registry of its own so
// that several servers in one process do not collide.
type telemetry struct {
	registry     *prometheus.Registry
	grpcServer   *grpcprom.ServerMetrics
	grpcClient   *grpcprom.ClientMetrics
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
}

func newTelemetry() *telemetry {
	t := &telemetry{
		registry: prometheus.NewRegistry(),
		grpcServer: grpcprom.NewServerMetrics(
			grpcprom.WithServerHandlingTimeHistogram(),
			grpcprom.WithContextLabels(transportLabel),
		),
		grpcClient: grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram()),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "goms_http_requests_total",
			Help: "HTTP requests served by the gateway, by method and HTTP status code.",
		}, []string{"method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "goms_http_request_duration_seconds",
			Help:    "Time the gateway took to answer HTTP requests, by method and HTTP status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "code"}),
	}
	t.registry.MustRegister(t.grpcServer, t.grpcClient, t.httpRequests, t.httpDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return t
}

// transportOf labels a call by its peer.
func transportOf(ctx context.Context) prometheus.Labels {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.Addr.Network() == "inprocess" {
		return prometheus.Labels{transportLabel: "inprocess"}
	}
	return prometheus.Labels{transportLabel: "network"}
}

// serverInterceptors returns the interceptors every Server call runs
// through, outermost first: metrics, then one log line per call.
func (t *telemetry) serverInterceptors(log *slog.Logger) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	logger := slogAdapter(log)
	labels := grpcprom.WithLabelsFromContext(transportOf)
	traceID := logging.WithFieldsFromContext(traceFields)
	return []grpc.UnaryServerInterceptor{
			t.grpcServer.UnaryServerInterceptor(labels),
			logging.UnaryServerInterceptor(logger, traceID),
		}, []grpc.StreamServerInterceptor{
			t.grpcServer.StreamServerInterceptor(labels),
			logging.StreamServerInterceptor(logger, traceID),
		}
}

// traceFields adds the trace id of the call's span, if any, to its log line.
func traceFields(ctx context.Context) logging.Fields {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return logging.Fields{"trace_id", sc.TraceID().String()}
	}
	return nil
}

// clientDialOptions instrument the connections a Server dials.
func (t *telemetry) clientDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(t.grpcClient.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(t.grpcClient.StreamClientInterceptor()),
	}
}

// instrumentHTTP counts and times the requests next serves.
func (t *telemetry) instrumentHTTP(next http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(t.httpRequests,
		promhttp.InstrumentHandlerDuration(t.httpDuration, next))
}

// metricsHandler serves the registry in the Prometheus text format.
func (t *telemetry) metricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}

// slogAdapter logs go-grpc-middleware's call events with l.
func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, level logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(level), msg, fields...)
	})
}
