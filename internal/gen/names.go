package gen

import (
	"fmt"
	"go/token"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/compiler/protogen"
)

// serviceNames holds every Go identifier and path the generated code
// declares or refers to for one service, so that naming is decided in one
// place.
type serviceNames struct {
	// Declared by protoc-gen-goms in the service's Go package. They are
	// <Svc>Name and Register<Svc>, with "_" appended while they collide
	// with an identifier another plugin or another service declares there.
	Name       string // const <Svc>Name: the fully-qualified service name
	Register   string // func Register<Svc>: the registration glue
	ClientFrom string // func New<Svc>ClientFrom: the typed client by service name
	OpenAPI    string // const <svc>OpenAPI (unexported): the service's OpenAPI fragment

	// Declared by protoc-gen-go-grpc in the same package.
	ServiceDesc   string // <Svc>_ServiceDesc
	Server        string // <Svc>Server interface
	NewClient     string // New<Svc>Client
	Client        string // <Svc>Client interface
	Unimplemented string // Unimplemented<Svc>Server

	// Declared by protoc-gen-grpc-gateway in the same package.
	RegisterHandlerClient string // Register<Svc><Suffix>Client

	// In the implementation package (impl_package). Constructor is the
	// documented rule server mains rely on, New<Svc>; ImplType is the
	// skeleton's struct, <Svc> with "_" appended while it collides with a
	// constructor or another service's type in the same package.
	Constructor string
	ImplType    string

	// Directory names of the mains (under server_main and gateway_main):
	// the service name in kebab case, followed by the version of the proto
	// package when its last element is one (v1, v2beta1), so that the
	// versions of an API get different commands. The skeleton's file name
	// is the service name in snake case.
	ServerMainDir  string // <svc-name>[-<version>]
	GatewayMainDir string // <svc-name>[-<version>]-gateway
	SkeletonFile   string // <svc_name>.go
}

// streamServer is go-grpc's name for a streaming method's server stream
// type: a generic alias, or an interface with use_generic_streams=false.
func streamServer(s *protogen.Service, m *protogen.Method) string {
	return s.GoName + "_" + m.GoName + "Server"
}

// nameTable maps each service of a request to its names.
type nameTable map[*protogen.Service]*serviceNames

// newNameTable names every service of the request. Names that protoc-gen-goms
// declares are chosen per Go package, against everything the other plugins
// declare in that package for the files of the request, in request order,
// so that the output is deterministic.
func newNameTable(plugin *protogen.Plugin, p Params) nameTable {
	table := make(nameTable)
	var order []protogen.GoImportPath
	byPackage := make(map[protogen.GoImportPath][]*protogen.File)
	for _, f := range plugin.Files {
		if byPackage[f.GoImportPath] == nil {
			order = append(order, f.GoImportPath)
		}
		byPackage[f.GoImportPath] = append(byPackage[f.GoImportPath], f)
	}
	// Per implementation package: constructors first, then types.
	implTaken := make(map[string]map[string]bool)
	for _, f := range plugin.Files {
		for _, s := range f.Services {
			impl := p.implFor(s)
			if implTaken[impl] == nil {
				implTaken[impl] = make(map[string]bool)
			}
			implTaken[impl]["New"+s.GoName] = true
		}
	}
	for _, importPath := range order {
		files := byPackage[importPath]
		taken := declaredByOtherPlugins(files, p.RegisterFuncSuffix)
		for _, f := range files {
			for _, s := range f.Services {
				svc := s.GoName
				command := kebab(svc)
				if v := packageVersion(string(s.Desc.ParentFile().Package())); v != "" {
					command += "-" + v
				}
				table[s] = &serviceNames{
					Name:                  free(taken, svc+"Name"),
					Register:              free(taken, "Register"+svc),
					ClientFrom:            free(taken, "New"+svc+"ClientFrom"),
					OpenAPI:               free(taken, lowerFirst(svc)+"OpenAPI"),
					ServiceDesc:           svc + "_ServiceDesc",
					Server:                svc + "Server",
					NewClient:             "New" + svc + "Client",
					Client:                svc + "Client",
					Unimplemented:         "Unimplemented" + svc + "Server",
					RegisterHandlerClient: "Register" + svc + p.RegisterFuncSuffix + "Client",
					Constructor:           "New" + svc,
					ImplType:              free(implTaken[p.implFor(s)], svc),
					ServerMainDir:         command,
					GatewayMainDir:        command + "-gateway",
					SkeletonFile:          strings.ReplaceAll(kebab(svc), "-", "_") + ".go",
				}
			}
		}
	}
	return table
}

// lowerFirst returns name with its first letter in lower case, which
// makes an exported Go identifier unexported.
func lowerFirst(name string) string {
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToLower(r)) + name[size:]
}

// free returns name, with "_" appended until it is not taken, and takes it.
// protoc-gen-go resolves its own collisions the same way.
func free(taken map[string]bool, name string) string {
	for taken[name] {
		name += "_"
	}
	taken[name] = true
	return name
}

