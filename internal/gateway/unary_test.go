package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"
)

// TestAnnotatedContext: the context the edge's unary handler gives a call
// answers runtime.RPCMethod, runtime.HTTPPathPattern and the outgoing
// metadata as the context grpc-gateway's AnnotateContext makes for the
// same request on the same mux does.
func TestAnnotatedContext(t *testing.T) {
	if !ctxKeysKnown {
		t.Fatal("the context keys of grpc-gateway's annotations were not caught")
	}
	mux := runtime.NewServeMux(runtime.WithIncomingHeaderMatcher(incomingHeader))
	const rpc, path = "/a.B/C", "/v1/c/{name}"
	u := &unaryHandler{UnaryRoute: UnaryRoute{RPC: rpc, Path: path}, mux: mux, rpc: rpc, path: path, pathOpt: runtime.WithHTTPPathPattern(path)}
	for _, headers := range []map[string]string{
		{},
		{"Authorization": "Bearer x", "User-Agent": "ua", "X-Forwarded-For": "10.0.0.1", "X-Custom": "y", "Last-Event-Id": "7"},
		{"X-Forwarded-Host": "example.com", "Accept": "application/json"},
	} {
		req := httptest.NewRequest(http.MethodPost, "/v1/c/x", strings.NewReader("{}"))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		want, err := runtime.AnnotateContext(req.Context(), mux, req, rpc, u.pathOpt)
		if err != nil {
			t.Fatal(err)
		}
		var got context.Context = &annotated{Context: req.Context(), u: u, req: req}
		if m, _ := runtime.RPCMethod(got); m != rpc {
			t.Errorf("%v: RPCMethod = %q, want %q", headers, m, rpc)
		}
		if p, _ := runtime.HTTPPathPattern(got); p != path {
			t.Errorf("%v: HTTPPathPattern = %q, want %q", headers, p, path)
		}
		gotMD, gotOK := metadata.FromOutgoingContext(got)
		wantMD, wantOK := metadata.FromOutgoingContext(want)
		if gotOK != wantOK || !reflect.DeepEqual(gotMD, wantMD) {
			t.Errorf("%v: outgoing metadata %v (%v), want grpc-gateway's %v (%v)", headers, gotMD, gotOK, wantMD, wantOK)
		}
	}
}

// TestPlainHeaders: the headers runtime.AnnotateContext may refuse send
// a request down grpc-gateway's path.
func TestPlainHeaders(t *testing.T) {
	for h, want := range map[string]bool{
		"Content-Type": true, "X-Bin-Thing": true,
		"Grpc-Timeout": false, "Grpc-Metadata-Key-Bin": false, "X-Trace-BIN": false,
	} {
		if got := plainHeaders(http.Header{h: {"v"}}); got != want {
			t.Errorf("plainHeaders(%s) = %v, want %v", h, got, want)
		}
	}
}
