package gen

import (
	"fmt"
	"strconv"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
)

// generateRegistration emits the service's name constant and its Register
// function, which hands the implementation to the goms.Server for gRPC and, when
// the service has HTTP routes, for the HTTP gateway.
func generateRegistration(g *protogen.GeneratedFile, f *fileInfo, s *serviceInfo) {
	n := s.names
	g.P()
	g.P("// ", n.Name, " is the fully-qualified name of the ", s.Desc.Name(), " service.")
	if s.deprecated {
		g.P("//")
		g.P("// Deprecated: Do not use.")
	}
	g.P("const ", n.Name, " = ", `"`, s.Desc.FullName(), `"`)
	g.P()
	g.P("// ", n.Register, " registers impl with r, which serves it on gRPC")
	if s.http {
		g.P("// and routes its HTTP rules through the HTTP gateway.")
		g.P("// In http mode impl may be nil: calls go to the upstream gRPC server.")
	} else {
		g.P("// (protoc-gen-grpc-gateway makes no HTTP routes for the service).")
	}
	generateComments(g, s.Comments.Leading, s.deprecated)
	g.AnnotateSymbol(n.Register, protogen.Annotation{Location: s.Location})
	g.P("func ", n.Register, "(r ", gomsPackage.Ident("Registrar"), ", impl ", n.Server, ") {")
	g.P("r.Register(", gomsPackage.Ident("Service"), "{")
	g.P("Desc: &", n.ServiceDesc, ",")
	g.P("Impl: impl,")
	g.P("Descriptor: ", f.GoDescriptorIdent, ".Services().ByName(", `"`, s.Desc.Name(), `"`, "),")
	if s.http {
		routes := unaryRoutes(s)
		if len(routes) == 0 {
			g.P("Gateway: ", gomsPackage.Ident("Gateway"), "(", n.RegisterHandlerClient, ", ", n.NewClient, "),")
		} else {
			g.P("Gateway: ", gomsPackage.Ident("Gateway"), "(", n.RegisterHandlerClient, ", ", n.NewClient, ",")
			for _, r := range routes {
				g.P(gomsPackage.Ident("UnaryRoute"), "(", strconv.Quote(r.method), ", pattern_", r.suffix, ", ",
					strconv.Quote(r.rpc), ", ", strconv.Quote(r.path), ", request_", r.suffix, "),")
			}
			g.P("),")
		}
	}
	if s.openAPI != "" {
		g.P("OpenAPI: ", n.OpenAPI, ",")
	}
	g.P("})")
	g.P("}")
}

// generateStreamEncoder emits, for the file's server-streaming HTTP
// routes, an init that hands their responses to goms.ForwardResponseStream
// (NDJSON, or Server-Sent Events on Accept: text/event-stream) in place of
// grpc-gateway's runtime.ForwardResponseStream.
//
// Why this hook: protoc-gen-grpc-gateway declares, in the same package, a
// variable forward_<Service>_<Method>_<n> per binding, which its handler
// calls; assigning it is the one place that replaces the stream encoder
// for exactly the streaming routes, with no change to grpc-gateway's
// output and no per-message indirection. A ServeMux option cannot: a
// forward-response option runs besides grpc-gateway's encoder, not
// instead of it, and a marshaler sees each message but not the stream
// (SSE ids, keep-alives, the headers before the first message). The names
// follow protoc-gen-grpc-gateway's (the proto service and method names,
// the binding's index among those with a pattern, see [gatewayBindings]);
// bindings from a grpc_api_configuration file are invisible here and keep
// grpc-gateway's encoder.
func generateStreamEncoder(g *protogen.GeneratedFile, f *fileInfo, p Params) {
	var vars []string
	for _, s := range f.services {
		if !s.http {
			continue
		}
		for _, m := range s.Methods {
			if !m.Desc.IsStreamingServer() {
				continue
			}
			for i := range gatewayBindings(m, p.GenerateUnboundMethods) {
				vars = append(vars, "forward_"+gatewaySuffix(s, m, i))
			}
		}
	}
	if len(vars) == 0 {
		return
	}
	g.P()
	g.P("// GoMs's stream encoder writes the HTTP responses of the server streams")
	g.P("// (NDJSON, or Server-Sent Events when the request accepts")
	g.P("// text/event-stream) in place of grpc-gateway's.")
	g.P("func init() {")
	for _, v := range vars {
		g.P(v, " = ", gomsPackage.Ident("ForwardResponseStream"))
	}
	g.P("}")
}

// unaryRoute is a unary binding protoc-gen-grpc-gateway generated a
// handler for: its HTTP method and path template, the full method name,
// and the <Service>_<Method>_<n> suffix of its pattern_ and request_
// declarations (Go names, as protoc-gen-grpc-gateway spells them).
type unaryRoute struct{ method, path, rpc, suffix string }

// unaryRoutes returns the unary bindings of s declared in its methods'
// google.api.http options, which goms.Gateway serves with GoMs's own
// handler (see goms.UnaryRoute). The suffixes follow
// protoc-gen-grpc-gateway's names, as in [generateStreamEncoder]; methods
// bound without an option (generate_unbound_methods) or by a
// grpc_api_configuration file, and bindings with a response_body, keep
// grpc-gateway's handler.
func unaryRoutes(s *serviceInfo) []unaryRoute {
	var routes []unaryRoute
	for _, m := range s.Methods {
		if m.Desc.IsStreamingClient() || m.Desc.IsStreamingServer() {
			continue
		}
		opts := m.Desc.Options()
		if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
			continue
		}
		rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
		rules := append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...)
		i := 0
		for _, r := range rules {
			if !hasPattern(r) {
				continue
			}
			if r.GetResponseBody() != "" {
				// grpc-gateway's handler wraps the response to write
				// only that field: it keeps its handler.
				i++
				continue
			}
			method, path := httpMethodPath(r)
			routes = append(routes, unaryRoute{
				method: method, path: path,
				rpc:    fmt.Sprintf("/%s/%s", s.Desc.FullName(), m.Desc.Name()),
				suffix: gatewaySuffix(s, m, i),
			})
			i++
		}
	}
	return routes
}

// httpMethodPath returns the HTTP method and path template of rule.
func httpMethodPath(rule *annotations.HttpRule) (method, path string) {
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET", p.Get
	case *annotations.HttpRule_Put:
		return "PUT", p.Put
	case *annotations.HttpRule_Post:
		return "POST", p.Post
	case *annotations.HttpRule_Delete:
		return "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		return "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}
