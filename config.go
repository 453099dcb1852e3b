package goms

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Mode says which servers a process runs.
type Mode string

const (
	// ModeGateway serves gRPC and the HTTP/JSON gateway in one process. The
	// gateway calls the local services in-process, without a network hop.
	ModeGateway Mode = "gateway"
	// ModeGRPC serves gRPC only.
	ModeGRPC Mode = "grpc"
	// ModeHTTP serves the HTTP/JSON gateway only and forwards every call to
	// the remote gRPC server named by [Config.Upstream].
	ModeHTTP Mode = "http"
)

// modes lists the accepted modes, in the order help texts show them.
var modes = []Mode{ModeGateway, ModeGRPC, ModeHTTP}

// String implements [flag.Value].
func (m *Mode) String() string { return string(*m) }

// Set implements [flag.Value]; it accepts only the defined modes.
func (m *Mode) Set(s string) error {
	if i := slices.Index(modes, Mode(s)); i >= 0 {
		*m = modes[i]
		return nil
	}
	return fmt.Errorf("invalid mode %q: want %s", s, oneOf(modes))
}

// oneOf lists values for error messages: "a", "b" or "c".
func oneOf[T ~string](values []T) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(string(v))
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// servesGRPC reports whether a process in mode m listens for gRPC.
func (m Mode) servesGRPC() bool { return m == ModeGateway || m == ModeGRPC }

// servesHTTP reports whether a process in mode m runs the HTTP gateway.
func (m Mode) servesHTTP() bool { return m == ModeGateway || m == ModeHTTP }

// Defaults, as in the original GoMs. Port 42001 lies in Linux's default
// ephemeral range (32768–60999), where an outgoing connection may take it
// before the server binds: on a shared host, use a port below 32768 or
// reserve it (net.ipv4.ip_local_reserved_ports); see the README.
const (
	DefaultGRPCAddr      = "127.0.0.1:42001"
	DefaultHTTPAddr      = "127.0.0.1:8080"
	DefaultShutdownGrace = 10 * time.Second
)

// Config is what a [Server] needs to know about its deployment. Build it
// with [DefaultConfig] and override fields, or let [LoadConfig] read it
// from a YAML file, GOMS_* environment variables and flags. Its sections
// mirror the file's (Config.HTTP.ReadTimeout is http.read_timeout); each
// field's doc names its key, from which the flag and the environment
// variable are derived (see [LoadConfig]).
type Config struct {
	// Mode selects the servers to run. Key mode, default "gateway".
	Mode Mode
	// GRPC configures the gRPC server (section grpc).
	GRPC GRPCConfig
	// HTTP configures the HTTP gateway (section http).
	HTTP HTTPConfig
	// Upstream is the gRPC target (grpc-go syntax: "host:port",
	// "dns:///host:port", "unix:path") the gateway forwards to in
	// [ModeHTTP]; required there. Key upstream.
	Upstream string
	// Admin configures the admin endpoints (section admin).
	Admin AdminConfig
	// Log configures the logs of [Main] (section log).
	Log LogConfig
	// ShutdownGrace bounds a graceful stop: in-flight calls get this long to
	// finish before connections are closed. Key shutdown_grace, default 10s.
	ShutdownGrace time.Duration
	// TLS configures the servers' TLS (section tls).
	TLS TLSConfig
	// ClientTLS configures the TLS of the connections the server dials
	// (section client_tls).
	ClientTLS ClientTLSConfig
	// Serve lists the registered services this process hosts; empty (the
	// default) hosts them all. The others are called at their
	// [Config.Targets], so one binary registering every service runs as
	// one process or as several by configuration alone. Key serve (a list;
	// comma-separated in flags and env).
	Serve []string
	// Targets says where to call services this process does not host:
	// fully-qualified service name → gRPC target (grpc-go syntax, such as
	// "dns:///catalog:42001", "unix:/run/catalog.sock", or a static list
	// "10.0.0.1:42001,10.0.0.2:42001"). See [Server.Conn]. Key targets (a
	// mapping in the file; name=target pairs, comma-separated, in flags and
	// env).
	Targets map[string]string
	// Client configures the calls made through [Server.Conn] (section
	// client).
	Client ClientConfig
	// Etcd configures service discovery through etcd (section etcd).
	Etcd EtcdConfig
	// MCP configures the MCP tools served at /mcp on the HTTP port
	// (section mcp).
	MCP MCPConfig
	// Services holds the per-service sections of the configuration file,
	// by fully-qualified service name. Key services.
	Services map[string]ServiceConfig
}

