package gen

import "google.golang.org/protobuf/compiler/protogen"

// generateClient emits New<Svc>ClientFrom, the typed client that gets its
// connection from the goms.Server by service name, so that user code never
// handles addresses and does not change between one binary and many.
func generateClient(g *protogen.GeneratedFile, s *serviceInfo) {
	n := s.names
	g.P()
	g.P("// ", n.ClientFrom, " returns a client of the ", s.Desc.Name(), " service wherever")
	g.P("// it runs: in-process when this process hosts it, otherwise over the")
	g.P("// connection the server dialled at start-up to its configured target.")
	g.P("// See [", gomsPackage.Ident("Server"), ".Conn].")
	if s.deprecated {
		g.P("//")
		g.P("// Deprecated: Do not use.")
	}
	g.P("func ", n.ClientFrom, "(c ", gomsPackage.Ident("ConnProvider"), ") ", n.Client, " {")
	g.P("return ", n.NewClient, "(c.Conn(", n.Name, "))")
	g.P("}")
}
