package goms

import (
	"log/slog"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
)

// Option configures a [Server]: [New] applies it, and [Main] passes it on
// to the Server it builds. Every Option is also a [MainOption].
type Option interface {
	MainOption
	applyToServer(*options)
}

// MainOption configures [Main]. Options that only Main applies, such as
// [WithMode], are MainOptions but not Options, so [New] cannot be given
// one by mistake.
type MainOption interface {
	applyToMain(*mainOptions)
}

type optionFunc func(*options)

func (f optionFunc) applyToServer(o *options)   { f(o) }
func (f optionFunc) applyToMain(m *mainOptions) { m.server = append(m.server, f) }

type mainOptionFunc func(*mainOptions)

func (f mainOptionFunc) applyToMain(m *mainOptions) { f(m) }

// mainOptions collects what MainOptions set.
type mainOptions struct {
	mode   Mode     // fixed by WithMode; "" when the flags choose
	server []Option // for New
}

// options collects what Options set; zero values mean defaults.
type options struct {
	logger   *slog.Logger
	unary    []grpc.UnaryServerInterceptor
	stream   []grpc.StreamServerInterceptor
	cunary   []grpc.UnaryClientInterceptor
	cstream  []grpc.StreamClientInterceptor
	grpcOpts []grpc.ServerOption
	muxOpts  []runtime.ServeMuxOption
	dialOpts []grpc.DialOption
	tracing  Tracing
	noListen bool // WithInProcessOnly
}

// WithLogger sets the logger for server events and recovered panics.
// Default [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithUnaryInterceptors appends unary server interceptors. They run, in
// order, for every unary call: over gRPC and for HTTP calls the gateway
// makes in-process. Prefer this to grpc.UnaryInterceptor in
// [WithGRPCServerOptions], which would skip in-process calls.
func WithUnaryInterceptors(i ...grpc.UnaryServerInterceptor) Option {
	return optionFunc(func(o *options) { o.unary = append(o.unary, i...) })
}

// WithStreamInterceptors appends stream server interceptors, which run for
// every streaming call, over gRPC and in-process alike.
func WithStreamInterceptors(i ...grpc.StreamServerInterceptor) Option {
	return optionFunc(func(o *options) { o.stream = append(o.stream, i...) })
}

// WithClientInterceptors appends client interceptors, which run, in
// order, for every call made through [Server.Conn], [Server.LocalConn]
// and [Server.Dial]: over the network and in-process alike. On an
// in-process call the interceptor's *grpc.ClientConn argument is nil.
func WithClientInterceptors(unary []grpc.UnaryClientInterceptor, stream []grpc.StreamClientInterceptor) Option {
	return optionFunc(func(o *options) {
		o.cunary = append(o.cunary, unary...)
		o.cstream = append(o.cstream, stream...)
	})
}

// WithGRPCServerOptions appends options for the underlying [grpc.Server]
// (message size limits, keepalive, credentials). Interceptors belong in
// [WithUnaryInterceptors] and [WithStreamInterceptors].
func WithGRPCServerOptions(opts ...grpc.ServerOption) Option {
	return optionFunc(func(o *options) { o.grpcOpts = append(o.grpcOpts, opts...) })
}

// WithGatewayOptions appends options for the grpc-gateway ServeMux
// (marshalers, header matchers, error handlers).
func WithGatewayOptions(opts ...runtime.ServeMuxOption) Option {
	return optionFunc(func(o *options) { o.muxOpts = append(o.muxOpts, opts...) })
}

// WithDialOptions appends options for the client connections the server
// makes: to the upstream in [ModeHTTP] and through [Server.Dial]. Without
// transport credentials among them, connections are plaintext.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(o *options) { o.dialOpts = append(o.dialOpts, opts...) })
}

// WithMode fixes the mode of a process started by [Main]: Main loads and
// checks the configuration for mode m and fails when -mode, GOMS_MODE or the
// configuration file names another one. Generated HTTP-only gateway mains
// use WithMode([ModeHTTP]). It is a [MainOption] only: with [New], set
// [Config.Mode].
func WithMode(m Mode) MainOption {
	return mainOptionFunc(func(o *mainOptions) { o.mode = m })
}

// WithTracing turns on tracing with t: [Tracing] says what it instruments.
// Package github.com/goms-io/goms/otelgoms builds one for OpenTelemetry
// (otelgoms.WithTracerProvider), and [Main] sets one from the standard
// OTEL_* environment when the program imports package
// github.com/goms-io/goms/otlp; without either, tracing is off. A later
// WithTracing replaces an earlier one; WithTracing(Tracing{}) turns
// tracing off.
func WithTracing(t Tracing) Option {
	return optionFunc(func(o *options) { o.tracing = t })
}

// WithInProcessOnly makes [Server.Start] open no socket: no gRPC, HTTP or
// admin listener, whatever the mode, and no discovery registration. The
// services are then served in-process only, through [Server.LocalConn],
// [Server.Conn] and the generated New<Service>ClientFrom functions, with
// the same interceptors as over gRPC. Tests use it to call services with
// no port; connections to services hosted elsewhere ([Config.Targets])
// are still dialled.
func WithInProcessOnly() Option {
	return optionFunc(func(o *options) { o.noListen = true })
}

// WithOptions composes several options into one.
func WithOptions(opts ...Option) Option {
	return optionFunc(func(o *options) {
		for _, opt := range opts {
			opt.applyToServer(o)
		}
	})
}
