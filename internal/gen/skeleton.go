package gen

import (
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/pluginpb"
)

// Skeleton answers a request of the goms skeleton command: for each service
// of the files to generate, a Go file of its impl_package with a struct
// whose methods all return codes.Unimplemented and the constructor
// New<Service>(*goms.Server) that generated server mains call. All the
// services must have the one implementation package: file names are
// relative to its directory. The command writes only files that do not
// exist yet: the skeleton is where users write their code.
func Skeleton(req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	return run(req, func(plugin *protogen.Plugin, p Params, names nameTable) error {
		for _, f := range plugin.Files {
			if !f.Generate {
				continue
			}
			for _, s := range f.Services {
				if err := checkImpl(f, s, names[s], p, "goms skeleton"); err != nil {
					return err
				}
			}
		}
		if err := checkOnePackage(plugin, p); err != nil {
			return err
		}
		if err := checkConstructors(plugin, p, names); err != nil {
			return err
		}
		for _, f := range plugin.Files {
			if f.Generate {
				for _, s := range newFileInfo(f, p, names).services {
					generateSkeleton(plugin, p, f, s)
				}
			}
		}
		return nil
	})
}

// generateSkeleton writes the implementation skeleton of one service.
func generateSkeleton(plugin *protogen.Plugin, p Params, f *protogen.File, s *serviceInfo) {
	n := s.names
	impl := protogen.GoImportPath(p.implFor(s.Service))
	g := plugin.NewGeneratedFile(outputName(p, n.SkeletonFile), impl)

	// Qualify every identifier first, so that parameter names can avoid
	// the package names they bring in.
	q := func(id protogen.GoIdent) string { return g.QualifiedGoIdent(id) }
	qualified := []string{
		q(contextPackage.Ident("Context")), q(gomsPackage.Ident("Server")),
		q(statusPackage.Ident("Error")), q(codesPackage.Ident("Unimplemented")),
		q(f.GoImportPath.Ident(n.Server)), q(f.GoImportPath.Ident(n.Unimplemented)),
	}
	for _, m := range s.Methods {
		qualified = append(qualified, q(m.Input.GoIdent), q(m.Output.GoIdent), q(f.GoImportPath.Ident(streamServer(s.Service, m))))
	}
	v := locals(qualifiers(qualified...), "ctx", "req", "stream", "s")
	ctx, req, stream, srv := v[0], v[1], v[2], v[3]

	g.P("// Code generated once by goms skeleton from ", f.Desc.Path(), "; edit it freely:")
	g.P("// goms skeleton never overwrites an existing file.")
	g.P()
	g.P("package ", protogen.GoPackageName(cleanName(string(impl))))
	g.P()
	g.P("// ", n.ImplType, " implements ", q(f.GoImportPath.Ident(n.Server)), ".")
	generateComments(g, s.Comments.Leading, s.deprecated)
	g.P("type ", n.ImplType, " struct {")
	g.P(q(f.GoImportPath.Ident(n.Unimplemented)))
	g.P("}")
	g.P()
	g.P("// ", n.Constructor, " returns the ", s.Desc.Name(), " implementation. Generated")
	g.P("// mains call it with the server, whose LocalConn and Dial reach other services.")
	g.P("func ", n.Constructor, "(", srv, " *", q(gomsPackage.Ident("Server")), ") (*", n.ImplType, ", error) {")
	g.P("return &", n.ImplType, "{}, nil")
	g.P("}")
	for _, m := range s.Methods {
		g.P()
		g.P("// ", m.GoName, " implements the ", m.Desc.Name(), " method.")
		generateComments(g, m.Comments.Leading, methodDeprecated(m))
		in, out := q(m.Input.GoIdent), q(m.Output.GoIdent)
		streamType := q(f.GoImportPath.Ident(streamServer(s.Service, m)))
		switch {
		case !m.Desc.IsStreamingClient() && !m.Desc.IsStreamingServer():
			g.P("func (*", n.ImplType, ") ", m.GoName, "(", ctx, " ", q(contextPackage.Ident("Context")), ", ", req, " *", in, ") (*", out, ", error) {")
			g.P("return nil, ", unimplemented(q, m))
		case !m.Desc.IsStreamingClient():
			g.P("func (*", n.ImplType, ") ", m.GoName, "(", req, " *", in, ", ", stream, " ", streamType, ") error {")
			g.P("return ", unimplemented(q, m))
		default:
			g.P("func (*", n.ImplType, ") ", m.GoName, "(", stream, " ", streamType, ") error {")
			g.P("return ", unimplemented(q, m))
		}
		g.P("}")
	}
}

// unimplemented is the error a skeleton method returns.
func unimplemented(q func(protogen.GoIdent) string, m *protogen.Method) string {
	return q(statusPackage.Ident("Error")) + "(" + q(codesPackage.Ident("Unimplemented")) +
		`, "method ` + string(m.Desc.Name()) + ` not implemented")`
}
