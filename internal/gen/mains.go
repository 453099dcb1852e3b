package gen

import (
	"path"

	"google.golang.org/protobuf/compiler/protogen"
)

// generateServerMain writes <server_main>/<service>/main.go: a command that
// serves the service, built by New<Service> of its impl_package, in the
// mode its flags choose. All logic lives in goms.Main. It registers this
// one service: a binary that serves several is written by hand (see the
// README's "Write main").
func generateServerMain(plugin *protogen.Plugin, p Params, f *fileInfo, s *serviceInfo) {
	n := s.names
	dir := path.Join(p.ServerMain, n.ServerMainDir)
	g := plugin.NewGeneratedFile(outputName(p, path.Join(dir, "main.go")), mainImportPath(p, dir))
	generateHeader(g, plugin, f)
	implPackage := p.implFor(s.Service)
	constructor := g.QualifiedGoIdent(protogen.GoImportPath(implPackage).Ident(n.Constructor))
	register := g.QualifiedGoIdent(f.GoImportPath.Ident(n.Register))
	server := g.QualifiedGoIdent(gomsPackage.Ident("Server"))
	runMain := g.QualifiedGoIdent(gomsPackage.Ident("Main"))
	v := locals(qualifiers(constructor, register, server, runMain), "s", "impl", "err")
	srv, impl, err := v[0], v[1], v[2]

	g.P("// Command ", n.ServerMainDir, " serves the ", s.Desc.FullName(), " service,")
	g.P("// implemented by ", n.Constructor, " in ", implPackage, ",")
	if s.http {
		g.P("// on gRPC and HTTP/JSON. Flags or GOMS_* variables choose the mode:")
		g.P("//")
		g.P("//	", n.ServerMainDir, " -mode gateway   # gRPC and HTTP/JSON in one process (default)")
		g.P("//	", n.ServerMainDir, " -mode grpc      # gRPC only")
		g.P("//	", n.ServerMainDir, " -mode http -upstream host:port   # HTTP/JSON, forwarded over gRPC")
	} else {
		g.P("// on gRPC (the service has no HTTP rules). Flags or GOMS_* variables")
		g.P("// set the address and the rest of the configuration:")
		g.P("//")
		g.P("//	", n.ServerMainDir, " -grpc-addr 127.0.0.1:42001")
	}
	g.P("//")
	g.P("// Run it with -help for every flag.")
	generateComments(g, s.Comments.Leading, s.deprecated)
	g.P("package main")
	g.P()
	g.P("func main() {")
	g.P(runMain, "(func(", srv, " *", server, ") error {")
	g.P(impl, ", ", err, " := ", constructor, "(", srv, ")")
	g.P("if ", err, " != nil {")
	g.P("return ", err)
	g.P("}")
	g.P(register, "(", srv, ", ", impl, ")")
	g.P("return nil")
	g.P("})")
	g.P("}")
}

// generateGatewayMain writes <gateway_main>/<service>-gateway/main.go: an
// HTTP-only gateway for the service that forwards every call to the gRPC
// server named by -upstream. It needs no user code.
func generateGatewayMain(plugin *protogen.Plugin, p Params, f *fileInfo, s *serviceInfo) {
	n := s.names
	dir := path.Join(p.GatewayMain, n.GatewayMainDir)
	g := plugin.NewGeneratedFile(outputName(p, path.Join(dir, "main.go")), mainImportPath(p, dir))
	generateHeader(g, plugin, f)
	register := g.QualifiedGoIdent(f.GoImportPath.Ident(n.Register))
	server := g.QualifiedGoIdent(gomsPackage.Ident("Server"))
	runMain := g.QualifiedGoIdent(gomsPackage.Ident("Main"))
	withMode := g.QualifiedGoIdent(gomsPackage.Ident("WithMode"))
	modeHTTP := g.QualifiedGoIdent(gomsPackage.Ident("ModeHTTP"))
	srv := locals(qualifiers(register, server, runMain, withMode), "s")[0]

	g.P("// Command ", n.GatewayMainDir, " serves the HTTP/JSON routes of the")
	g.P("// ", s.Desc.FullName(), " service and forwards every call over gRPC")
	g.P("// to the server named by -upstream (or GOMS_UPSTREAM):")
	g.P("//")
	g.P("//	", n.GatewayMainDir, " -http-addr :8080 -upstream host:port")
	g.P("//")
	g.P("// It always runs in mode http. Run it with -help for every flag.")
	generateComments(g, s.Comments.Leading, s.deprecated)
	g.P("package main")
	g.P()
	g.P("func main() {")
	g.P(runMain, "(func(", srv, " *", server, ") error {")
	g.P(register, "(", srv, ", nil)")
	g.P("return nil")
	g.P("}, ", withMode, "(", modeHTTP, "))")
	g.P("}")
}
