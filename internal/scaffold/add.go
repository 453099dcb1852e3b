package scaffold

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode"

	"github.com/goms-io/goms/internal/gen"
	"github.com/goms-io/goms/internal/protoreq"
	"google.golang.org/protobuf/types/pluginpb"
)

// serviceProto is the proto of a service goms add adds.
//
//go:embed service.proto.tmpl
var serviceProto string

// Service is a service to add, parsed by [ParseService].
type Service struct {
	// Package is the proto package, such as audit.v1.
	Package string
	// Name is the service's name in the package, such as AuditService.
	Name string
}

// FullName is the fully-qualified service name: audit.v1.AuditService.
func (s Service) FullName() string { return s.Package + "." + s.Name }

// base is the name without the Service suffix: Audit.
func (s Service) base() string { return baseName(s.Name) }

// protoFile is the proto's path under proto/: audit/v1/audit.proto.
func (s Service) protoFile() string {
	return strings.ReplaceAll(s.Package, ".", "/") + "/" + snake(s.base()) + ".proto"
}

// goPackage is the go_package of the proto of s, for a proto package with
// no other file: gen/<the proto's directory> in module, with the last two
// elements of the package as the Go package name (audit.v1: auditv1).
func (s Service) goPackage(module string) string {
	elems := strings.Split(s.Package, ".")
	if len(elems) > 2 {
		elems = elems[len(elems)-2:]
	}
	return module + "/gen/" + path.Dir(s.protoFile()) + ";" + strings.ReplaceAll(strings.Join(elems, ""), "_", "")
}

// ImplDir is the directory of the service's implementation, relative to
// the project, which is also its Go package name: the name without the
// Service suffix, in lower case (AuditService: audit; the starter
// GreeterService: greeter). The project's services.Register looks for
// New<Service> there.
func (s Service) ImplDir() string { return implDir(s.Name) }

func baseName(service string) string {
	if b := strings.TrimSuffix(service, "Service"); b != "" {
		return b
	}
	return service
}

func implDir(service string) string { return strings.ToLower(baseName(service)) }

var (
	shortName   = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	pkgElem     = shortName
	versionElem = regexp.MustCompile(`^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$`)
	serviceElem = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*Service$`)
)

// reservedDirs are the directories of a project that cannot hold a
// service's implementation.
var reservedDirs = map[string]bool{"cmd": true, "deploy": true, "gen": true, "main": true, "proto": true, "services": true, "testdata": true, "third_party": true, "tools": true}

// ParseService parses the name goms add takes: a short name in lower snake
// case (audit_log: audit_log.v1.AuditLogService), or a fully-qualified
// service name whose package ends in a version and whose name ends in
// Service (acme.audit.v1.AuditService), as buf lint's STANDARD rules want.
func ParseService(name string) (Service, error) {
	var s Service
	if shortName.MatchString(name) {
		var pascal strings.Builder
		for _, w := range strings.Split(name, "_") {
			pascal.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
		s = Service{Package: name + ".v1", Name: pascal.String() + "Service"}
	} else {
		elems := strings.Split(name, ".")
		n := len(elems)
		if n < 3 || !versionElem.MatchString(elems[n-2]) || !serviceElem.MatchString(elems[n-1]) || elems[n-1] == "Service" {
			return Service{}, fmt.Errorf("invalid service name %q: want a short name in lower snake case (audit) or a full name such as audit.v1.AuditService", name)
		}
		for _, e := range elems[:n-2] {
			if !pkgElem.MatchString(e) {
				return Service{}, fmt.Errorf("invalid service name %q: package element %q is not lower snake case", name, e)
			}
		}
		s = Service{Package: strings.Join(elems[:n-1], "."), Name: elems[n-1]}
	}
	if dir := s.ImplDir(); token.IsKeyword(dir) || reservedDirs[dir] {
		return Service{}, fmt.Errorf("invalid service name %q: its implementation would be package %s, which the project cannot have; choose another name", name, dir)
	}
	return s, nil
}

// AddOptions says what service [Add] adds, and to which project.
type AddOptions struct {
	// Dir is the project's directory, written by [New]; empty: ".".
	Dir string
	// Service is the service to add.
	Service Service
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// Add adds a service to a project written by [New]: its proto (one unary
// method with an HTTP rule, clean under buf lint STANDARD), gen/
// regenerated from every proto as buf generate would (without buf, as
// [New] does), the implementation skeleton (goms skeleton's, written only
// if no file is there), and services/services.go rewritten, so that the
// project's mains register the new service with the others. It refuses a
// service that exists, and writes nothing when its checks or the
// generation fail. registered is false when services.go was kept, edited
// (log then says what to register by hand).
func Add(ctx context.Context, o AddOptions) (registered bool, err error) {
	if o.Dir == "" {
		o.Dir = "."
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	module, err := checkProject(o.Dir)
	if err != nil {
		return false, err
	}
	s := o.Service
	req, err := compileProtos(ctx, o.Dir)
	if err != nil {
		return false, err
	}
	goPackage := s.goPackage(module)
	for _, f := range req.GetProtoFile() {
		if !isProjectFile(req, f.GetName()) {
			continue
		}
		for _, svc := range f.GetService() {
			full := f.GetPackage() + "." + svc.GetName()
			switch {
			case full == s.FullName():
				return false, fmt.Errorf("service %s exists (%s)", full, filepath.Join(protoDir, filepath.FromSlash(f.GetName())))
			case implDir(svc.GetName()) == s.ImplDir():
				return false, fmt.Errorf("%s/ is the package of %s already: give %s another name", s.ImplDir(), full, s.FullName())
			}
		}
		if f.GetPackage() == s.Package && f.GetOptions().GetGoPackage() != "" {
			// buf lint (PACKAGE_SAME_GO_PACKAGE) wants one go_package per
			// proto package.
			goPackage = f.GetOptions().GetGoPackage()
		}
	}
	protoPath := filepath.Join(o.Dir, protoDir, filepath.FromSlash(s.protoFile()))
	if _, err := os.Stat(protoPath); err == nil {
		return false, fmt.Errorf("%s exists", filepath.Join(protoDir, filepath.FromSlash(s.protoFile())))
	}
	src, err := renderService(s, module, goPackage)
	if err != nil {
		return false, err
	}

	// The proto, then the generated code from every proto: if generation
	// fails, the proto goes, and gen/ stays as it was.
	created := firstMissingDir(filepath.Dir(protoPath))
	if err := writeNew(protoPath, src); err != nil {
		return false, err
	}
	start := time.Now()
	files, err := generateFiles(ctx, o.Dir)
	if err != nil {
		os.Remove(protoPath)
		if created != "" {
			os.RemoveAll(created)
		}
		return false, err
	}
	fmt.Fprintf(o.Log, "wrote %s\n", filepath.Join(protoDir, filepath.FromSlash(s.protoFile())))
	if err := os.RemoveAll(filepath.Join(o.Dir, "gen")); err != nil {
		return false, err
	}
	if err := writeFiles(o.Dir, files); err != nil {
		return false, err
	}
	fmt.Fprintf(o.Log, "generated gen/ (%.1fs)\n", time.Since(start).Seconds())

	// The skeleton, as goms skeleton writes it.
	if err := writeSkeleton(ctx, o.Dir, module, s, o.Log); err != nil {
		return false, err
	}
	unregistered, err := writeServices(ctx, o.Dir, module, o.Log)
	return err == nil && !slices.Contains(unregistered, s.FullName()), err
}

// checkProject returns the module path of the project in dir, or an error
// if dir does not look like a project written by goms new.
func checkProject(dir string) (string, error) {
	for _, p := range []string{"go.mod", protoDir, googleapisDir, "tools/go.mod"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			return "", fmt.Errorf("%s is not a project written by goms new: it has no %s", dir, p)
		}
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	module := modulePath(mod)
	if module == "" {
		return "", fmt.Errorf("%s: no module line", filepath.Join(dir, "go.mod"))
	}
	return module, nil
}

// modulePath returns the module path of a go.mod file, or "".
func modulePath(mod []byte) string {
	for line := range strings.Lines(string(mod)) {
		line, _, _ = strings.Cut(line, "//")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), "\"`")
		}
	}
	return ""
}

