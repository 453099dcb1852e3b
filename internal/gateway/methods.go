package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// routeMethods are the methods a route can have, in the order Allow
// lists them.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// methodProbe tells which methods a path has routes for. grpc-gateway's
// ServeMux does not say, so the probe is a second ServeMux with the same
// routes and matching options, whose handlers only record that they
// matched (a middleware that never calls the route's handler).
type methodProbe struct{ mux *runtime.ServeMux }

type probeMatchKey struct{}

func newMethodProbe(ctx context.Context, routes []Route, opts []runtime.ServeMuxOption) (*methodProbe, error) {
	mux := runtime.NewServeMux(append(opts,
		runtime.WithMiddlewares(func(runtime.HandlerFunc) runtime.HandlerFunc {
			return func(_ http.ResponseWriter, r *http.Request, _ map[string]string) {
				*r.Context().Value(probeMatchKey{}).(*bool) = true
			}
		}),
		runtime.WithRoutingErrorHandler(func(context.Context, *runtime.ServeMux, runtime.Marshaler, http.ResponseWriter, *http.Request, int) {}),
		runtime.WithErrorHandler(func(context.Context, *runtime.ServeMux, runtime.Marshaler, http.ResponseWriter, *http.Request, error) {
		}),
	)...)
	for _, r := range routes {
		if r.Register == nil {
			continue
		}
		if err := r.Register(ctx, mux, unusedConn{}); err != nil {
			return nil, err
		}
	}
	return &methodProbe{mux}, nil
}

// allowed returns the methods r's path has routes for, HEAD after GET and
// OPTIONS last; none if it has no route.
func (p *methodProbe) allowed(r *http.Request) []string {
	var methods []string
	for _, m := range routeMethods {
		matched := false
		pr := r.WithContext(context.WithValue(r.Context(), probeMatchKey{}, &matched))
		pr.Method, pr.Body, pr.ContentLength = m, http.NoBody, 0
		p.mux.ServeHTTP(discardWriter{}, pr)
		if matched {
			methods = append(methods, m)
			if m == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
		}
	}
	if methods != nil {
		methods = append(methods, http.MethodOptions)
	}
	return methods
}

// methods serves HEAD on a GET route as GET (net/http sends no body for
// a HEAD request) and answers OPTIONS on a path with routes with 204 and
// Allow; everything else goes to next, the gateway's mux.
func methods(next http.Handler, probe *methodProbe) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodHead:
			// A copy: net/http's response writer keeps the original
			// request, and drops the body because its method is HEAD.
			get := *r
			get.Method = http.MethodGet
			next.ServeHTTP(w, &get)
		case http.MethodOptions:
			allow := probe.allowed(r)
			if allow == nil {
				writeError(w, r, http.StatusNotFound, status.Error(codes.NotFound, http.StatusText(http.StatusNotFound)))
				return
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			w.WriteHeader(http.StatusNoContent)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// MethodNotAllowed answers 405 with the JSON error body and an Allow
// header listing allow.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow ...string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, r, http.StatusMethodNotAllowed, status.Error(codeOf(http.StatusMethodNotAllowed), http.StatusText(http.StatusMethodNotAllowed)))
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}

// unusedConn is the probe's connection: its handlers never call it.
type unusedConn struct{}

func (unusedConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return status.Error(codes.Internal, "method probe called")
}

func (unusedConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Internal, "method probe called")
}
