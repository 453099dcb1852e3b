package gen

import (
	"flag"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Parameter names, as written after --goms_opt= or under opt: in buf.gen.yaml.
const (
	paramHTTP                   = "http"
	paramGenerateUnboundMethods = "generate_unbound_methods"
	paramRegisterFuncSuffix     = "register_func_suffix"
	paramServerMain             = "server_main"
	paramGatewayMain            = "gateway_main"
	paramImplPackage            = "impl_package"
	paramOpenAPI                = "openapi"
	paramFastCodec              = "fast_codec"
)

// fastCodecs maps each value of fast_codec to the import path of the codec
// package that <file>.goms.go then imports (blank) to register it.
var fastCodecs = map[string]protogen.GoImportPath{
	"vtproto": "github.com/goms-io/goms/vtcodec",
}

// protogenParams are the parameters protogen handles itself; they are
// listed in error messages so that users see everything they may write.
const protogenParams = "paths=import|source_relative, module=<import path prefix>, M<proto file>=<import path>, annotate_code"

// Params are the plugin parameters protoc-gen-goms accepts besides
// protogen's own.
type Params struct {
	// HTTP registers the HTTP gateway routes of services that
	// protoc-gen-grpc-gateway generates routes for; it needs that plugin's
	// output in the same package. Parameter http=true|false, default true.
	HTTP bool
	// GenerateUnboundMethods mirrors protoc-gen-grpc-gateway's option of
	// the same name: methods without google.api.http rules get a
	// POST /<package>.<Service>/<Method> route. Set it to the value given
	// to protoc-gen-grpc-gateway. Default false.
	GenerateUnboundMethods bool
	// RegisterFuncSuffix mirrors protoc-gen-grpc-gateway's option of the
	// same name: its functions are Register<Service><Suffix>Client.
	// Default "Handler".
	RegisterFuncSuffix string
	// ServerMain, when set, is the directory (relative to the output
	// directory) under which a main package per service is written, in
	// <dir>/<service>/main.go. It needs ImplPackage.
	ServerMain string
	// GatewayMain, when set, is the directory (relative to the output
	// directory) under which an HTTP-only gateway main is written per
	// service with HTTP routes, in <dir>/<service>-gateway/main.go.
	GatewayMain string
	// ImplPackage is the import path of the package that implements the
	// services: for each service <Svc> it has
	// func New<Svc>(*goms.Server) (T, error), T implementing <Svc>Server.
	// Server mains call it; goms skeleton writes it. Parameter
	// impl_package=<import path>.
	ImplPackage string
	// ImplPackages maps the full name of a service to the import path of
	// its implementation package, for services that ImplPackage does not
	// implement: one package per service, say. Parameter
	// impl_package=<service>=<import path>, once per service.
	ImplPackages map[string]string
	// OpenAPI writes <file>.openapi.json beside <file>.goms.go: the
	// standalone OpenAPI 3.1 document of the file's services with HTTP
	// routes, for publishing (the server serves the same at
	// http.openapi_path). Parameter openapi=true|false, default false.
	OpenAPI bool
	// FastCodec, when set, names the gRPC codec that <file>.goms.go
	// registers by importing its package: "vtproto" imports
	// github.com/goms-io/goms/vtcodec, which marshals with the methods
	// protoc-gen-go-vtproto generates (it must run on the same files).
	// Parameter fast_codec=vtproto, default none (grpc-go's codec).
	FastCodec string

	// module is protogen's module= parameter, which mains' file names
	// must carry too (protogen strips it from every file name).
	module string
}

// defaultParams returns the parameters in effect when none are given.
func defaultParams() Params { return Params{HTTP: true, RegisterFuncSuffix: "Handler"} }

// flagSet declares every parameter once; parsing and help both use it.
func (p *Params) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("protoc-gen-goms", flag.ContinueOnError)
	fs.Var((*switchValue)(&p.HTTP), paramHTTP,
		"register HTTP gateway routes for services protoc-gen-grpc-gateway generates routes for (needs its output in the same package)")
	fs.Var((*switchValue)(&p.GenerateUnboundMethods), paramGenerateUnboundMethods,
		"set as given to protoc-gen-grpc-gateway: methods without google.api.http rules get POST /<package>.<Service>/<Method> routes")
	fs.Var((*identValue)(&p.RegisterFuncSuffix), paramRegisterFuncSuffix,
		"set as given to protoc-gen-grpc-gateway: the suffix in its Register<Service><Suffix>Client functions")
	fs.Var((*dirValue)(&p.ServerMain), paramServerMain,
		"write a main package per service into <dir>/<service>/main.go (needs impl_package)")
	fs.Var((*dirValue)(&p.GatewayMain), paramGatewayMain,
		"write an HTTP-only gateway main per service with HTTP routes into <dir>/<service>-gateway/main.go")
	fs.Var((*codecValue)(&p.FastCodec), paramFastCodec,
		"register a faster gRPC codec from <file>.goms.go: vtproto imports github.com/goms-io/goms/vtcodec (run protoc-gen-go-vtproto with features marshal+unmarshal+size on the same files)")
	fs.Var(implValue{p}, paramImplPackage,
		"import path of the package with func New<Service>(*goms.Server) (<Service>Server, error) for each service; <service>=<import path> (repeatable) for one service, by full name")
	fs.Var((*switchValue)(&p.OpenAPI), paramOpenAPI,
		"also write <file>.openapi.json, the standalone OpenAPI 3.1 document of the file's services with HTTP routes")
	return fs
}

