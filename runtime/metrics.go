package runtime

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// serverMetrics are the gRPC server metrics, with the names and labels of
// go-grpc-middleware's Prometheus provider (grpc_server_started_total,
// grpc_server_handled_total, grpc_server_handling_seconds; grpc_type,
// grpc_service, grpc_method, grpc_code) plus a transport label,
// "network" or "inprocess". They are recorded here rather than by that
// provider because it resolves label values on every call (about 7
// allocations and a few hundred nanoseconds), which is most of the cost
// of an in-process call: here each method's series are resolved once.
type serverMetrics struct {
	started *prometheus.CounterVec
	handled *prometheus.CounterVec
	seconds *prometheus.HistogramVec
	// byMethod holds the resolved series of each registered method for
	// each transport; it is filled by register and read-only afterwards.
	byMethod [2]map[string]*methodMetrics
}

// Transport indexes of serverMetrics.byMethod.
const (
	overNetwork = iota
	inProcess
)

var transportNames = [2]string{"network", "inprocess"}

// methodMetrics are one method's series for one transport.
type methodMetrics struct {
	started prometheus.Counter
	seconds prometheus.Observer
	handled [codes.Unauthenticated + 1]atomic.Pointer[prometheus.Counter]
	labels  [5]string // type, service, method, transport, then the code
	vec     *prometheus.CounterVec
}

func newServerMetrics() *serverMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method", transportLabel}
	return &serverMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_started_total",
			Help: "Total number of RPCs started on the server.",
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total",
			Help: "Total number of RPCs completed on the server, regardless of success or failure.",
		}, append(labels, "grpc_code")),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
			Buckets: prometheus.DefBuckets,
		}, labels),
		byMethod: [2]map[string]*methodMetrics{{}, {}},
	}
}

// Describe and Collect make serverMetrics a prometheus.Collector.
func (m *serverMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.started.Describe(ch)
	m.handled.Describe(ch)
	m.seconds.Describe(ch)
}

func (m *serverMetrics) Collect(ch chan<- prometheus.Metric) {
	m.started.Collect(ch)
	m.handled.Collect(ch)
	m.seconds.Collect(ch)
}

// register resolves the series of every method of the services, for both
// transports. It runs before serving.
func (m *serverMetrics) register(descs []*grpc.ServiceDesc) {
	for _, sd := range descs {
		for _, md := range sd.Methods {
			m.add(sd.ServiceName, md.MethodName, "unary")
		}
		for _, st := range sd.Streams {
			kind := "bidi_stream"
			switch {
			case st.ClientStreams && !st.ServerStreams:
				kind = "client_stream"
			case !st.ClientStreams && st.ServerStreams:
				kind = "server_stream"
			}
			m.add(sd.ServiceName, st.StreamName, kind)
		}
	}
}

func (m *serverMetrics) add(service, method, kind string) {
	for t := range transportNames {
		mm := &methodMetrics{labels: [5]string{kind, service, method, transportNames[t]}, vec: m.handled}
		mm.started = m.started.WithLabelValues(mm.labels[:4]...)
		mm.seconds = m.seconds.WithLabelValues(mm.labels[:4]...)
		m.byMethod[t]["/"+service+"/"+method] = mm
	}
}

// of returns the series of a call, resolving them for a method that was
// not registered (such calls end Unimplemented).
func (m *serverMetrics) of(ctx context.Context, fullMethod string) *methodMetrics {
	t := overNetwork
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.Addr.Network() == "inprocess" {
		t = inProcess
	}
	if mm, ok := m.byMethod[t][fullMethod]; ok {
		return mm
	}
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	mm := &methodMetrics{labels: [5]string{"unary", service, method, transportNames[t]}, vec: m.handled}
	mm.started = m.started.WithLabelValues(mm.labels[:4]...)
	mm.seconds = m.seconds.WithLabelValues(mm.labels[:4]...)
	return mm
}

// done records the end of a call that began at start.
func (mm *methodMetrics) done(start time.Time, err error) {
	mm.seconds.Observe(time.Since(start).Seconds())
	code := status.Code(err)
	if int(code) >= len(mm.handled) {
		code = codes.Unknown
	}
	c := mm.handled[code].Load()
	if c == nil {
		labels := mm.labels
		labels[4] = code.String()
		counter := mm.vec.WithLabelValues(labels[:]...)
		mm.handled[code].CompareAndSwap(nil, &counter)
		c = mm.handled[code].Load()
	}
	(*c).Inc()
}
