// Package gateway is GoMs's HTTP edge: grpc-gateway's ServeMux with the
// checks, the JSON marshaler and the error contract every HTTP request
// goes through before and after it reaches a service.
//
// [New] builds the handler of the routes; the server that serves it uses
// [ConnContext], [MaxHeaderBytes] and [Listener], so that each connection
// has its request-body slot, oversized headers get the JSON error body,
// and net/http's own plain-text answers become JSON too. Every error is a
// google.rpc.Status JSON body with the HTTP status of its gRPC code
// (grpc-gateway's runtime.HTTPStatusFromCode).
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/rs/cors"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Options configure the edge.
type Options struct {
	// MaxBodyBytes bounds request bodies (413 beyond).
	MaxBodyBytes int
	// MaxHeaderBytes bounds the request line and headers (431 beyond);
	// the http.Server's own limit is [MaxHeaderBytes] of it.
	MaxHeaderBytes int
	// DiscardUnknown ignores JSON fields and enum names the protos do not
	// declare, instead of answering 400.
	DiscardUnknown bool
	// CORSOrigins are the origins allowed to call from a browser; none:
	// CORS off; "*": any origin, without credentials.
	CORSOrigins []string
	// MaxUnaryTimeout caps the deadline of the unary calls routes make: a
	// request with a later one (a Grpc-Timeout header) is called with
	// now+MaxUnaryTimeout; one without keeps none. 0: no cap.
	MaxUnaryTimeout time.Duration
	// MaxRecvMsgBytes and MaxSendMsgBytes hold request and response
	// messages to the gRPC message limits (RESOURCE_EXHAUSTED beyond, as
	// over gRPC); 0: no limit.
	MaxRecvMsgBytes, MaxSendMsgBytes int
	// SSEKeepAlive is the interval of the keep-alive comments of a server
	// stream sent as Server-Sent Events; 0: none (see [ForwardStream]).
	SSEKeepAlive time.Duration
	// Logger gets the details of errors the answers only name (a
	// connection to a service that failed); nil: slog.Default().
	Logger *slog.Logger
	// RPC serves the Connect protocol and gRPC-Web at the routes' gRPC
	// paths (see rpc.go).
	RPC bool
	// MuxOptions are applied to the ServeMux after the edge's own, so they
	// may replace them.
	MuxOptions []runtime.ServeMuxOption
}

// RegisterFunc registers a service's routes on mux; each route calls the
// service through conn.
type RegisterFunc func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error

// Route is one service on the edge: its routes, and the connection they
// call it through (in-process or to another process).
type Route struct {
	Service string
	// Register registers the REST routes; nil: the service has none.
	Register RegisterFunc
	Conn     grpc.ClientConnInterface
	// Desc and Descriptor describe the service's methods for Connect and
	// gRPC-Web ([Options.RPC]); Descriptor nil: found in the global
	// registry by name.
	Desc       *grpc.ServiceDesc
	Descriptor protoreflect.ServiceDescriptor
}

// New returns the handler that serves routes.
func New(ctx context.Context, o Options, routes []Route) (http.Handler, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	// The options that decide which route a request matches, shared with
	// the method probe.
	matching := []runtime.ServeMuxOption{
		// No X-HTTP-Method-Override, and no POST-to-GET fallback for form
		// bodies: a form POST (which a browser sends cross-site without a
		// preflight) never runs another method's handler.
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
		// Routes match the path as sent (r.URL.RawPath): %2F is not a
		// separator and an escaped letter does not spell a literal, so a
		// proxy's rule on the raw path sees the route the gateway runs.
		// Single-segment parameters are decoded in full (%2F included,
		// as one parameter), ** parameters keep %2F.
		runtime.WithUnescapingMode(runtime.UnescapingModeAllExceptReserved),
	}
	// The probe has the edge's matching options only: user MuxOptions may
	// add middlewares, which must not run for a probe.
	probe, err := newMethodProbe(ctx, routes, slices.Clone(matching))
	if err != nil {
		return nil, fmt.Errorf("HTTP gateway: %w", err)
	}
	mux := runtime.NewServeMux(append(append(matching,
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newMarshaler(o.DiscardUnknown,
			&streamEncoder{log: log, keepAlive: o.SSEKeepAlive})),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithErrorHandler(errorHandler(log)),
		runtime.WithStreamErrorHandler(streamErrorHandler(log)),
		runtime.WithRoutingErrorHandler(probe.routingErrorHandler),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithWriteContentLength(),
	), o.MuxOptions...)...)
	rpc := &rpcHandler{
		methods:   map[string]*rpcMethod{},
		maxBody:   o.MaxBodyBytes,
		maxHeader: o.MaxHeaderBytes,
		unmarshal: protojson.UnmarshalOptions{DiscardUnknown: o.DiscardUnknown},
		marshal:   protojson.MarshalOptions{EmitUnpopulated: true},
		log:       log,
	}
	if len(o.MuxOptions) == 0 {
		ctx = context.WithValue(ctx, fastRoutesKey{}, true) // see HandleUnary
	}
	for _, r := range routes {
		conn := gatewayConn{ClientConnInterface: r.Conn, maxUnary: o.MaxUnaryTimeout, maxRecv: o.MaxRecvMsgBytes, maxSend: o.MaxSendMsgBytes}
		if r.Register != nil {
			if err := r.Register(ctx, mux, conn); err != nil {
				return nil, fmt.Errorf("HTTP gateway: service %s: %w", r.Service, err)
			}
		}
		if !o.RPC {
			continue
		}
		ms, err := rpcMethods(r, conn)
		if err != nil {
			return nil, fmt.Errorf("HTTP gateway: service %s: %w", r.Service, err)
		}
		for _, m := range ms {
			rpc.methods[m.path] = m
		}
	}
	h := websockets(guard(methods(mux, probe), o.MaxBodyBytes, o.MaxHeaderBytes), probe, o)
	if len(rpc.methods) > 0 {
		rpc.next = h
		h = rpc
	}
	if len(o.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins:   o.CORSOrigins,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowedHeaders:   []string{"*"},
			AllowCredentials: !slices.Contains(o.CORSOrigins, "*"),
		}).Handler(h)
	}
	return h, nil
}

// outgoingHeader names the HTTP header of a gRPC response header as
// grpc-gateway does (Grpc-Metadata-<key>), except the gRPC content-type,
// which tells how the call travelled, not what it returned.
func outgoingHeader(key string) (string, bool) {
	if key == "content-type" {
		return "", false
	}
	return runtime.MetadataHeaderPrefix + key, true
}
