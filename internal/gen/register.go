package gen

import (
	"google.golang.org/protobuf/compiler/protogen"
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
		g.P("Gateway: ", gomsPackage.Ident("Gateway"), "(", n.RegisterHandlerClient, ", ", n.NewClient, "),")
	}
	if s.openAPI != "" {
		g.P("OpenAPI: ", n.OpenAPI, ",")
	}
	g.P("})")
	g.P("}")
}
