package gen

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
	_ "google.golang.org/genproto/googleapis/api/annotations" // google/api/*.proto for the resolver
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// repoRoot is the repository root as seen from this package's directory.
const repoRoot = "../.."

// testdataDir holds one directory per golden case; it is also the buf
// module the cases' import paths are relative to.
var testdataDir = filepath.Join(repoRoot, "testdata")

// newRequest compiles files (relative to testdata/) in-process, with
// comments, and returns the CodeGeneratorRequest protoc or buf would send.
func newRequest(t *testing.T, parameter string, files ...string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{ImportPaths: []string{testdataDir}},
			protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
				fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
				return protocompile.SearchResult{Desc: fd}, err
			}),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		t.Fatalf("compile %v: %v", files, err)
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files}
	if parameter != "" {
		req.Parameter = proto.String(parameter)
	}
	seen := make(map[string]bool)
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) { // dependencies first, as protoc orders them
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range compiled {
		add(fd)
	}
	// Round-trip through the wire format, as the plugin's main does with
	// what protoc sends: options then decode into the registered Go types.
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	req = new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(data, req); err != nil {
		t.Fatal(err)
	}
	return req
}

// bufGenTemplate is the part of a case's buf.gen.yaml the test reads.
type bufGenTemplate struct {
	Plugins []struct {
		Local []string  `yaml:"local"`
		Opt   yaml.Node `yaml:"opt"`
	} `yaml:"plugins"`
}

// caseParameter returns the parameter buf passes to protoc-gen-goms for the
// case, from the case's buf.gen.yaml.
func caseParameter(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "buf.gen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl bufGenTemplate
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		t.Fatalf("%s/buf.gen.yaml: %v", dir, err)
	}
	for _, p := range tmpl.Plugins {
		if !slices.Contains(p.Local, "protoc-gen-goms") {
			continue
		}
		var opts []string
		if p.Opt.Kind == yaml.ScalarNode {
			opts = []string{p.Opt.Value}
		} else if err := p.Opt.Decode(&opts); err != nil {
			t.Fatalf("%s/buf.gen.yaml: opt: %v", dir, err)
		}
		return strings.Join(opts, ",")
	}
	t.Fatalf("%s/buf.gen.yaml has no protoc-gen-goms plugin", dir)
	return ""
}

// TestGolden runs the generator in-process on every case under testdata/
// with the parameters of the case's buf.gen.yaml, and compares the output
// with the committed files that buf generate wrote. The committed files are
// also compiled (see compile_test.go) and served by the runtime's tests.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(testdataDir, "*", "buf.gen.yaml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases under %s (%v)", testdataDir, err)
	}
	for _, tmpl := range cases {
		dir := filepath.Dir(tmpl)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			protos, _ := filepath.Glob(filepath.Join(dir, "*.proto"))
			var files []string
			for _, p := range protos {
				rel, _ := filepath.Rel(testdataDir, p)
				files = append(files, filepath.ToSlash(rel))
			}
			resp := Run(newRequest(t, caseParameter(t, dir), files...))
			if resp.Error != nil {
				t.Fatalf("generator error: %s", resp.GetError())
			}
			got := make(map[string]string)
			for _, f := range resp.File {
				got[f.GetName()] = f.GetContent()
			}
			committed, _ := filepath.Glob(filepath.Join(dir, "*.goms.go"))
			want := make(map[string]string)
			for _, p := range committed {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				rel, _ := filepath.Rel(repoRoot, p)
				want[filepath.ToSlash(rel)] = string(data)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("generated code differs from the committed golden files (-committed +generated):\n%s\nIf the change is intended, run: make generate", diff)
			}
		})
	}
}

// TestNoServicesNoFiles checks that a file without services yields no file.
func TestNoServicesNoFiles(t *testing.T) {
	resp := Run(newRequest(t, "module=github.com/goms-io/goms", "noservice/noservice.proto"))
	if resp.Error != nil || len(resp.File) != 0 {
		t.Fatalf("got error %q and %d files, want no error and no files", resp.GetError(), len(resp.File))
	}
}

// TestParameterErrors checks the exact text users see for bad parameters.
func TestParameterErrors(t *testing.T) {
	const accepted = "accepted parameters: http=true|false, paths=import|source_relative, module=<import path prefix>, M<proto file>=<import path>, annotate_code"
	for _, tc := range []struct {
		parameter, want string
	}{
		{"htp=false", `unknown parameter "htp"; ` + accepted},
		{"http=maybe", `parameter http: invalid value "maybe"; want true or false`},
		{"module=github.com/goms-io/goms,http=1,bogus", `unknown parameter "bogus"; ` + accepted},
		{"paths=nowhere", `unknown path type "nowhere": want "import" or "source_relative"`},
	} {
		t.Run(tc.parameter, func(t *testing.T) {
			resp := Run(newRequest(t, tc.parameter, "echo/echo.proto"))
			if got := resp.GetError(); got != tc.want {
				t.Errorf("error = %q\nwant    %q", got, tc.want)
			}
			if len(resp.File) != 0 {
				t.Errorf("got %d files with an error, want none", len(resp.File))
			}
		})
	}
}

// TestParameterValues checks that accepted spellings take effect.
func TestParameterValues(t *testing.T) {
	for _, tc := range []struct {
		parameter string
		gateway   bool
	}{
		{"", true}, {"http", true}, {"http=true", true}, {"http=false", false}, {"http=0", false},
	} {
		resp := Run(newRequest(t, tc.parameter, "echo/echo.proto"))
		if resp.Error != nil || len(resp.File) != 1 {
			t.Fatalf("%q: error %q, %d files", tc.parameter, resp.GetError(), len(resp.File))
		}
		if got := strings.Contains(resp.File[0].GetContent(), "Gateway:"); got != tc.gateway {
			t.Errorf("%q: gateway registration emitted = %v, want %v", tc.parameter, got, tc.gateway)
		}
	}
}

// TestDeterministic checks that the same request gives byte-identical output.
func TestDeterministic(t *testing.T) {
	req := newRequest(t, "", "echo/echo.proto", "nohttp/nohttp.proto")
	first := Run(req)
	for range 5 {
		if again := Run(req); !proto.Equal(first, again) {
			t.Fatal("two runs on the same request differ")
		}
	}
}

// TestEditionsDeclared checks the features and editions the plugin
// declares, which protoc and buf check before sending editions files.
func TestEditionsDeclared(t *testing.T) {
	resp := Run(newRequest(t, "", "echo/echo.proto"))
	if resp.GetSupportedFeatures()&uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL) == 0 ||
		resp.GetSupportedFeatures()&uint64(pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS) == 0 {
		t.Errorf("supported features = %b", resp.GetSupportedFeatures())
	}
	if resp.GetMaximumEdition() != int32(descriptorpb.Edition_EDITION_2023) {
		t.Errorf("maximum edition = %d", resp.GetMaximumEdition())
	}
}