// declaredByOtherPlugins returns the exported package-level identifiers
// protoc-gen-go, protoc-gen-go-grpc and protoc-gen-grpc-gateway declare for
// files (all in one Go package).
func declaredByOtherPlugins(files []*protogen.File, suffix string) map[string]bool {
	taken := make(map[string]bool)
	enum := func(e *protogen.Enum) {
		taken[e.GoIdent.GoName] = true
		taken[e.GoIdent.GoName+"_name"] = true
		taken[e.GoIdent.GoName+"_value"] = true
		for _, v := range e.Values {
			taken[v.GoIdent.GoName] = true
		}
	}
	var message func(m *protogen.Message)
	message = func(m *protogen.Message) {
		taken[m.GoIdent.GoName] = true
		for _, f := range m.Fields {
			if f.Oneof != nil {
				taken[f.GoIdent.GoName] = true // oneof wrapper type
			}
			if f.Desc.HasDefault() {
				taken["Default_"+m.GoIdent.GoName+"_"+f.GoName] = true
			}
		}
		for _, e := range m.Enums {
			enum(e)
		}
		for _, n := range m.Messages {
			message(n)
		}
		for _, x := range m.Extensions {
			taken[x.GoIdent.GoName] = true
		}
	}
	for _, f := range files {
		taken[f.GoDescriptorIdent.GoName] = true
		for _, e := range f.Enums {
			enum(e)
		}
		for _, m := range f.Messages {
			message(m)
		}
		for _, x := range f.Extensions {
			taken[x.GoIdent.GoName] = true
		}
		for _, s := range f.Services {
			svc := s.GoName
			for _, name := range []string{
				// protoc-gen-go-grpc
				svc + "Client", svc + "Server", "New" + svc + "Client", "Register" + svc + "Server",
				"Unimplemented" + svc + "Server", "Unsafe" + svc + "Server", svc + "_ServiceDesc",
				// protoc-gen-grpc-gateway
				"Register" + svc + suffix, "Register" + svc + suffix + "Client",
				"Register" + svc + suffix + "FromEndpoint", "Register" + svc + suffix + "Server",
			} {
				taken[name] = true
			}
			for _, m := range s.Methods {
				taken[svc+"_"+m.GoName+"_FullMethodName"] = true
				taken[svc+"_"+m.GoName+"Client"] = true
				taken[streamServer(s, m)] = true
			}
		}
	}
	return taken
}

// versionElement matches a version as the last element of a proto
// package: v1, v2beta1, v1p1alpha.
var versionElement = regexp.MustCompile(`^v[0-9]+[a-z0-9]*$`)

// packageVersion returns the last element of a proto package when it is a
// version, or "".
func packageVersion(pkg string) string {
	last := pkg[strings.LastIndex(pkg, ".")+1:]
	if versionElement.MatchString(last) {
		return last
	}
	return ""
}

// kebab turns a Go name into lower-case words joined by dashes, for
// directory and binary names: EchoService is echo-service, HTTPThing is
// http-thing, V2Service is v2-service, Foo_2Bar is foo-2-bar.
func kebab(name string) string {
	var b strings.Builder
	runes := []rune(name)
	for i, r := range runes {
		if r == '_' {
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
			continue
		}
		if i > 0 && b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			prev := runes[i-1]
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev) || unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('-')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.TrimSuffix(b.String(), "-")
}

// locals picks names for local variables and parameters of a generated
// function that no package name used in g shadows: each wanted name gets
// "_" appended while an imported package has it. Call it after every
// identifier of the function has been qualified with g.QualifiedGoIdent.
func locals(used map[string]bool, want ...string) []string {
	names := make([]string, len(want))
	for i, w := range want {
		for used[w] {
			w += "_"
		}
		used[w] = true
		names[i] = w
	}
	return names
}

// qualifiers returns the package names of qualified identifiers (the part
// before the dot), which local names must not shadow.
func qualifiers(qualified ...string) map[string]bool {
	used := make(map[string]bool)
	for _, q := range qualified {
		if pkg, _, ok := strings.Cut(q, "."); ok {
			used[pkg] = true
		}
	}
	return used
}

// mainImportPath is the Go import path of a main written into dir: under
// module= it is the real one; otherwise the output directory's import path
// is unknown and a stand-in that matches no real package does (protogen
// uses it only to tell local identifiers from imported ones).
func mainImportPath(p Params, dir string) protogen.GoImportPath {
	if p.module != "" {
		return protogen.GoImportPath(p.module + "/" + dir)
	}
	return protogen.GoImportPath(path.Join("goms.main", dir))
}

// outputName is the file name protogen expects for a file at rel inside
// the output directory: protogen strips module= from every name.
func outputName(p Params, rel string) string {
	if p.module != "" {
		return p.module + "/" + rel
	}
	return rel
}

// cleanName is the Go package name protogen derives from an import path:
// its last element, with characters that may not appear in an identifier
// replaced by "_" and a "_" prepended to a keyword or a leading non-letter.
func cleanName(importPath string) string {
	s := []rune(path.Base(importPath))
	for i, r := range s {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			s[i] = '_'
		}
	}
	name := string(s)
	if token.IsKeyword(name) || len(s) == 0 || !unicode.IsLetter(s[0]) && s[0] != '_' {
		name = "_" + name
	}
	return name
}

// gatewaySuffix is the <Service>_<Method>_<n> suffix protoc-gen-grpc-gateway
// gives the declarations of a method's n-th binding (pattern_, request_,
// forward_): Go names, as it camel-cases the proto names.
func gatewaySuffix(s *serviceInfo, m *protogen.Method, n int) string {
	return fmt.Sprintf("%s_%s_%d", s.GoName, m.GoName, n)
}