// GRPCConfig is the grpc section of [Config].
type GRPCConfig struct {
	// Addr is the host:port the gRPC server listens on in [ModeGateway]
	// and [ModeGRPC]; port 0 picks a free port. Key grpc.addr, default
	// 127.0.0.1:42001.
	Addr string
	// Reflection serves the gRPC reflection service (what grpcurl uses),
	// which tells any client the schema of the services served: turn it
	// off in production unless tooling needs it. Key grpc.reflection,
	// default true.
	Reflection bool
	// MaxRecvBytes and MaxSendBytes bound a call's request and response
	// messages in bytes (their protobuf size), over gRPC and over HTTP
	// alike: an HTTP call in gateway mode, which serializes nothing, is
	// held to them by the gateway (RESOURCE_EXHAUSTED, 429).
	// Keys grpc.max_recv_bytes and grpc.max_send_bytes, default 4 MiB.
	MaxRecvBytes, MaxSendBytes int
	// MaxHeaderBytes bounds the metadata (the HTTP/2 header list, counted
	// as HTTP/2 does: name, value and 32 bytes a field) of a gRPC call;
	// the server advertises it, and resets a stream whose metadata is
	// larger. Key grpc.max_header_bytes, default 48 KiB: under Envoy's
	// 60 KiB (grpc-go alone allows 16 MiB), and 16 KiB above
	// http.max_header_bytes, for what an http-mode front adds when it
	// forwards an HTTP request's headers as metadata (32 bytes a field,
	// grpcgateway- prefixes, x-forwarded-*): a request the front accepts
	// then reaches its upstream.
	MaxHeaderBytes int
	// MaxConcurrentStreams bounds the calls open at once on one gRPC
	// connection; the server advertises it, refuses streams beyond it, and
	// with it grpc-go bounds the handlers a client can start by opening and
	// cancelling streams (HTTP/2 rapid reset). Key
	// grpc.max_concurrent_streams, default 100: Envoy's edge guidance
	// (nginx allows 128; grpc-go alone, no limit).
	MaxConcurrentStreams int
	// StreamWorkers is the number of goroutines kept to run gRPC calls
	// (grpc-go's NumStreamWorkers): a call starts on an idle one, whose
	// stack has already grown, instead of on a new goroutine whose stack
	// grows call after call (a fifth of a small unary call's
	// instructions); when all are busy, a call gets a new goroutine as
	// without them. 0: a new goroutine per call (grpc-go's default). Key
	// grpc.stream_workers, default 16.
	StreamWorkers int
	// MaxConnections bounds the connections open at once on the gRPC
	// port; a connection beyond it is closed as soon as it is accepted,
	// and the server logs a warning. 0: no limit. Key
	// grpc.max_connections, default 512: nginx's default worker_connections
	// (Envoy's edge guidance: 10,000 a listener; grpc-go alone, no limit).
	MaxConnections int
	// HandshakeTimeout bounds the start of a gRPC connection: the TLS
	// handshake, if any, the HTTP/2 preface and the client's first
	// SETTINGS frame. A connection that has not sent them by then is
	// closed. Key grpc.handshake_timeout, default 10s, as
	// http.read_header_timeout (grpc-go's default is 120s; nginx's
	// client_header_timeout 60s).
	HandshakeTimeout time.Duration
	// IdleTimeout closes gRPC connections that have had no call open for
	// that long, with a GOAWAY first (clients reconnect on their next
	// call). 0: never. Key grpc.idle_timeout, default 2m, as
	// http.idle_timeout (Envoy's edge guidance: 1h; grpc-go alone: never).
	IdleTimeout time.Duration
	// MaxUnaryTimeout bounds the deadline of unary calls from clients: over
	// gRPC and over HTTP (the gateway's calls, in every mode): a call with a
	// later deadline gets this one, so a client cannot hold a handler for
	// ever by sending grpc-timeout 99999999H. Streams are not bounded:
	// they may last as long as the client wants (a health Watch lasts as
	// long as its connection). 0: no bound. Key grpc.max_unary_timeout,
	// default 1m: nginx's grpc_read_timeout (60s); Envoy's edge guidance
	// ends requests after 300s. Calls made in-process by the program itself
	// ([Server.LocalConn], [Server.Conn]) keep their caller's deadline.
	MaxUnaryTimeout time.Duration
	// Validate checks requests against the buf.validate rules of their
	// protos (protovalidate) before the handler, on every transport:
	// an invalid one fails with codes.InvalidArgument (HTTP 400) and a
	// google.rpc.BadRequest of its field violations. It applies when the
	// program links package github.com/goms-io/goms/validate, which the
	// code generated for protos with rules imports. Key grpc.validate,
	// default true.
	Validate bool
}

// HTTPConfig is the http section of [Config].
type HTTPConfig struct {
	// Addr is the host:port the HTTP gateway listens on in [ModeGateway]
	// and [ModeHTTP]; port 0 picks a free port. Key http.addr, default
	// 127.0.0.1:8080.
	Addr string
	// MaxBodyBytes bounds HTTP request bodies; larger ones get 413.
	// Key http.max_body_bytes, default 4 MiB.
	MaxBodyBytes int
	// MaxHeaderBytes bounds an HTTP request's request line and headers;
	// larger ones get 431 with the JSON error body (up to twice the limit;
	// beyond that net/http refuses them itself). Key
	// http.max_header_bytes, default 32 KiB: nginx's total for request
	// headers (large_client_header_buffers 4 8k); Envoy allows 60 KiB,
	// net/http alone 1 MiB.
	MaxHeaderBytes int
	// MaxConcurrentStreams bounds the requests open at once on one HTTP/2
	// connection to the HTTP port (HTTP/2 is spoken there over TLS, or in
	// cleartext when gRPC shares the port). Key
	// http.max_concurrent_streams, default 100: Envoy's edge guidance
	// (nginx allows 128, net/http alone 250).
	MaxConcurrentStreams int
	// MaxConnections bounds the connections open at once on the HTTP
	// port; a connection beyond it is closed as soon as it is accepted,
	// and the server logs a warning. The admin endpoints share the cap
	// unless [AdminConfig.Addr] gives them their own port. 0: no limit.
	// Key http.max_connections, default 512: nginx's default
	// worker_connections (Envoy's edge guidance: 10,000 a listener;
	// net/http alone, no limit). A browser opens up to 6 connections: raise
	// it where browsers call the port directly rather than through a proxy.
	MaxConnections int
	// DiscardUnknown makes the HTTP gateway ignore JSON fields and enum
	// names its protos do not declare, as grpc-gateway does by default;
	// GoMs refuses them with 400 unless this is set. Set it where clients
	// may be built from newer protos than the server (an http-mode front
	// rolled out after its backends). Key http.discard_unknown, default
	// false.
	DiscardUnknown bool
	// ReadHeaderTimeout cuts off HTTP clients that do not finish their
	// headers in time. Key http.read_header_timeout, default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole HTTP request, body included.
	// Key http.read_timeout, default 1m.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an HTTP response. Key http.write_timeout,
	// default 0 (none): server-streaming responses may last long; bound
	// calls with deadlines instead.
	WriteTimeout time.Duration
	// IdleTimeout closes idle HTTP keep-alive connections.
	// Key http.idle_timeout, default 2m.
	IdleTimeout time.Duration
	// CORSOrigins lists the origins allowed to call the HTTP gateway from
	// a browser; empty (the default) turns CORS off. "*" allows any origin.
	// Key http.cors_origins (a list; comma-separated in flags and env).
	CORSOrigins []string
	// SSEKeepAlive is the interval of the keep-alive comments of a server
	// stream served as Server-Sent Events (Accept: text/event-stream), so
	// that proxies and browsers keep a quiet stream open; 0: none.
	// Key http.sse_keepalive, default 15s.
	SSEKeepAlive time.Duration
	// Connect serves the Connect protocol and gRPC-Web on the HTTP port,
	// at each method's gRPC path, beside the REST routes; false: REST
	// only. Key http.connect, default true.
	Connect bool
	// OpenAPIPath is where the HTTP port serves the OpenAPI 3.1 document
	// of the routes it serves, merged from the services' generated
	// fragments (GET and HEAD). Empty: not served. Key http.openapi_path,
	// default /openapi.json.
	OpenAPIPath string
	// DocsPath is where the HTTP port serves the API console: a page,
	// embedded in the binary, that reads the OpenAPI document and calls
	// the routes from a browser (unary, server streams over SSE, client
	// and bidi streams over a WebSocket). Empty: not served, nor when
	// OpenAPIPath is empty (the page reads the document). Key
	// http.docs_path, default /docs.
	DocsPath string
}

