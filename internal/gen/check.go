package gen

import (
	"fmt"
	"go/token"
	"path"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkPackageNames rejects a Go package name, from go_package or an
// M<file>= parameter, that cannot start a Go file: "package 0" would
// otherwise surface as protogen's multi-line "unparsable Go source".
func checkPackageNames(plugin *protogen.Plugin) error {
	for _, f := range plugin.Files {
		if !f.Generate || len(f.Services) == 0 {
			continue
		}
		if name := string(f.GoPackageName); !token.IsIdentifier(name) || name == "_" {
			return fmt.Errorf("%s: Go package name %q is not a Go identifier; set it after the \";\" in option go_package or in parameter M%s=<import path>;<name>",
				f.Desc.Path(), name, f.Desc.Path())
		}
	}
	return nil
}

// checkMains rejects parameter combinations that cannot give working
// mains, before anything is generated. Each error is one line naming the
// file, the service, the parameter and the fix.
func checkMains(plugin *protogen.Plugin, p Params, names nameTable) error {
	if p.GatewayMain != "" && !p.HTTP {
		return fmt.Errorf("parameter %s needs %s=true: an HTTP-only gateway serves HTTP routes; drop %s=false or %s",
			paramGatewayMain, paramHTTP, paramHTTP, paramGatewayMain)
	}
	if p.ServerMain == "" && p.GatewayMain == "" {
		return nil
	}
	if p.ServerMain != "" {
		if err := checkConstructors(plugin, p, names); err != nil {
			return err
		}
	}
	type owner struct {
		s     *protogen.Service
		file  string
		param string
	}
	dirs := make(map[string]owner)
	claim := func(f *protogen.File, s *protogen.Service, param, dir string) error {
		if o, ok := dirs[dir]; ok {
			return fmt.Errorf("%s: service %s: parameter %s: directory %s is already the %s of service %s (%s); set %s and %s to different directories",
				f.Desc.Path(), s.Desc.FullName(), param, dir, o.param, o.s.Desc.FullName(), o.file, paramServerMain, paramGatewayMain)
		}
		dirs[dir] = owner{s, f.Desc.Path(), param}
		return nil
	}
	for _, f := range plugin.Files {
		if !f.Generate {
			continue
		}
		for _, s := range f.Services {
			n := names[s]
			if p.ServerMain != "" {
				if err := checkImpl(f, s, n, p, paramServerMain); err != nil {
					return err
				}
				if err := claim(f, s, paramServerMain, path.Join(p.ServerMain, n.ServerMainDir)); err != nil {
					return err
				}
			}
			if p.GatewayMain != "" && gatewayRegisters(s, p.GenerateUnboundMethods) {
				if err := claim(f, s, paramGatewayMain, path.Join(p.GatewayMain, n.GatewayMainDir)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkImpl checks what a service's implementation package must satisfy
// for param (server_main, or goms skeleton).
func checkImpl(f *protogen.File, s *protogen.Service, n *serviceNames, p Params, param string) error {
	switch impl := p.implFor(s); {
	case impl == "":
		return fmt.Errorf("%s: service %s: parameter %s needs %s, the import path of the package with func %s(*goms.Server) (%s.%s, error); add %s=<import path>, or %s=%s=<import path> for this service alone",
			f.Desc.Path(), s.Desc.FullName(), param, paramImplPackage, n.Constructor, f.GoPackageName, n.Server, paramImplPackage, paramImplPackage, s.Desc.FullName())
	case protogen.GoImportPath(impl) == f.GoImportPath:
		return fmt.Errorf("%s: service %s: parameter %s: %q is the service's generated package; give the implementation a package of its own",
			f.Desc.Path(), s.Desc.FullName(), paramImplPackage, impl)
	}
	return nil
}

// checkConstructors rejects two services that need the same constructor
// name in one implementation package.
func checkConstructors(plugin *protogen.Plugin, p Params, names nameTable) error {
	type constructor struct{ impl, name string }
	seen := make(map[constructor]*protogen.Service)
	for _, f := range plugin.Files {
		if !f.Generate {
			continue
		}
		for _, s := range f.Services {
			c := constructor{p.implFor(s), names[s].Constructor}
			if other, ok := seen[c]; ok {
				return fmt.Errorf("%s: service %s: parameter %s: func %s in %s is already the constructor of service %s; give one of them a package of its own with %s=%s=<import path>",
					f.Desc.Path(), s.Desc.FullName(), paramImplPackage, c.name, c.impl, other.Desc.FullName(), paramImplPackage, s.Desc.FullName())
			}
			seen[c] = s
		}
	}
	return nil
}

// checkOnePackage rejects, for goms skeleton, services implemented in
// different packages: the command writes one package, into its -out
// directory.
func checkOnePackage(plugin *protogen.Plugin, p Params) error {
	var first *protogen.Service
	for _, f := range plugin.Files {
		if !f.Generate {
			continue
		}
		for _, s := range f.Services {
			if first == nil {
				first = s
			} else if p.implFor(s) != p.implFor(first) {
				return fmt.Errorf("%s: service %s: parameter %s: its package %s is not %s, the package of service %s; goms skeleton writes one package (-out): run it once per package",
					f.Desc.Path(), s.Desc.FullName(), paramImplPackage, p.implFor(s), p.implFor(first), first.Desc.FullName())
			}
		}
	}
	return nil
}

// checkFastCodec rejects fast_codec=vtproto for files whose messages have
// group fields (proto2 groups, editions' delimited encoding):
// protoc-gen-go-vtproto writes them but its UnmarshalVT cannot read them
// back, so every call carrying one would fail.
func checkFastCodec(plugin *protogen.Plugin, p Params) error {
	if p.FastCodec == "" {
		return nil
	}
	var walk func(f *protogen.File, msgs []*protogen.Message) error
	walk = func(f *protogen.File, msgs []*protogen.Message) error {
		for _, m := range msgs {
			for _, field := range m.Fields {
				if field.Desc.Kind() == protoreflect.GroupKind {
					return fmt.Errorf("%s: field %s is a group (delimited encoding), which protoc-gen-go-vtproto's UnmarshalVT cannot read; drop parameter %s=%s for this file, or make the field a message field",
						f.Desc.Path(), field.Desc.FullName(), paramFastCodec, p.FastCodec)
				}
			}
			if err := walk(f, m.Messages); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range plugin.Files {
		if f.Generate {
			if err := walk(f, f.Messages); err != nil {
				return err
			}
		}
	}
	return nil
}