// compileProtos compiles every proto under dir/proto, against the
// project's import paths.
func compileProtos(ctx context.Context, dir string) (*pluginpb.CodeGeneratorRequest, error) {
	var files []string
	err := fs.WalkDir(os.DirFS(filepath.Join(dir, protoDir)), ".", func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && path.Ext(p) == ".proto" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .proto file under %s", filepath.Join(dir, protoDir))
	}
	return protoreq.Compile(ctx, importPaths(dir), "", files...)
}

// isProjectFile reports whether name is one of the request's files to
// generate (the project's own protos, not google/api's).
func isProjectFile(req *pluginpb.CodeGeneratorRequest, name string) bool {
	for _, f := range req.GetFileToGenerate() {
		if f == name {
			return true
		}
	}
	return false
}

// renderService returns the proto of s.
func renderService(s Service, module, goPackage string) ([]byte, error) {
	t, err := template.New("service.proto").Option("missingkey=error").Parse(serviceProto)
	if err != nil {
		return nil, err
	}
	elems := strings.Split(s.Package, ".")
	var b bytes.Buffer
	err = t.Execute(&b, map[string]string{
		"Module":    module,
		"Package":   s.Package,
		"Name":      s.Name,
		"Base":      s.base(),
		"Words":     strings.ReplaceAll(snake(s.base()), "_", " "),
		"Route":     "/" + elems[len(elems)-1] + "/" + strings.ReplaceAll(snake(s.base()), "_", "-") + "/{id}",
		"GoPackage": goPackage,
		"ImplDir":   s.ImplDir(),
	})
	return b.Bytes(), err
}

// writeSkeleton writes the implementation skeleton of s into its
// directory, as goms skeleton does: only the files that do not exist.
func writeSkeleton(ctx context.Context, dir, module string, s Service, log io.Writer) error {
	req, err := protoreq.Compile(ctx, importPaths(dir), "impl_package="+module+"/"+s.ImplDir(), s.protoFile())
	if err != nil {
		return err
	}
	resp := gen.Skeleton(req)
	if resp.Error != nil {
		return errors.New(resp.GetError())
	}
	for _, f := range resp.GetFile() {
		name := filepath.Join(s.ImplDir(), filepath.FromSlash(f.GetName()))
		if err := writeNew(filepath.Join(dir, name), []byte(f.GetContent())); errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(log, "kept %s (exists)\n", name)
			continue
		} else if err != nil {
			return err
		}
		fmt.Fprintf(log, "wrote %s\n", name)
	}
	return nil
}

// firstMissingDir returns the outermost directory of dir's path that does
// not exist, or "" if dir exists: what MkdirAll(dir) would create.
func firstMissingDir(dir string) string {
	missing := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			return missing
		}
		missing = d
		if filepath.Dir(d) == d {
			return missing
		}
	}
}

// snake returns a PascalCase name in lower snake case: AuditLog → audit_log.
func snake(name string) string {
	var b strings.Builder
	runes := []rune(name)
	for i, r := range runes {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1]) ||
			unicode.IsUpper(runes[i-1]) && i+1 < len(runes) && unicode.IsLower(runes[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