// AdminConfig is the admin section of [Config].
type AdminConfig struct {
	// Addr, when set, serves /healthz, /readyz and /metrics on their own
	// host:port. Empty (the default) serves them on the HTTP gateway's
	// address, so a process in [ModeGRPC] then has none. The admin port
	// has no connection cap: set it, on an address clients cannot reach,
	// so that probes still answer while the public ports are at their
	// http.max_connections and grpc.max_connections. Key admin.addr.
	Addr string
}

// LogConfig is the log section of [Config].
type LogConfig struct {
	// Level is the minimum level logged by [Main].
	// Key log.level: debug, info (default), warn or error.
	Level slog.Level
	// Format is the format of [Main]'s logs. Key log.format: text
	// (default) or json.
	Format string
	// SlowCall is the duration from which a call that succeeded, or failed
	// through the client's fault, is logged at WARN rather than DEBUG;
	// 0: never. Key log.slow_call (default 1s).
	SlowCall time.Duration
}

// TLSConfig is the tls section of [Config].
type TLSConfig struct {
	// CertFile and KeyFile, when set, serve gRPC and HTTP over TLS with
	// this certificate (PEM). Keys tls.cert_file and tls.key_file.
	CertFile, KeyFile string
	// ClientCAFile, when set, requires clients to present a certificate
	// signed by one of these CAs (mutual TLS). Key tls.client_ca_file.
	ClientCAFile string
}

// ClientTLSConfig is the client_tls section of [Config].
type ClientTLSConfig struct {
	// Enabled makes the connections the server dials (the upstream in
	// [ModeHTTP], [Server.Dial]) use TLS. Key client_tls.enabled; it is
	// implied by any other client_tls key.
	Enabled bool
	// CAFile verifies the servers dialled (PEM; default: the system's
	// roots). Key client_tls.ca_file.
	CAFile string
	// CertFile and KeyFile are the certificate the server presents when
	// it dials (mutual TLS). Keys client_tls.cert_file and
	// client_tls.key_file.
	CertFile, KeyFile string
}

// ClientConfig is the client section of [Config].
type ClientConfig struct {
	// CallTimeout is the deadline of calls through [Server.Conn] whose
	// context has none. Key client.call_timeout, default 10s.
	CallTimeout time.Duration
	// PropagateMetadata lists the incoming metadata keys that calls made
	// through [Server.Conn] inside a handler carry on to the next service,
	// unless the caller set them itself. Key client.propagate_metadata,
	// default x-request-id.
	PropagateMetadata []string
	// ConnectTimeout bounds the wait for the targets to be reachable at
	// start-up; until then, and for good if the wait ends without them,
	// /readyz answers 503 naming them. Key client.connect_timeout,
	// default 10s.
	ConnectTimeout time.Duration
}

// MCPConfig is the mcp section of [Config]. Serving MCP tools needs the
// package github.com/goms-io/goms/mcp in the program (import _
// "github.com/goms-io/goms/mcp"); see [RegisterMCP].
type MCPConfig struct {
	// Tools names the methods served as MCP tools at /mcp on the HTTP
	// port: fully-qualified services (all their unary and server-streaming
	// methods) or methods, as pkg.Service/Method. Key mcp.tools (a list;
	// comma-separated in flags and env); empty, the default: no /mcp.
	Tools []string
}

// EtcdConfig is the etcd section of [Config]. Discovery through etcd
// needs the package github.com/goms-io/goms/etcd in the program (import _
// "github.com/goms-io/goms/etcd"); see [Discovery].
type EtcdConfig struct {
	// Endpoints, when set, turn on service discovery through etcd: the
	// server registers each service it hosts under a lease, and services
	// without a target are found at etcd:///<prefix>/<service>. Key
	// etcd.endpoints (a list; comma-separated in flags and env). Without
	// the package goms/etcd in the program, Start then fails.
	Endpoints []string
	// Prefix is the key prefix of the registrations. Key etcd.prefix,
	// default "goms".
	Prefix string
	// LeaseTTL is how long a registration outlives a process that died
	// without deregistering. Key etcd.lease_ttl, default 10s.
	LeaseTTL time.Duration
	// AdvertiseAddr is the host:port registered for this server. Key
	// etcd.advertise_addr; default the gRPC address, which must then name
	// a host.
	AdvertiseAddr string
}

