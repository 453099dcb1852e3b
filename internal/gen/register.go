package gen

import (
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
)

// generateRegistration emits the service's name constant and its Register
// function, which hands the implementation to the runtime for gRPC and, when
// the service has HTTP rules, for the HTTP gateway.
func generateRegistration(g *protogen.GeneratedFile, f *fileInfo, s *serviceInfo) {
	n := s.names
	g.P()
	g.P("// ", n.Name, " is the fully-qualified name of the ", s.Desc.Name(), " service.")
	g.P("const ", n.Name, " = ", `"`, s.Desc.FullName(), `"`)
	g.P()
	g.P("// ", n.Register, " registers impl with r, which serves it on gRPC")
	if s.http {
		g.P("// and routes its google.api.http rules through the HTTP gateway.")
		g.P("// In http mode impl may be nil: calls go to the upstream gRPC server.")
	} else {
		g.P("// (the service has no google.api.http rules, so no HTTP routes).")
	}
	if s.Comments.Leading != "" {
		g.P("//")
		g.P(strings.TrimSuffix(s.Comments.Leading.String(), "\n"))
	}
	if s.deprecated {
		g.P("//")
		g.P("// Deprecated: Do not use.")
	}
	g.AnnotateSymbol(n.Register, protogen.Annotation{Location: s.Location})
	g.P("func ", n.Register, "(r ", runtimePackage.Ident("Registrar"), ", impl ", n.Server, ") {")
	g.P("r.Register(", runtimePackage.Ident("Service"), "{")
	g.P("Desc: &", n.ServiceDesc, ",")
	g.P("Impl: impl,")
	g.P("Descriptor: ", f.GoDescriptorIdent, ".Services().ByName(", `"`, s.Desc.Name(), `"`, "),")
	if s.http {
		g.P("Gateway: ", runtimePackage.Ident("Gateway"), "(", n.RegisterHandlerClient, ", ", n.NewClient, "),")
	}
	g.P("})")
	g.P("}")
}
