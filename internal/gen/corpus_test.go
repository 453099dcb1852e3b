package gen

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/goms-io/goms/internal/protoreq"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// The corpus is the npm package google-proto-files (Google's public API
// protos), installed under .tmp/corpus by scripts/corpus.sh. The corpus
// test generates code for every file outside google/ads, google/cloud
// (thousands of files that would make the test slow without adding shapes)
// and google/protobuf (the well-known types, which stay the real Go
// packages), with all four plugins, and compiles the result.

// corpusModule is the Go module the corpus is generated into.
const corpusModule = "goms.test/corpus"

// corpusSkip lists the top directories of the corpus that are not roots.
var corpusSkip = []string{"google/ads/", "google/cloud/", "google/protobuf/"}

var corpusOnce struct {
	sync.Once
	req      *pluginpb.CodeGeneratorRequest
	services int
	noHTTP   []string // files protoc-gen-grpc-gateway rejects
	err      error
}

// corpusRequest returns the request for the corpus (built once per test
// binary), with every go_package set to a package of corpusModule, its
// number of services, and the files protoc-gen-grpc-gateway rejects.
func corpusRequest(tb testing.TB) (*pluginpb.CodeGeneratorRequest, int, []string) {
	tb.Helper()
	out, err := exec.Command(filepath.Join(repoRoot, "scripts", "corpus.sh")).Output()
	if err != nil {
		if os.Getenv("GOMS_REQUIRE_TOOLS") != "" {
			tb.Fatalf("scripts/corpus.sh: %v", err)
		}
		tb.Skipf("scripts/corpus.sh (needs npm): %v", err)
	}
	root := filepath.Join(repoRoot, strings.TrimSpace(string(out)))
	corpusOnce.Do(func() {
		corpusOnce.req, corpusOnce.services, corpusOnce.noHTTP, corpusOnce.err = buildCorpusRequest(root)
	})
	if corpusOnce.err != nil {
		tb.Fatal(corpusOnce.err)
	}
	return corpusOnce.req, corpusOnce.services, corpusOnce.noHTTP
}

// gatewayRejects reports whether protoc-gen-grpc-gateway refuses f: it
// fails on a client-streaming method bound to a path with parameters.
func gatewayRejects(f *descriptorpb.FileDescriptorProto) bool {
	for _, s := range f.GetService() {
		for _, m := range s.GetMethod() {
			rule, ok := proto.GetExtension(m.GetOptions(), annotations.E_Http).(*annotations.HttpRule)
			if !m.GetClientStreaming() || !ok || rule == nil {
				continue
			}
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				p := r.GetGet() + r.GetPut() + r.GetPost() + r.GetDelete() + r.GetPatch() + r.GetCustom().GetPath()
				if strings.Contains(p, "{") {
					return true
				}
			}
		}
	}
	return false
}

func buildCorpusRequest(root string) (*pluginpb.CodeGeneratorRequest, int, []string, error) {
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "google"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".proto") {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		for _, skip := range corpusSkip {
			if strings.HasPrefix(rel, skip) {
				return nil
			}
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return nil, 0, nil, err
	}
	notFound := protocompile.ResolverFunc(func(string) (protocompile.SearchResult, error) {
		return protocompile.SearchResult{}, fs.ErrNotExist
	})
	compiler := protocompile.Compiler{
		Resolver: protocompile.CompositeResolver{
			// The well-known types as the Go protobuf module knows them.
			protocompile.WithStandardImports(notFound),
			&protocompile.SourceResolver{ImportPaths: []string{root}},
		},
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		return nil, 0, nil, err
	}
	var fds []protoreflect.FileDescriptor
	var noHTTP []string
	services := 0
	for _, fd := range compiled {
		fds = append(fds, fd)
	}
	req, err := protoreq.Request("paths=import,module="+corpusModule, files, fds)
	if err != nil {
		return nil, 0, nil, err
	}
	// Every non-WKT file (dependencies included) goes to a package of the
	// corpus module named after its directory.
	// Dependencies outside the roots (grafeas/) are generated too.
	req.FileToGenerate = nil
	services = 0
	for _, f := range req.ProtoFile {
		if strings.HasPrefix(f.GetName(), "google/protobuf/") {
			continue
		}
		req.FileToGenerate = append(req.FileToGenerate, f.GetName())
		services += len(f.GetService())
		if gatewayRejects(f) {
			noHTTP = append(noHTTP, f.GetName())
		}
		if f.Options == nil {
			f.Options = new(descriptorpb.FileOptions)
		}
		dir := path.Dir(f.GetName())
		f.Options.GoPackage = proto.String(corpusModule + "/" + dir + ";" + cleanName(dir))
	}
	return req, services, noHTTP, nil
}

