package scaffold

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
)

// servicesFile is the file, relative to the project, that registers every
// service of the project: its mains call services.Register, and goms add
// rewrites it, so that no main needs an edit when a service comes.
const servicesFile = "services/services.go"

// registration is one service services.Register registers.
type registration struct {
	fullName string // hello.v1.GreeterService
	goName   string // GreeterService
	// The generated package, and the implementation package with
	// func New<goName>.
	genPath, genName   string
	implPath, implName string
}

// writeServices writes services/services.go for the project in dir,
// derived from the services of its protos and the packages implementing
// them: a service is registered when its implementation directory (see
// [Service.ImplDir]) declares func New<Service>; log says which are left
// out, and why. The file is rewritten only while it is as goms wrote it (its
// checksum matches): once edited, it is the user's, and log says what to
// register by hand. unregistered lists the services of the protos that
// services.go does not register.
func writeServices(ctx context.Context, dir, module string, log io.Writer) (unregistered []string, err error) {
	req, err := compileProtos(ctx, dir)
	if err != nil {
		return nil, err
	}
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		return nil, err
	}
	var regs []registration
	implemented := make(map[string]string) // implementation directory → service
	for _, f := range plugin.Files {
		if !f.Generate {
			continue
		}
		for _, s := range f.Services {
			impl := implDir(s.GoName)
			if other, ok := implemented[impl]; ok {
				fmt.Fprintf(log, "%s: %s left out: %s/ implements %s\n", servicesFile, s.Desc.FullName(), impl, other)
				unregistered = append(unregistered, string(s.Desc.FullName()))
				continue
			}
			name, err := constructorPackage(filepath.Join(dir, impl), "New"+s.GoName)
			if err != nil {
				return nil, err
			}
			if name == "" {
				fmt.Fprintf(log, "%s: %s left out: %s/ has no func New%s (goms skeleton writes one)\n", servicesFile, s.Desc.FullName(), impl, s.GoName)
				unregistered = append(unregistered, string(s.Desc.FullName()))
				continue
			}
			implemented[impl] = string(s.Desc.FullName())
			regs = append(regs, registration{
				fullName: string(s.Desc.FullName()), goName: s.GoName,
				genPath: string(f.GoImportPath), genName: string(f.GoPackageName),
				implPath: module + "/" + impl, implName: name,
			})
		}
	}
	sort.Slice(regs, func(i, j int) bool { return regs[i].fullName < regs[j].fullName })
	src, err := renderServices(module, regs)
	if err != nil {
		return nil, err
	}

	file := filepath.Join(dir, filepath.FromSlash(servicesFile))
	old, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case bytes.Equal(old, src):
		return unregistered, nil
	case !asGenerated(old):
		var missing []string
		for _, r := range regs {
			if !bytes.Contains(old, []byte(".Register"+r.goName+"(")) {
				missing = append(missing, r.fullName)
			}
		}
		fmt.Fprintf(log, "kept %s (edited since goms wrote it)", servicesFile)
		if len(missing) > 0 {
			fmt.Fprintf(log, ": register %s there yourself", strings.Join(missing, ", "))
		}
		fmt.Fprintln(log)
		return append(unregistered, missing...), nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, src, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "wrote %s\n", servicesFile)
	return unregistered, nil
}

// constructorPackage returns the package name of the Go files of dir
// (tests excepted) if one of them declares func constructor, else "".
func constructorPackage(dir, constructor string) (string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return "", err
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == constructor {
				return f.Name.Name, nil
			}
		}
	}
	return "", nil
}

// checksumLine holds the checksum of services.go: sha256 of the file with
// the checksum itself left out.
var checksumLine = regexp.MustCompile(`(?m)^// Checksum: ([0-9a-f]{64})\n`)

// asGenerated reports whether src is services.go as goms wrote it.
func asGenerated(src []byte) bool {
	m := checksumLine.FindSubmatchIndex(src)
	if m == nil {
		return false
	}
	return string(src[m[2]:m[3]]) == checksum(append(append([]byte(nil), src[:m[2]]...), src[m[3]:]...))
}

func checksum(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// renderServices returns services/services.go registering regs.
func renderServices(module string, regs []registration) ([]byte, error) {
	// Package names, unique in the file.
	taken := map[string]bool{"fmt": true, "goms": true, "s": true, "err": true, "Register": true}
	alias := make(map[string]string) // import path → name
	var imports []string
	use := func(importPath, name string) {
		if _, ok := alias[importPath]; ok {
			return
		}
		n := name
		for i := 2; taken[n]; i++ {
			n = fmt.Sprintf("%s%d", name, i)
		}
		taken[n] = true
		alias[importPath] = n
		imports = append(imports, importPath)
	}
	for _, r := range regs {
		use(r.genPath, r.genName)
	}
	for _, r := range regs {
		use(r.implPath, r.implName)
	}
	sort.Strings(imports)

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("// Code generated by goms. DO NOT EDIT.")
	p("//")
	p("// goms add rewrites this file from the services of proto/ and their")
	p("// implementations: func New<Service> in the directory named after the")
	p("// service (GreeterService: greeter/). It keeps it once edited.")
	p("// Checksum: CHECKSUM")
	p("")
	p("// Package services registers every service of %s.", module)
	p("package services")
	p("")
	p("import (")
	p("\t\"fmt\"")
	p("")
	p("\t\"github.com/goms-io/goms\"")
	p("")
	for _, ip := range imports {
		if alias[ip] == path.Base(ip) {
			p("\t%q", ip)
		} else {
			p("\t%s %q", alias[ip], ip)
		}
	}
	p(")")
	p("")
	p("// Register registers every service of the project on s. The project's")
	p("// mains call it: -serve picks the services a process hosts, -targets")
	p("// says where the others run.")
	p("func Register(s *goms.Server) error {")
	for _, r := range regs {
		v := strings.ToLower(r.goName[:1]) + r.goName[1:]
		for i := 2; token.IsKeyword(v) || taken[v]; i++ {
			v = fmt.Sprintf("%s%d", strings.ToLower(r.goName[:1])+r.goName[1:], i)
		}
		taken[v] = true
		p("\t%s, err := %s.New%s(s)", v, alias[r.implPath], r.goName)
		p("\tif err != nil {")
		p("\t\treturn fmt.Errorf(\"%s: %%w\", err)", r.fullName)
		p("\t}")
		p("\t%s.Register%s(s, %s)", alias[r.genPath], r.goName, v)
	}
	p("\treturn nil")
	p("}")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", servicesFile, err, b.Bytes())
	}
	without := bytes.Replace(src, []byte("// Checksum: CHECKSUM\n"), []byte("// Checksum: \n"), 1)
	return bytes.Replace(src, []byte("CHECKSUM"), []byte(checksum(without)), 1), nil
}