// ServiceConfig is one service's section of the configuration file:
//
//	services:
//	  shop.orders.v1.OrderService:
//	    grpc: true      # expose on the gRPC server (default true)
//	    http: false     # expose on the HTTP gateway (default true)
//	    config:         # free-form, decoded by the service: see [Config.DecodeService]
//	      max_items: 20
//
// A service exposed on neither is still callable in-process
// ([Server.LocalConn]).
type ServiceConfig struct {
	// GRPC exposes the service on the gRPC server. Default true.
	GRPC bool
	// HTTP exposes the service's routes on the HTTP gateway. Default true.
	HTTP bool

	config *yaml.Node // the free-form block, nil if absent
	source string     // "file:line" of the section, for errors
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Mode: ModeGateway,
		GRPC: GRPCConfig{
			Addr:                 DefaultGRPCAddr,
			Reflection:           true,
			Validate:             true,
			MaxRecvBytes:         4 << 20,
			MaxSendBytes:         4 << 20,
			MaxHeaderBytes:       48 << 10,
			MaxConcurrentStreams: 100,
			StreamWorkers:        16,
			MaxConnections:       512,
			HandshakeTimeout:     10 * time.Second,
			IdleTimeout:          2 * time.Minute,
			MaxUnaryTimeout:      time.Minute,
		},
		HTTP: HTTPConfig{
			Addr:                 DefaultHTTPAddr,
			MaxBodyBytes:         4 << 20,
			MaxHeaderBytes:       32 << 10,
			MaxConcurrentStreams: 100,
			MaxConnections:       512,
			ReadHeaderTimeout:    10 * time.Second,
			ReadTimeout:          time.Minute,
			IdleTimeout:          2 * time.Minute,
			SSEKeepAlive:         15 * time.Second,
			Connect:              true,
			OpenAPIPath:          DefaultOpenAPIPath,
			DocsPath:             DefaultDocsPath,
		},
		Log:           LogConfig{Level: slog.LevelInfo, Format: "text", SlowCall: time.Second},
		ShutdownGrace: DefaultShutdownGrace,
		Client: ClientConfig{
			CallTimeout:       10 * time.Second,
			PropagateMetadata: []string{"x-request-id"},
			ConnectTimeout:    10 * time.Second,
		},
		Etcd: EtcdConfig{Prefix: "goms", LeaseTTL: 10 * time.Second},
	}
}

// onePort reports whether gRPC and HTTP share one listener: both are
// served and their addresses are the same, with a fixed port (two
// port-0 addresses pick two free ports).
func (c Config) onePort() bool {
	_, port, _ := net.SplitHostPort(c.GRPC.Addr)
	return c.Mode == ModeGateway && c.GRPC.Addr == c.HTTP.Addr && port != "0"
}

// clientTLS reports whether dialled connections use TLS.
func (c Config) clientTLS() bool {
	return c.ClientTLS.Enabled || c.ClientTLS.CAFile != "" || c.ClientTLS.CertFile != ""
}

// service returns the section of the named service, with defaults.
func (c Config) service(name string) ServiceConfig {
	if sc, ok := c.Services[name]; ok {
		return sc
	}
	return ServiceConfig{GRPC: true, HTTP: true}
}

// DecodeService decodes the free-form config block of the named service
// into v, a pointer to the service's own struct (fields map to keys with
// the `yaml` struct tag). Unknown keys and wrong types are errors naming
// the file and line. Without a block, v is left as it is.
func (c Config) DecodeService(name string, v any) error {
	sc, ok := c.Services[name]
	if !ok || sc.config == nil {
		return nil
	}
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(sc.config); err != nil {
		return fmt.Errorf("%s: services.%s.config: %w", sc.source, name, err)
	}
	// Decoding a re-encoded copy is what enables KnownFields; its line
	// numbers are then put back to the file's.
	dec := yaml.NewDecoder(strings.NewReader(buf.String()))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		msg := unknownField.ReplaceAllStringFunc(strings.TrimPrefix(err.Error(), "yaml: "), func(m string) string {
			field := unknownField.FindStringSubmatch(m)[2]
			if line := keyLine(sc.config, field); line > 0 {
				return fmt.Sprintf("line %d: field %s not found", line, field)
			}
			return m
		})
		return fmt.Errorf("%s: services.%s.config: %s", sc.source, name, msg)
	}
	return nil
}