// pluginBinary builds a plugin into a temporary directory of tb's (not a
// shared one, so that concurrent test runs do not overwrite each other's
// binaries): this repository's own from the main module, the others from
// tools/protoc/go.mod, which pins the versions buf.gen.yaml runs.
func pluginBinary(tb testing.TB, pkg string) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), path.Base(pkg))
	args := []string{"build", "-o", bin, pkg}
	if !strings.HasPrefix(pkg, "github.com/goms-io/goms/") {
		args = append([]string{"build", "-modfile=tools/protoc/go.mod"}, args[1:]...)
	}
	build := exec.Command("go", args...)
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// runPlugin runs a plugin binary on a serialized request.
func runPlugin(tb testing.TB, bin string, req []byte) *pluginpb.CodeGeneratorResponse {
	tb.Helper()
	resp, _ := runPluginCPU(tb, bin, req)
	return resp
}

// runPluginCPU runs a plugin binary on a serialized request and returns
// its response and the CPU time (user and system) the plugin's process
// used. Under a benchmark, the timer stops while the response is decoded:
// that is the caller's work (protoc's or buf's), not the plugin's, and it
// grows with the response's size.
func runPluginCPU(tb testing.TB, bin string, req []byte) (*pluginpb.CodeGeneratorResponse, time.Duration) {
	tb.Helper()
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s: %v\n%s", filepath.Base(bin), err, stderr.String())
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if b, ok := tb.(*testing.B); ok {
		b.StopTimer()
		defer b.StartTimer()
	}
	resp := new(pluginpb.CodeGeneratorResponse)
	if err := proto.Unmarshal(stdout.Bytes(), resp); err != nil {
		tb.Fatalf("%s: %v", filepath.Base(bin), err)
	}
	if resp.Error != nil {
		tb.Fatalf("%s: %s", filepath.Base(bin), resp.GetError())
	}
	return resp, cpu
}

// TestCorpus generates the corpus with protoc-gen-go, protoc-gen-go-grpc,
// protoc-gen-grpc-gateway and protoc-gen-goms, and compiles all of it in a
// temporary module of its own (so that concurrent test runs do not clobber
// each other's; kept and logged when the test fails) that uses this
// repository through a replace directive.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and compiles hundreds of packages; skipped with -short")
	}
	req, services, noHTTP := corpusRequest(t)
	// The files the gateway rejects go without HTTP routes: a request for
	// the gateway (and protoc-gen-goms) without them, and one with only
	// them for protoc-gen-goms with http=false.
	withHTTP := proto.CloneOf(req)
	withHTTP.FileToGenerate = slices.DeleteFunc(slices.Clone(req.FileToGenerate), func(f string) bool { return slices.Contains(noHTTP, f) })
	withoutHTTP := proto.CloneOf(req)
	withoutHTTP.FileToGenerate = noHTTP
	modDir, err := os.MkdirTemp("", "goms-corpus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the generated corpus module is kept in %s", modDir)
			return
		}
		os.RemoveAll(modDir)
	})
	written := make(map[string]int)
	// Register<Svc>HandlerClient functions the gateway declares, and those
	// protoc-gen-goms refers to: they must be the same set.
	declared, referenced := make(map[string]bool), make(map[string]bool)
	write := func(plugin string, resp *pluginpb.CodeGeneratorResponse) {
		for _, f := range resp.File {
			for _, m := range handlerClientDecl.FindAllStringSubmatch(f.GetContent(), -1) {
				declared[path.Dir(f.GetName())+"."+m[1]] = true
			}
			for _, m := range handlerClientRef.FindAllStringSubmatch(f.GetContent(), -1) {
				referenced[path.Dir(f.GetName())+"."+m[1]] = true
			}
			p := filepath.Join(modDir, filepath.FromSlash(f.GetName()))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(f.GetContent()), 0o644); err != nil {
				t.Fatal(err)
			}
			written[plugin]++
		}
	}
	for _, run := range []struct {
		plugin, pkg string
		req         *pluginpb.CodeGeneratorRequest
	}{
		{"go", "google.golang.org/protobuf/cmd/protoc-gen-go", req},
		{"go-grpc", "google.golang.org/grpc/cmd/protoc-gen-go-grpc", req},
		{"grpc-gateway", "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway", withHTTP},
	} {
		data, err := proto.Marshal(run.req)
		if err != nil {
			t.Fatal(err)
		}
		write(run.plugin, runPlugin(t, pluginBinary(t, run.pkg), data))
	}
	for _, run := range []struct {
		req   *pluginpb.CodeGeneratorRequest
		extra string
	}{{withHTTP, ""}, {withoutHTTP, ",http=false"}} {
		run.req.Parameter = proto.String(req.GetParameter() + run.extra)
		resp := Run(run.req)
		if resp.Error != nil {
			t.Fatalf("protoc-gen-goms: %s", resp.GetError())
		}
		write("goms", resp)
	}
	if !maps.Equal(declared, referenced) {
		t.Errorf("protoc-gen-goms refers to other gateway functions than protoc-gen-grpc-gateway declares:\ndeclared   %v\nreferenced %v", slices.Sorted(maps.Keys(declared)), slices.Sorted(maps.Keys(referenced)))
	}
	writeCorpusModule(t, modDir)
	start := time.Now()
	// -trimpath keeps the module's temporary directory out of the build
	// cache's keys, so an unchanged corpus compiles from the cache.
	build := exec.Command("go", "build", "-trimpath", "./...")
	build.Dir = modDir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./... in %s: %v\n%s", modDir, err, out)
	}
	t.Logf("corpus: %d files, %d services (%d files without HTTP: the gateway rejects them); generated files per plugin %v; compiled in %s",
		len(req.FileToGenerate), services, len(noHTTP), written, time.Since(start).Round(time.Millisecond))
}

