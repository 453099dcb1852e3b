package gen

import (
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// skeletonHeader starts every file goms skeleton writes.
const skeletonHeader = "// Code generated once by goms skeleton"

// TestSkeletonGolden runs the skeleton generator on the cases whose
// buf.gen.yaml asks for server mains and compares it with the committed
// skeletons (which make generate writes with goms skeleton, once per
// implementation package, and which the mains of the case are built with).
func TestSkeletonGolden(t *testing.T) {
	cases, _ := filepath.Glob(filepath.Join(testdataDir, "*", "buf.gen.yaml"))
	n := 0
	for _, tmpl := range cases {
		dir := filepath.Dir(tmpl)
		parameter, _ := caseParameter(t, dir)
		p := defaultParams()
		for param := range strings.SplitSeq(parameter, ",") {
			if v, ok := strings.CutPrefix(param, paramImplPackage+"="); ok {
				if err := p.set(paramImplPackage, v); err != nil {
					t.Fatalf("%s: %v", tmpl, err)
				}
			}
		}
		if p.ImplPackage == "" && len(p.ImplPackages) == 0 {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			for impl, files := range filesByImpl(t, p, caseProtos(t, dir)) {
				resp := Skeleton(newRequest(t, "impl_package="+impl, files...))
				if resp.Error != nil {
					t.Fatal(resp.GetError())
				}
				implDir := strings.TrimPrefix(impl, "github.com/goms-io/goms/")
				got := make(map[string]string)
				for _, f := range resp.File {
					got[path.Join(implDir, f.GetName())] = f.GetContent()
				}
				want := committedFiles(t, filepath.Join(repoRoot, implDir), skeletonHeader)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("skeleton of %s differs from the committed one (-committed +generated):\n%s\nIf the change is intended, run: make generate", impl, diff)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no case with impl_package")
	}
}

// filesByImpl groups the files that declare services by the package that
// implements their services under p, as goms skeleton is run: once per
// package.
func filesByImpl(t *testing.T, p Params, files []string) map[string][]string {
	t.Helper()
	byImpl := make(map[string][]string)
	for _, file := range files {
		req := newRequest(t, "", file)
		fd := req.ProtoFile[len(req.ProtoFile)-1]
		impls := make(map[string]bool)
		for _, s := range fd.GetService() {
			name := s.GetName()
			if fd.GetPackage() != "" {
				name = fd.GetPackage() + "." + name
			}
			impl, ok := p.ImplPackages[name]
			if !ok {
				impl = p.ImplPackage
			}
			impls[impl] = true
		}
		if len(impls) > 1 {
			t.Fatalf("%s: services implemented in several packages %v; goms skeleton writes one", file, slices.Sorted(maps.Keys(impls)))
		}
		for impl := range impls {
			byImpl[impl] = append(byImpl[impl], file)
		}
	}
	return byImpl
}

// goldenPackageDirs returns every directory under testdata/ with Go files,
// as ./-relative paths from the repository root.
func goldenPackageDirs(t testing.TB) []string {
	t.Helper()
	seen := make(map[string]bool)
	var dirs []string
	filepath.WalkDir(testdataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
			rel, _ := filepath.Rel(repoRoot, filepath.Dir(p))
			if !seen[rel] {
				seen[rel] = true
				dirs = append(dirs, "./"+filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return dirs
}

// TestGoldenPackagesBuild vets every golden package, mains and skeletons
// included (./... skips testdata, and mains cannot be imported).
func TestGoldenPackagesBuild(t *testing.T) {
	dirs := goldenPackageDirs(t)
	cmd := exec.Command("go", append([]string{"vet"}, dirs...)...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go vet %s: %v\n%s", strings.Join(dirs, " "), err, out)
	}
}

// TestGatewayMirrorGoldens checks, over every golden case, that the
// committed .goms.go files refer to exactly the Register<Svc>HandlerClient
// functions protoc-gen-grpc-gateway declared in the case's .pb.gw.go files.
func TestGatewayMirrorGoldens(t *testing.T) {
	declared, referenced := make(map[string]bool), make(map[string]bool)
	filepath.WalkDir(testdataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		switch {
		case strings.HasSuffix(p, ".pb.gw.go"):
			for _, m := range handlerClientDecl.FindAllStringSubmatch(string(data), -1) {
				declared[filepath.Dir(p)+"."+m[1]] = true
			}
		case strings.HasSuffix(p, ".goms.go"):
			for _, m := range handlerClientRef.FindAllStringSubmatch(string(data), -1) {
				referenced[filepath.Dir(p)+"."+m[1]] = true
			}
		}
		return nil
	})
	if len(declared) == 0 || !maps.Equal(declared, referenced) {
		t.Errorf("declared by the gateway:\n%v\nreferenced by protoc-gen-goms:\n%v", slices.Sorted(maps.Keys(declared)), slices.Sorted(maps.Keys(referenced)))
	}
}

// TestKebab checks the command names of mains.
func TestKebab(t *testing.T) {
	for in, want := range map[string]string{
		"EchoService": "echo-service", "HTTPThing": "http-thing", "SnakeCaseService": "snake-case-service",
		"Func": "func", "V2Service": "v2-service", "Foo_2Bar": "foo-2-bar", "XMLHttpAPI": "xml-http-api",
	} {
		if got := kebab(in); got != want {
			t.Errorf("kebab(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMainsWithoutModule checks where mains go without module=: relative
// to the output directory, whatever paths= says.
func TestMainsWithoutModule(t *testing.T) {
	for _, paths := range []string{"paths=import", "paths=source_relative"} {
		resp := Run(newRequest(t, paths+",server_main=cmd,gateway_main=cmd,impl_package=example.com/impl", "mains/mains.proto"))
		if resp.Error != nil {
			t.Fatal(resp.GetError())
		}
		var names []string
		for _, f := range resp.File {
			names = append(names, f.GetName())
		}
		goms := "github.com/goms-io/goms/internal/gen/testdata/mains/mains.goms.go"
		if paths == "paths=source_relative" {
			goms = "mains/mains.goms.go"
		}
		want := []string{goms, "cmd/greeter-service/main.go", "cmd/greeter-service-gateway/main.go", "cmd/internal-service/main.go"}
		if !slices.Equal(names, want) {
			t.Errorf("%s: files %q, want %q", paths, names, want)
		}
	}
}
