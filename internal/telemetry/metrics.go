package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// rpcMetrics are the gRPC metrics of one side of calls, server or client,
// with the names and labels of go-grpc-middleware's Prometheus provider
// (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_handling_seconds and their grpc_client_… counterparts;
// grpc_type, grpc_service, grpc_method, grpc_code) plus a transport label,
// "network", "inprocess" or "mcp" (calls of MCP tools, in-process from
// the MCP endpoint). They are recorded here rather than by that
// provider because it resolves label values on every call (about 7
// allocations and a few hundred nanoseconds), which is most of the cost
// of an in-process call: here each method's series are resolved once.
type rpcMetrics struct {
	started *prometheus.CounterVec
	handled *prometheus.CounterVec
	seconds *prometheus.HistogramVec
	// byMethod holds the resolved series of each registered method for
	// each transport; it is filled by register and read-only afterwards.
	byMethod [3]map[string]*methodMetrics
	// others, on the client side only, holds the series of methods that
	// were not registered (calls on connections a server dials for its user); a
	// server does not keep them, as method names come from its clients.
	others *sync.Map
}

// Transport indexes of rpcMetrics.byMethod.
const (
	overNetwork = iota
	inProcess
	viaMCP
)

var transportNames = [3]string{"network", "inprocess", "mcp"}

// MCPNetwork is the peer network (net.Addr.Network) of the in-process
// calls the MCP endpoint makes: their server metrics have transport "mcp".
const MCPNetwork = "mcp"

// methodMetrics are one method's series for one transport.
type methodMetrics struct {
	started prometheus.Counter
	seconds prometheus.Observer
	handled [codes.Unauthenticated + 1]atomic.Pointer[prometheus.Counter]
	labels  [5]string // type, service, method, transport, then the code
	vec     *prometheus.CounterVec
}

func newServerMetrics() *rpcMetrics {
	return newRPCMetrics("server",
		"Total number of RPCs started on the server.",
		"Total number of RPCs completed on the server, regardless of success or failure.",
		"Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.")
}

func newClientMetrics() *rpcMetrics {
	m := newRPCMetrics("client",
		"Total number of RPCs started on the client.",
		"Total number of RPCs completed by the client, regardless of success or failure.",
		"Histogram of response latency (seconds) of the gRPC until it is finished by the application.")
	m.others = new(sync.Map)
	return m
}

func newRPCMetrics(side, startedHelp, handledHelp, secondsHelp string) *rpcMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method", transportLabel}
	return &rpcMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_" + side + "_started_total",
			Help: startedHelp,
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_" + side + "_handled_total",
			Help: handledHelp,
		}, append(labels, "grpc_code")),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_" + side + "_handling_seconds",
			Help:    secondsHelp,
			Buckets: prometheus.DefBuckets,
		}, labels),
		byMethod: [3]map[string]*methodMetrics{{}, {}, {}},
	}
}

// Describe and Collect make rpcMetrics a prometheus.Collector.
func (m *rpcMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.started.Describe(ch)
	m.handled.Describe(ch)
	m.seconds.Describe(ch)
}

func (m *rpcMetrics) Collect(ch chan<- prometheus.Metric) {
	m.started.Collect(ch)
	m.handled.Collect(ch)
	m.seconds.Collect(ch)
}

// register resolves the series of every method of sd for the given
// transports. It runs before serving, when the service is registered.
func (m *rpcMetrics) register(sd *grpc.ServiceDesc, transports ...int) {
	for _, t := range transports {
		for _, md := range sd.Methods {
			m.add(t, sd.ServiceName, md.MethodName, "unary")
		}
		for _, st := range sd.Streams {
			m.add(t, sd.ServiceName, st.StreamName, streamKind(st.ClientStreams, st.ServerStreams))
		}
	}
}

// streamKind is the grpc_type label of a stream.
func streamKind(clientStreams, serverStreams bool) string {
	switch {
	case clientStreams && !serverStreams:
		return "client_stream"
	case !clientStreams && serverStreams:
		return "server_stream"
	}
	return "bidi_stream"
}

func (m *rpcMetrics) add(transport int, service, method, kind string) {
	m.byMethod[transport]["/"+service+"/"+method] = m.newMethod(transport, service, method, kind)
}

func (m *rpcMetrics) newMethod(transport int, service, method, kind string) *methodMetrics {
	mm := &methodMetrics{labels: [5]string{kind, service, method, transportNames[transport]}, vec: m.handled}
	mm.started = m.started.WithLabelValues(mm.labels[:4]...)
	mm.seconds = m.seconds.WithLabelValues(mm.labels[:4]...)
	return mm
}