var (
	handlerClientDecl = regexp.MustCompile(`(?m)^func (Register\w+Client)\(ctx context.Context, mux \*runtime.ServeMux`)
	handlerClientRef  = regexp.MustCompile(`goms\.Gateway\((Register\w+Client), `)
)

// writeCorpusModule writes go.mod and go.sum for the corpus module: the
// main module's requirements, plus this repository by a replace directive.
func writeCorpusModule(t *testing.T, modDir string) {
	t.Helper()
	root, _ := filepath.Abs(repoRoot)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "module %s\n\ngo 1.26.0\n\nrequire github.com/goms-io/goms v0.0.0\n\nreplace github.com/goms-io/goms => %s\n", corpusModule, root)
	// Keep the require blocks, drop module, go and tool lines.
	inRequire := false
	for line := range strings.Lines(string(gomod)) {
		switch {
		case strings.HasPrefix(line, "require ("):
			inRequire = true
			b.WriteString("\n" + line)
		case inRequire:
			b.WriteString(line)
			if strings.TrimSpace(line) == ")" {
				inRequire = false
			}
		}
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(modDir, "go.mod"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(modDir, "go.sum"), gosum, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkGenerate times protoc-gen-goms beside protoc-gen-go-grpc on the
// same corpus request, both as binaries run end to end (read the request,
// generate, write the response), as protoc and buf run them. The goal is
// for protoc-gen-goms to be no slower. Besides the time, cpu-ns/op is the
// CPU time (user and system) of the plugin's process, which a shared
// machine's load moves less than the time. The in-process sub-benchmark
// times Run alone. With GOMS_CORPUS_REQUEST_OUT set to a file name, the
// benchmark also writes the request there, for running a plugin on it by
// hand (under callgrind, say).
//
//	go test -run '^$' -bench Generate -benchtime 10x ./internal/gen/
func BenchmarkGenerate(b *testing.B) {
	req, _, _ := corpusRequest(b)
	data, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	if out := os.Getenv("GOMS_CORPUS_REQUEST_OUT"); out != "" {
		if err := os.WriteFile(out, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, bench := range []struct{ name, pkg string }{
		{"protoc-gen-goms", "github.com/goms-io/goms/cmd/protoc-gen-goms"},
		{"protoc-gen-go-grpc", "google.golang.org/grpc/cmd/protoc-gen-go-grpc"},
	} {
		bin := pluginBinary(b, bench.pkg)
		b.Run(bench.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var cpu time.Duration
			for b.Loop() {
				_, c := runPluginCPU(b, bin, data)
				cpu += c
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
	b.Run("Run-in-process", func(b *testing.B) {
		for b.Loop() {
			if resp := Run(req); resp.Error != nil {
				b.Fatal(resp.GetError())
			}
		}
	})
}