// unknownField matches yaml's message for a key with no struct field.
var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found`)

// keyLine returns the line of the first mapping key named key under n.
func keyLine(n *yaml.Node, key string) int {
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i].Line
			}
		}
	}
	for _, c := range n.Content {
		if line := keyLine(c, key); line > 0 {
			return line
		}
	}
	return 0
}

// setting ties one scalar Config field to its key in the configuration
// file. The flag and the environment variable are derived from the key, so
// each setting is named once.
type setting struct {
	key   string // dotted path in the YAML file, such as "grpc.addr"
	usage string
	value func(c *Config) flag.Value
}

// flagName is the key with dots and underscores as dashes: grpc-addr.
func (s setting) flagName() string { return strings.NewReplacer(".", "-", "_", "-").Replace(s.key) }

// envName is GOMS_ and the key in capitals with dots as underscores.
func (s setting) envName() string {
	return "GOMS_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// settings lists every scalar setting, in the order of the reference table.
func settings() []setting {
	return []setting{
		{"mode", "servers to run: " + oneOf(modes),
			func(c *Config) flag.Value { return &c.Mode }},
		{"grpc.addr", "gRPC listen address (host:port) in gateway and grpc modes",
			func(c *Config) flag.Value { return (*addrValue)(&c.GRPC.Addr) }},
		{"grpc.reflection", "serve gRPC reflection",
			func(c *Config) flag.Value { return (*boolValue)(&c.GRPC.Reflection) }},
		{"grpc.max_recv_bytes", "largest message a call receives, in bytes, over gRPC and HTTP (larger: RESOURCE_EXHAUSTED, 429)",
			func(c *Config) flag.Value { return (*sizeValue)(&c.GRPC.MaxRecvBytes) }},
		{"grpc.max_send_bytes", "largest message a call sends, in bytes, over gRPC and HTTP (larger: RESOURCE_EXHAUSTED, 429)",
			func(c *Config) flag.Value { return (*sizeValue)(&c.GRPC.MaxSendBytes) }},
		{"grpc.max_header_bytes", "largest gRPC metadata received, in bytes (HTTP/2 header list size)",
			func(c *Config) flag.Value { return (*sizeValue)(&c.GRPC.MaxHeaderBytes) }},
		{"grpc.max_concurrent_streams", "most calls open at once on one gRPC connection",
			func(c *Config) flag.Value { return (*countValue)(&c.GRPC.MaxConcurrentStreams) }},
		{"grpc.stream_workers", "goroutines kept to run gRPC calls, sparing each call a new goroutine and its stack growth; 0: a new goroutine per call",
			func(c *Config) flag.Value { return (*countValue)(&c.GRPC.StreamWorkers) }},
		{"grpc.max_connections", "most connections open at once on the gRPC port; 0: no limit",
			func(c *Config) flag.Value { return (*countValue)(&c.GRPC.MaxConnections) }},
		{"grpc.handshake_timeout", "time a new gRPC connection gets to finish its TLS and HTTP/2 handshake",
			func(c *Config) flag.Value { return (*durationValue)(&c.GRPC.HandshakeTimeout) }},
		{"grpc.idle_timeout", "time a gRPC connection without calls stays open; 0: no limit",
			func(c *Config) flag.Value { return (*durationValue)(&c.GRPC.IdleTimeout) }},
		{"grpc.max_unary_timeout", "longest deadline a unary call may bring (later: cut to it); 0: no limit",
			func(c *Config) flag.Value { return (*durationValue)(&c.GRPC.MaxUnaryTimeout) }},
		{"grpc.validate", "check requests against the buf.validate rules in the protos, on every transport",
			func(c *Config) flag.Value { return (*boolValue)(&c.GRPC.Validate) }},
		{"http.addr", "HTTP listen address (host:port) in gateway and http modes",
			func(c *Config) flag.Value { return (*addrValue)(&c.HTTP.Addr) }},
		{"upstream", "gRPC target the HTTP gateway forwards to in http mode",
			func(c *Config) flag.Value { return (*stringValue)(&c.Upstream) }},
		{"http.max_body_bytes", "largest HTTP request body, in bytes (larger: 413)",
			func(c *Config) flag.Value { return (*sizeValue)(&c.HTTP.MaxBodyBytes) }},
		{"http.max_header_bytes", "largest HTTP request line and headers, in bytes (larger: 431)",
			func(c *Config) flag.Value { return (*sizeValue)(&c.HTTP.MaxHeaderBytes) }},
		{"http.max_concurrent_streams", "most requests open at once on one HTTP/2 connection to the HTTP port",
			func(c *Config) flag.Value { return (*countValue)(&c.HTTP.MaxConcurrentStreams) }},
		{"http.max_connections", "most connections open at once on the HTTP port; 0: no limit",
			func(c *Config) flag.Value { return (*countValue)(&c.HTTP.MaxConnections) }},
		{"http.discard_unknown", "ignore JSON fields and enum names the protos do not declare (default: 400)",
			func(c *Config) flag.Value { return (*boolValue)(&c.HTTP.DiscardUnknown) }},
		{"http.read_header_timeout", "time an HTTP client gets to send its request headers",
			func(c *Config) flag.Value { return (*durationValue)(&c.HTTP.ReadHeaderTimeout) }},
		{"http.read_timeout", "time an HTTP client gets to send a whole request, body included",
			func(c *Config) flag.Value { return (*durationValue)(&c.HTTP.ReadTimeout) }},
		{"http.write_timeout", "time the server gets to write a response; 0: no limit (server streams)",
			func(c *Config) flag.Value { return (*durationValue)(&c.HTTP.WriteTimeout) }},
		{"http.idle_timeout", "time an idle HTTP keep-alive connection stays open",
			func(c *Config) flag.Value { return (*durationValue)(&c.HTTP.IdleTimeout) }},
		{"http.cors_origins", "origins allowed by CORS, comma-separated; empty: CORS off",
			func(c *Config) flag.Value { return (*listValue)(&c.HTTP.CORSOrigins) }},
		{"http.sse_keepalive", "interval of keep-alive comments in server streams sent as SSE; 0: none",
			func(c *Config) flag.Value { return (*durationValue)(&c.HTTP.SSEKeepAlive) }},
		{"http.connect", "serve the Connect protocol and gRPC-Web at the methods' gRPC paths; false: REST only",
			func(c *Config) flag.Value { return (*boolValue)(&c.HTTP.Connect) }},
		{"http.openapi_path", "path of the OpenAPI 3.1 document of the HTTP routes; empty: not served",
			func(c *Config) flag.Value { return (*optionalPathValue)(&c.HTTP.OpenAPIPath) }},
		{"http.docs_path", "path of the API console; empty, or http.openapi_path empty: not served",
			func(c *Config) flag.Value { return (*optionalPathValue)(&c.HTTP.DocsPath) }},
		{"admin.addr", "own address for /healthz, /readyz and /metrics; empty: the HTTP address",
			func(c *Config) flag.Value { return (*optionalAddrValue)(&c.Admin.Addr) }},
		{"log.level", "minimum log level: debug, info, warn or error",
			func(c *Config) flag.Value { return (*levelValue)(&c.Log.Level) }},
		{"log.format", `log format: "text" or "json"`,
			func(c *Config) flag.Value { return (*formatValue)(&c.Log.Format) }},
		{"log.slow_call", "duration from which a call is logged at WARN, not DEBUG; 0: never",
			func(c *Config) flag.Value { return (*durationValue)(&c.Log.SlowCall) }},
		{"serve", "registered services this process hosts; empty: all",
			func(c *Config) flag.Value { return (*listValue)(&c.Serve) }},
		{"targets", "where to call services hosted elsewhere: service=target pairs",
			func(c *Config) flag.Value { return (*mapValue)(&c.Targets) }},
		{"client.call_timeout", "deadline of calls to other services whose context has none",
			func(c *Config) flag.Value { return (*durationValue)(&c.Client.CallTimeout) }},
		{"client.propagate_metadata", "incoming metadata keys passed on to the calls a handler makes, comma-separated",
			func(c *Config) flag.Value { return (*listValue)(&c.Client.PropagateMetadata) }},
		{"client.connect_timeout", "how long start-up waits for the targets to be reachable",
			func(c *Config) flag.Value { return (*durationValue)(&c.Client.ConnectTimeout) }},
		{"etcd.endpoints", "etcd endpoints for service discovery (needs package goms/etcd), comma-separated; empty: off",
			func(c *Config) flag.Value { return (*listValue)(&c.Etcd.Endpoints) }},
		{"etcd.prefix", "key prefix of the service registrations in etcd",
			func(c *Config) flag.Value { return (*stringValue)(&c.Etcd.Prefix) }},
		{"etcd.lease_ttl", "lifetime of a registration whose process stopped renewing it",
			func(c *Config) flag.Value { return (*durationValue)(&c.Etcd.LeaseTTL) }},
		{"etcd.advertise_addr", "host:port registered for this server; empty: the gRPC address",
			func(c *Config) flag.Value { return (*optionalAddrValue)(&c.Etcd.AdvertiseAddr) }},
		{"mcp.tools", "services (pkg.Service) or methods (pkg.Service/Method) served as MCP tools at /mcp (needs package goms/mcp); empty: off",
			func(c *Config) flag.Value { return (*listValue)(&c.MCP.Tools) }},
		{"tls.cert_file", "TLS certificate (PEM) for gRPC and HTTP; empty: plaintext",
			func(c *Config) flag.Value { return (*stringValue)(&c.TLS.CertFile) }},
		{"tls.key_file", "TLS private key (PEM) of tls.cert_file",
			func(c *Config) flag.Value { return (*stringValue)(&c.TLS.KeyFile) }},
		{"tls.client_ca_file", "CA certificates (PEM) client certificates must chain to; empty: no client certificates",
			func(c *Config) flag.Value { return (*stringValue)(&c.TLS.ClientCAFile) }},
		{"client_tls.enabled", "dial the upstream and Dial targets over TLS",
			func(c *Config) flag.Value { return (*boolValue)(&c.ClientTLS.Enabled) }},
		{"client_tls.ca_file", "CA certificates (PEM) that verify dialled servers; empty: system roots",
			func(c *Config) flag.Value { return (*stringValue)(&c.ClientTLS.CAFile) }},
		{"client_tls.cert_file", "client certificate (PEM) presented when dialling",
			func(c *Config) flag.Value { return (*stringValue)(&c.ClientTLS.CertFile) }},
		{"client_tls.key_file", "private key (PEM) of client_tls.cert_file",
			func(c *Config) flag.Value { return (*stringValue)(&c.ClientTLS.KeyFile) }},
		{"shutdown_grace", "time in-flight calls get to finish on shutdown",
			func(c *Config) flag.Value { return (*durationValue)(&c.ShutdownGrace) }},
	}
}

// configFlag names the configuration file; it is not itself a setting.
const (
	configFlag = "config"
	configEnv  = "GOMS_CONFIG"
)

// LoadConfig builds the configuration of a process: [DefaultConfig], then
// the YAML file named by -config or GOMS_CONFIG, then GOMS_* environment
// variables, then the flags in args. Each later source wins. It defines
// the flags on fs (-mode, -grpc-addr, …: a setting's key with dots and
// underscores as dashes; its variable is GOMS_ and the key in capitals,
// dots as underscores) and parses args with fs, so flags the program
// defined on fs are parsed too. lookup reads the environment, usually
// [os.LookupEnv]. Errors name the flag, the variable, or the file and
// line, with the value.
func LoadConfig(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	// Flags parse into a scratch Config, which validates each value as it
	// is parsed; the flags set are applied last, to keep their precedence.
	scratch := DefaultConfig()
	var file string
	fs.StringVar(&file, configFlag, "", "YAML configuration file (env "+configEnv+")")
	byFlag := make(map[string]setting)
	for _, s := range settings() {
		byFlag[s.flagName()] = s
		v := s.value(&scratch)
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.envName())
		if hidesDefault(v) {
			usage += fmt.Sprintf(" (default %s)", v)
		}
		fs.Var(v, s.flagName(), usage)
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, flagError{err}
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if file == "" {
		file, _ = lookup(configEnv)
	}
	if file != "" {
		if err := cfg.loadFile(file); err != nil {
			return cfg, err
		}
	}
	for _, s := range settings() {
		if v, ok := lookup(s.envName()); ok {
			if err := s.value(&cfg).Set(v); err != nil {
				return cfg, fmt.Errorf("environment %s: %w", s.envName(), err)
			}
		}
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if s, ok := byFlag[f.Name]; ok && err == nil {
			err = s.value(&cfg).Set(f.Value.String())
		}
	})
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// parseFlags parses args with fs. A wrong flag or value gets the flag
// package's one-line error and a hint, not the whole usage; -h and -help
// print the usage. The flag package calls fs.Usage in both cases, and a
// FlagSet that exits on errors (flag.CommandLine, which Main uses) exits
// right after, so Usage itself tells them apart, by the arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	defer func() { fs.Usage = usage }()
	fs.Usage = func() {
		switch {
		case !helpAsked(args):
			fmt.Fprintf(fs.Output(), "run %s -h for the flags\n", filepath.Base(fs.Name()))
		case usage != nil:
			usage()
		default:
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
	}
	return fs.Parse(args)
}

// helpAsked reports whether args ask for the usage: -h or -help among the
// flags, which end at the first argument that is not one.
func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			return false
		}
		if name := strings.TrimLeft(a, "-"); name == "h" || name == "help" {
			return true
		}
	}
	return false
}

// hidesDefault reports whether the flag package would leave v's default
// out of the usage: it does so when the default is the zero value of v's
// type, which for log.level is "info".
func hidesDefault(v flag.Value) bool {
	t := reflect.TypeOf(v)
	if t.Kind() != reflect.Pointer {
		return false
	}
	zero, ok := reflect.New(t.Elem()).Interface().(flag.Value)
	def := v.String()
	return ok && zero.String() == def && def != "" && def != "0" && def != "false" && def != "0s"
}

// flagError is an error of fs.Parse, which the flag package has printed.
type flagError struct{ error }

func (e flagError) Unwrap() error { return e.error }

// loadFile applies the YAML file at path.
func (c *Config) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config file %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 { // empty file
		return nil
	}
	byKey := make(map[string]setting)
	for _, s := range settings() {
		byKey[s.key] = s
	}
	return c.loadMapping(path, "", doc.Content[0], byKey)
}

// loadMapping applies the keys of mapping node n, found under prefix.
func (c *Config) loadMapping(path, prefix string, n *yaml.Node, byKey map[string]setting) error {
	if n.Kind != yaml.MappingNode {
		where := "the file"
		if prefix != "" {
			where = strings.TrimSuffix(prefix, ".")
		}
		return fmt.Errorf("%s:%d: %s must be a mapping of keys to values", path, n.Line, where)
	}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		if key == "services" {
			if err := c.loadServices(path, v); err != nil {
				return err
			}
			continue
		}
		s, ok := byKey[key]
		if !ok {
			if v.Kind == yaml.MappingNode && isSection(key) {
				if err := c.loadMapping(path, key+".", v, byKey); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s:%d: unknown key %q", path, k.Line, key)
		}
		raw, err := scalar(v)
		if _, isMap := s.value(c).(*mapValue); v.Kind == yaml.MappingNode && !isMap {
			err = errors.New("want a plain value, not a mapping")
		}
		if err == nil {
			err = s.value(c).Set(raw)
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, v.Line, key, err)
		}
	}
	return nil
}

// isSection reports whether key is the prefix of some setting's key.
func isSection(key string) bool {
	return slices.ContainsFunc(settings(), func(s setting) bool { return strings.HasPrefix(s.key, key+".") })
}

// scalar returns a value node as flag text; sequences join with commas.
func scalar(v *yaml.Node) (string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		return v.Value, nil
	case yaml.MappingNode:
		pairs := make([]string, 0, len(v.Content)/2)
		for i := 0; i < len(v.Content); i += 2 {
			if v.Content[i+1].Kind != yaml.ScalarNode {
				return "", errors.New("want a mapping of names to plain values")
			}
			pairs = append(pairs, v.Content[i].Value+"="+v.Content[i+1].Value)
		}
		return strings.Join(pairs, ","), nil
	case yaml.SequenceNode:
		items := make([]string, len(v.Content))
		for i, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return "", errors.New("want a list of plain values")
			}
			items[i] = item.Value
		}
		return strings.Join(items, ","), nil
	}
	return "", errors.New("want a plain value")
}

// loadServices reads the services section.
func (c *Config) loadServices(path string, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: services must map service names to sections", path, n.Line)
	}
	c.Services = make(map[string]ServiceConfig)
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		sc := ServiceConfig{GRPC: true, HTTP: true, source: fmt.Sprintf("%s:%d", path, k.Line)}
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("%s:%d: services.%s must be a mapping with grpc, http and config", path, v.Line, name)
		}
		for j := 0; j < len(v.Content); j += 2 {
			sk, sv := v.Content[j], v.Content[j+1]
			key := "services." + name + "." + sk.Value
			var err error
			switch sk.Value {
			case "grpc":
				err = (*boolValue)(&sc.GRPC).Set(sv.Value)
			case "http":
				err = (*boolValue)(&sc.HTTP).Set(sv.Value)
			case "config":
				sc.config = sv
			default:
				return fmt.Errorf("%s:%d: unknown key %q; a service section has grpc, http and config", path, sk.Line, key)
			}
			if err == nil && sk.Value != "config" && sv.Kind != yaml.ScalarNode {
				err = errors.New("want true or false")
			}
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %w", path, sv.Line, key, err)
			}
		}
		c.Services[name] = sc
	}
	return nil
}

// minHeaderBytes is the smallest http.max_header_bytes and
// grpc.max_header_bytes: room for a request line or pseudo-headers and the
// headers every client sends.
const minHeaderBytes = 1024

// maxUint32 bounds the settings grpc-go and HTTP/2 take as 32-bit numbers.
const maxUint32 = 1<<32 - 1

// Validate reports the first inconsistency in c.
func (c Config) Validate() error {
	var m Mode
	if err := m.Set(string(c.Mode)); err != nil {
		return err
	}
	if c.Mode.servesGRPC() {
		if err := checkAddr(c.GRPC.Addr); err != nil {
			return fmt.Errorf("gRPC address: %w", err)
		}
	}
	if c.Mode.servesHTTP() {
		if err := checkAddr(c.HTTP.Addr); err != nil {
			return fmt.Errorf("HTTP address: %w", err)
		}
	}
	if c.Admin.Addr != "" {
		if err := checkAddr(c.Admin.Addr); err != nil {
			return fmt.Errorf("admin address: %w", err)
		}
	}
	if c.Mode.servesHTTP() && c.HTTP.DocsPath != "" && c.HTTP.DocsPath == c.HTTP.OpenAPIPath {
		return fmt.Errorf("http.docs_path and http.openapi_path are both %s: give them different paths", c.HTTP.DocsPath)
	}
	if c.Mode == ModeHTTP && c.Upstream == "" {
		return errors.New(`mode "http" needs an upstream gRPC target (flag -upstream or GOMS_UPSTREAM)`)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls.cert_file and tls.key_file go together: set both or neither")
	}
	if c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		return errors.New("tls.client_ca_file needs tls.cert_file and tls.key_file: mutual TLS is TLS first")
	}
	if (c.ClientTLS.CertFile == "") != (c.ClientTLS.KeyFile == "") {
		return errors.New("client_tls.cert_file and client_tls.key_file go together: set both or neither")
	}
	if len(c.Etcd.Endpoints) > 0 && c.Etcd.LeaseTTL < time.Second {
		return fmt.Errorf("etcd.lease_ttl %s: must be at least 1s", c.Etcd.LeaseTTL)
	}
	if c.Mode.servesHTTP() {
		if err := checkRange("http.max_header_bytes", c.HTTP.MaxHeaderBytes, minHeaderBytes, maxUint32/2); err != nil {
			return err
		}
		if err := checkRange("http.max_concurrent_streams", c.HTTP.MaxConcurrentStreams, 1, maxUint32); err != nil {
			return err
		}
	}
	if c.Mode.servesGRPC() {
		if err := checkRange("grpc.max_header_bytes", c.GRPC.MaxHeaderBytes, minHeaderBytes, maxUint32); err != nil {
			return err
		}
		if err := checkRange("grpc.max_concurrent_streams", c.GRPC.MaxConcurrentStreams, 1, maxUint32); err != nil {
			return err
		}
		if err := checkRange("grpc.stream_workers", c.GRPC.StreamWorkers, 0, 1<<16); err != nil {
			return err
		}
		if c.GRPC.HandshakeTimeout <= 0 {
			return errors.New("grpc.handshake_timeout 0s: must be positive")
		}
	}
	if c.ShutdownGrace < 0 {
		return fmt.Errorf("shutdown grace %s is negative", c.ShutdownGrace)
	}
	return nil
}

// checkRange accepts min <= n <= max for the setting key.
func checkRange(key string, n int, min, max int64) error {
	if int64(n) < min || int64(n) > max {
		return fmt.Errorf("%s %d: must be between %d and %d", key, n, min, max)
	}
	return nil
}

// checkAddr accepts host:port with a numeric or named port.
func checkAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("invalid address %q: want host:port", addr)
	}
	return nil
}

// The flag.Value types below parse one setting each; the same parser
// serves flags, environment variables and the configuration file, so all
// three accept and reject the same text with the same message.

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

// addrValue is a host:port checked when set.
type addrValue string

func (v *addrValue) String() string { return string(*v) }
func (v *addrValue) Set(s string) error {
	if err := checkAddr(s); err != nil {
		return err
	}
	*v = addrValue(s)
	return nil
}

// optionalAddrValue is a host:port or empty.
type optionalAddrValue string

func (v *optionalAddrValue) String() string { return string(*v) }
func (v *optionalAddrValue) Set(s string) error {
	if s != "" {
		if err := checkAddr(s); err != nil {
			return err
		}
	}
	*v = optionalAddrValue(s)
	return nil
}

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("invalid value %q: want true or false", s)
	}
	*v = boolValue(b)
	return nil
}

// sizeValue is a byte count: a non-negative integer.
type sizeValue int

func (v *sizeValue) String() string { return strconv.Itoa(int(*v)) }
func (v *sizeValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid size %q: want a number of bytes, such as 4194304", s)
	}
	*v = sizeValue(n)
	return nil
}

// countValue is a number of things: a non-negative integer.
type countValue int

func (v *countValue) String() string { return strconv.Itoa(int(*v)) }
func (v *countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid number %q: want a whole number, such as 100", s)
	}
	*v = countValue(n)
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("invalid duration %q: want a non-negative number with a unit, such as 10s or 500ms", s)
	}
	*v = durationValue(d)
	return nil
}

// listValue is a comma-separated list; empty text is the empty list.
type listValue []string

func (v *listValue) String() string { return strings.Join(*v, ",") }
func (v *listValue) Set(s string) error {
	*v = nil
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v = append(*v, item)
		}
	}
	return nil
}

// mapValue is name=value pairs, comma-separated. A value may itself hold
// commas (a static address list): a part without "=" continues the
// previous value.
type mapValue map[string]string

func (v *mapValue) String() string {
	pairs := make([]string, 0, len(*v))
	for _, k := range slices.Sorted(maps.Keys(*v)) {
		pairs = append(pairs, k+"="+(*v)[k])
	}
	return strings.Join(pairs, ",")
}

func (v *mapValue) Set(s string) error {
	m := make(map[string]string)
	last := ""
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		switch {
		case ok && k != "" && val != "":
			m[k], last = val, k
		case !ok && last != "":
			m[last] += "," + part
		default:
			return fmt.Errorf("invalid pair %q: want service=target", part)
		}
	}
	*v = m
	return nil
}

type levelValue slog.Level

func (v *levelValue) String() string { return strings.ToLower(slog.Level(*v).String()) }
func (v *levelValue) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("invalid level %q: want debug, info, warn or error", s)
	}
	*v = levelValue(l)
	return nil
}

// logFormats are the accepted log formats.
var logFormats = []string{"text", "json"}

type formatValue string

func (v *formatValue) String() string { return string(*v) }
func (v *formatValue) Set(s string) error {
	if !slices.Contains(logFormats, s) {
		return fmt.Errorf("invalid log format %q: want %s", s, oneOf(logFormats))
	}
	*v = formatValue(s)
	return nil
}