// set applies one name=value parameter; protogen calls it for each one it
// does not handle itself.
func (p *Params) set(name, value string) error {
	fs := p.flagSet()
	if fs.Lookup(name) == nil {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name+"="+acceptedValues(f)) })
		return fmt.Errorf("unknown parameter %q; accepted parameters: %s, %s", name, strings.Join(names, ", "), protogenParams)
	}
	if err := fs.Set(name, value); err != nil {
		return fmt.Errorf("parameter %s: %w", name, err)
	}
	return nil
}

// readModule records protogen's module= parameter from the raw parameter
// string (protogen consumes it without calling set).
func (p *Params) readModule(parameter string) {
	for param := range strings.SplitSeq(parameter, ",") {
		if v, ok := strings.CutPrefix(param, "module="); ok {
			p.module = v
		}
	}
}

// PrintParams writes the plugin parameters, with defaults, to w.
func PrintParams(w io.Writer) {
	p := defaultParams()
	fs := p.flagSet()
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  %s=%s (default %s)\n    \t%s\n", f.Name, acceptedValues(f), def, f.Usage)
	})
	fmt.Fprintf(w, "  and protogen's own: %s\n", protogenParams)
}

// acceptedValues says which values parameter f takes.
func acceptedValues(f *flag.Flag) string {
	return f.Value.(interface{ accepted() string }).accepted()
}

// switchValue is a boolean parameter where a bare name means true, as
// protoc users expect of switches (flag.Bool rejects the empty value
// protogen passes for a bare name).
type switchValue bool

func (v *switchValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *switchValue) accepted() string { return "true|false" }
func (v *switchValue) Set(s string) error {
	if s == "" {
		*v = true
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("invalid value %q; want true or false", s)
	}
	*v = switchValue(b)
	return nil
}

// identValue is a part of a Go identifier: letters, digits, underscores.
type identValue string

func (v *identValue) String() string   { return string(*v) }
func (v *identValue) accepted() string { return "<identifier part>" }
func (v *identValue) Set(s string) error {
	for _, r := range s {
		if r != '_' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return fmt.Errorf("invalid value %q; want ASCII letters, digits and underscores, as given to protoc-gen-grpc-gateway", s)
		}
	}
	*v = identValue(s)
	return nil
}

// codecValue is fast_codec: empty, or a key of fastCodecs.
type codecValue string

func (v *codecValue) String() string { return string(*v) }
func (v *codecValue) accepted() string {
	names := make([]string, 0, len(fastCodecs))
	for name := range fastCodecs {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, "|")
}
func (v *codecValue) Set(s string) error {
	if _, ok := fastCodecs[s]; !ok {
		return fmt.Errorf("invalid value %q; want one of: %s", s, v.accepted())
	}
	*v = codecValue(s)
	return nil
}

// dirValue is a clean relative directory inside the output directory.
type dirValue string

func (v *dirValue) String() string   { return string(*v) }
func (v *dirValue) accepted() string { return "<dir>" }
func (v *dirValue) Set(s string) error {
	if s == "" || path.IsAbs(s) || path.Clean(s) != s || s == "." || s == ".." || strings.HasPrefix(s, "../") || strings.Contains(s, `\`) {
		return fmt.Errorf("invalid directory %q; want a clean relative path inside the output directory, such as cmd", s)
	}
	*v = dirValue(s)
	return nil
}

// implFor returns the import path of the package implementing s: its own
// impl_package=<service>=<import path> entry, else impl_package's plain
// value (empty when neither is given).
func (p *Params) implFor(s *protogen.Service) string {
	if v, ok := p.ImplPackages[string(s.Desc.FullName())]; ok {
		return v
	}
	return p.ImplPackage
}

// implValue is impl_package, which may repeat: one plain <import path>,
// the package of every service without an entry of its own, and any
// number of <service>=<import path> entries, one per service. (Import
// paths cannot hold "=", so the two forms cannot be confused.)
type implValue struct{ p *Params }

func (v implValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.ImplPackage
}
func (v implValue) accepted() string { return "<import path>|<service>=<import path>" }
func (v implValue) Set(s string) error {
	service, importPath, mapped := strings.Cut(s, "=")
	if !mapped {
		if !validImportPath(s) {
			return fmt.Errorf("invalid import path %q; want a Go import path such as example.com/you/greeter, or <service>=<import path> for one service", s)
		}
		if old := v.p.ImplPackage; old != "" && old != s {
			return fmt.Errorf("two import paths for every service, %q and %q; give one, and <service>=<import path> for each service implemented elsewhere", old, s)
		}
		v.p.ImplPackage = s
		return nil
	}
	if !protoreflect.FullName(service).IsValid() {
		return fmt.Errorf("invalid service name %q in %q; want <service>=<import path> with the service's full name, such as greeter.v1.GreeterService=example.com/you/greeter", service, s)
	}
	if !validImportPath(importPath) {
		return fmt.Errorf("invalid import path %q in %q; want <service>=<import path> with a Go import path, such as greeter.v1.GreeterService=example.com/you/greeter", importPath, s)
	}
	if old, ok := v.p.ImplPackages[service]; ok && old != importPath {
		return fmt.Errorf("two import paths for service %s, %q and %q; give it one", service, old, importPath)
	}
	if v.p.ImplPackages == nil {
		v.p.ImplPackages = make(map[string]string)
	}
	v.p.ImplPackages[service] = importPath
	return nil
}

// validImportPath reports whether s can be written as a Go import path in
// generated code.
func validImportPath(s string) bool {
	return s != "" && path.Clean(s) == s && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, ".") &&
		!strings.ContainsAny(s, " \t\\;:\"'`=") && utf8.ValidString(s) &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) })
}