// of returns the series of a call to fullMethod of grpc_type kind over
// transport, resolving them for a method that was not registered.
func (m *rpcMetrics) of(transport int, fullMethod, kind string) *methodMetrics {
	if mm, ok := m.byMethod[transport][fullMethod]; ok {
		return mm
	}
	if m.others == nil {
		service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
		return m.newMethod(transport, service, method, kind)
	}
	key := otherMethod{transport, kind, fullMethod}
	if mm, ok := m.others.Load(key); ok {
		return mm.(*methodMetrics)
	}
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	mm, _ := m.others.LoadOrStore(key, m.newMethod(transport, service, method, kind))
	return mm.(*methodMetrics)
}

// begin records the start of a call to fullMethod of grpc_type kind over
// transport, and returns its series and start time (see [clock]) for done.
func (m *rpcMetrics) begin(transport int, fullMethod, kind string) (*methodMetrics, time.Duration) {
	mm := m.of(transport, fullMethod, kind)
	mm.started.Inc()
	return mm, clock()
}

// clockOrigin is the origin of [clock].
var clockOrigin = time.Now()

// clock returns the time elapsed since clockOrigin, which is what the
// call metrics and logs need of a call's start and end: durations. It reads
// the monotonic clock only, where time.Now reads the wall clock too: a
// co-located call reads the clock four times (start and end, on the client
// side and on the server side), and each read was about 2% of its time.
func clock() time.Duration { return time.Since(clockOrigin) }

// otherMethod keys rpcMetrics.others.
type otherMethod struct {
	transport        int
	kind, fullMethod string
}

// serverTransport is the transport index of the call a server handles
// with ctx.
func serverTransport(ctx context.Context) int {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		switch p.Addr.Network() {
		case "inprocess":
			return inProcess
		case MCPNetwork:
			return viaMCP
		}
	}
	return overNetwork
}

// done records the end of a call that lasted d.
func (mm *methodMetrics) done(d time.Duration, err error) {
	mm.seconds.Observe(d.Seconds())
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

// httpMetrics count and time the gateway's HTTP requests by method and
// status code (goms_http_requests_total, goms_http_request_duration_seconds),
// resolving each (method, code) pair's series once.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	series   [len(httpMethods) + 1][600]atomic.Pointer[httpSeries]
}

// httpMethods are the methods labelled by name; others count as "other".
var httpMethods = [...]string{"get", "post", "put", "patch", "delete", "head", "options"}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "goms_http_requests_total",
			Help: "HTTP requests served by the gateway, by method and HTTP status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "goms_http_request_duration_seconds",
			Help:    "Time the gateway took to answer HTTP requests, by method and HTTP status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "code"}),
	}
}

// Describe and Collect make httpMetrics a prometheus.Collector.
func (m *httpMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.duration.Describe(ch)
}

func (m *httpMetrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.duration.Collect(ch)
}

// instrument records every request next serves, then hands it to done
// with its status and duration.
func (m *httpMetrics) instrument(next http.Handler, done func(r *http.Request, code int, d time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		d := time.Since(start)
		s := m.of(r.Method, rec.code)
		s.requests.Inc()
		s.duration.Observe(d.Seconds())
		done(r, rec.code, d)
	})
}

func (m *httpMetrics) of(method string, code int) *httpSeries {
	mi := len(httpMethods)
	for i, name := range httpMethods {
		if strings.EqualFold(method, name) {
			mi = i
			break
		}
	}
	if code < 100 || code >= 600 {
		code = 0
	}
	slot := &m.series[mi][code]
	if s := slot.Load(); s != nil {
		return s
	}
	name := "other"
	if mi < len(httpMethods) {
		name = httpMethods[mi]
	}
	c := strconv.Itoa(code)
	slot.CompareAndSwap(nil, &httpSeries{
		requests: m.requests.WithLabelValues(name, c),
		duration: m.duration.WithLabelValues(name, c),
	})
	return slot.Load()
}

// statusRecorder notes the status code written through it. It passes
// flushes on, which grpc-gateway needs for server-streaming responses.
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(p []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(p)
}

func (w *statusRecorder) Flush() { _ = w.FlushError() }

// FlushError flushes the underlying writer and returns its error, so
// that a stream writing through w learns of a client that went away.
func (w *statusRecorder) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
