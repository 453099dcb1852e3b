package main

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms/internal/testutil"
)

// TestREADMERecipe runs the README's manual recipe (from "### 1. Add the
// module" to the end of "### 3. Write main") word for word in a new module
// outside the repository, as a user would in their own: every shell
// block, line by line, and every file the blocks show. The only change is
// GOMS, which names this checkout. buf is the one the recipe pins in
// tools/buf (its first build takes minutes on a cold build cache).
//
// Blocks are recognized by what they hold: a first line naming a file
// ("// proto/greeter/v1/greeter.proto", "# buf.yaml") writes it; the
// protoc-gen-goms entry of buf.gen.yaml replaces that entry; //go:generate
// lines are run by go generate from a file in the module's root; a Go
// signature must be in the skeleton; other blocks are shell. In shell
// blocks, "go run ./cmd/<main> <flags>" builds the main and starts it on
// free ports (the README's addresses are mapped to the real ones in later
// lines), and curl is run with -sS.
func TestREADMERecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's recipe: tools, buf, go mod tidy, builds; skipped with -short")
	}
	start := time.Now()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### 1. Add the module and the plugins\n")
	section, _, ok2 := strings.Cut(section, "\n## ")
	if !ok || !ok2 {
		t.Fatal(`README.md lacks the recipe: "### 1. Add the module and the plugins" up to the next "## "`)
	}
	blocks := fencedBlocks(section)
	checkout, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	r := &recipe{t: t, dir: filepath.Join(t.TempDir(), "you"), bin: t.TempDir(), addrs: make(map[string]string),
		env: []string{"GOMS=" + checkout, "GOWORK=off", "GOFLAGS=-buildvcs=false"}}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.run("go mod init example.com/you") // the user's module, which exists already

	var ran []string
	for _, b := range blocks {
		first, _, _ := strings.Cut(b.text, "\n")
		switch {
		case b.lang == "sh":
			r.shell(b.text)
		case fileComment.MatchString(first):
			name := fileComment.FindStringSubmatch(first)[1]
			r.write(name, b.text)
		case b.lang == "yaml" && strings.HasPrefix(first, "  - local: [go, tool, -modfile=tools/go.mod, protoc-gen-goms]"):
			r.spliceGomsPlugin(b.text)
		case b.lang == "go" && strings.HasPrefix(first, "//go:generate "):
			r.goGenerate(b.text)
		case b.lang == "go" && strings.HasPrefix(first, "func "):
			r.inSkeleton(strings.TrimSpace(b.text))
		default:
			t.Fatalf("README recipe: a %s block this test does not know how to run:\n%s", b.lang, b.text)
		}
		ran = append(ran, b.lang+": "+first)
	}
	t.Logf("ran the recipe's %d blocks in %.1fs:\n%s", len(blocks), time.Since(start).Seconds(), strings.Join(ran, "\n"))

	// What the recipe promises besides: a module that builds, a proto
	// that passes the lint rules of its buf.yaml, and a go.mod without
	// tools.
	r.run("go build ./... && go vet ./...")
	r.run("go tool -modfile=tools/buf/go.mod buf lint")
	gomod := r.read("go.mod")
	for _, bad := range []string{"bufbuild", "\ntool ", "protoc-gen"} {
		if strings.Contains(gomod, bad) {
			t.Errorf("the recipe put %q in the module's go.mod (tools belong in tools/):\n%s", strings.TrimSpace(bad), gomod)
		}
	}
	if !strings.Contains(gomod, "google.golang.org/protobuf v1.36.12\n") {
		t.Errorf("go.mod does not require google.golang.org/protobuf v1.36.12, the version protoc-gen-go is pinned at:\n%s", gomod)
	}
	if !strings.Contains(r.read("gen/greeter/v1/greeter.pb.go"), "// \tprotoc-gen-go v1.36.12\n") {
		t.Error("gen/greeter/v1/greeter.pb.go was not written by protoc-gen-go v1.36.12")
	}
	if len(r.procs) < 5 {
		t.Errorf("the recipe started %d processes, want the server main in three modes, the gateway main and cmd/greeter", len(r.procs))
	}
	for _, p := range r.procs {
		if p.HTTPAddr == "" {
			continue
		}
		code, body := testutil.Get(t, "http://"+p.HTTPAddr+"/v1/hello/world")
		if code != 501 || !strings.Contains(body, "method SayHello not implemented") {
			t.Errorf("%s: GET /v1/hello/world: %d %s, want 501 from the skeleton", p.Cmd.Args, code, body)
		}
	}
	for _, p := range r.procs {
		if err := p.Stop(); err != nil {
			t.Errorf("%s: %v\n%s", p.Cmd.Args, err, p.Out)
		}
	}
	t.Logf("the whole test took %.1fs", time.Since(start).Seconds())
}

// fileComment is the first line of a block that shows a whole file: a
// comment naming it.
var fileComment = regexp.MustCompile(`^(?://|#) ((?:[\w.-]+/)*[\w.-]+\.(?:proto|yaml|go))$`)

type block struct{ lang, text string }

// fencedBlocks returns the fenced code blocks of markdown, in order.
func fencedBlocks(markdown string) []block {
	var blocks []block
	var cur *block
	for line := range strings.Lines(markdown) {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line
		}
	}
	return blocks
}

type recipe struct {
	t     *testing.T
	dir   string   // the user's module
	bin   string   // where started mains are built
	env   []string // added to the test's environment
	addrs map[string]string
	procs []*testutil.Process
}

// run runs a shell command line in the module, failing the test if it
// fails, and returns its output.
func (r *recipe) run(line string, env ...string) string {
	r.t.Helper()
	start := time.Now()
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = r.dir
	cmd.Env = append(append(os.Environ(), r.env...), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", line, err, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		r.t.Logf("%s took %.1fs", line, d.Seconds())
	}
	return string(out)
}

func (r *recipe) read(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

func (r *recipe) write(name, content string) {
	r.t.Helper()
	path := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// shell runs a shell block line by line (a trailing \ joins lines).
func (r *recipe) shell(text string) {
	r.t.Helper()
	var line string
	for l := range strings.Lines(text) {
		l = strings.TrimRight(l, "\n")
		if strings.HasSuffix(l, `\`) {
			line += strings.TrimSuffix(l, `\`)
			continue
		}
		line += l
		r.shellLine(line)
		line = ""
	}
}

func (r *recipe) shellLine(line string) {
	r.t.Helper()
	code, _, _ := strings.Cut(line, " #")
	fields := strings.Fields(code)
	switch {
	case len(fields) == 0:
	case strings.HasPrefix(fields[0], "GOMS="):
		// The one change: GOMS names this checkout (r.env).
	case len(fields) >= 3 && fields[0] == "go" && fields[1] == "run":
		r.start(fields[2], fields[3:])
	case fields[0] == "curl":
		if _, err := exec.LookPath("curl"); err != nil {
			r.t.Logf("curl not found: skipping %s (the test calls the server itself below)", line)
			return
		}
		out := r.run("curl -sS " + r.mapAddrs(strings.Join(fields[1:], " ")))
		r.t.Logf("%s: %s", line, out)
		if !strings.Contains(out, "method SayHello not implemented") {
			r.t.Errorf("%s: %s, want the skeleton's answer", line, out)
		}
	case fields[0] == "protoc" || strings.Contains(code, " protoc "):
		if _, err := exec.LookPath("protoc"); err != nil {
			if os.Getenv("GOMS_REQUIRE_TOOLS") != "" {
				r.t.Fatal("protoc not found; install it: apt-get install protobuf-compiler")
			}
			r.t.Logf("protoc not found: skipping %s", line)
			return
		}
		before := r.gen()
		r.run(line)
		r.sameAsBefore("protoc", before)
	default:
		r.run(line)
	}
}

// mapAddrs replaces the README's addresses with the ones the started
// processes serve on.
func (r *recipe) mapAddrs(s string) string {
	for readme, real := range r.addrs {
		s = strings.ReplaceAll(s, readme, real)
	}
	return s
}

// start builds a main as go run would and starts it on free ports, with
// the line's other flags; -upstream is mapped to a started process.
func (r *recipe) start(pkg string, args []string) {
	r.t.Helper()
	name := filepath.Base(pkg)
	bin := filepath.Join(r.bin, name)
	r.run("go build -o " + bin + " " + pkg)
	mode := "gateway"
	if strings.HasSuffix(name, "-gateway") {
		mode = "http"
	}
	grpcAddr, httpAddr := "127.0.0.1:42001", "127.0.0.1:8080" // goms.DefaultGRPCAddr, DefaultHTTPAddr
	var rest []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-mode":
			i++
			mode = args[i]
		case "-grpc-addr":
			i++
			grpcAddr = args[i]
		case "-http-addr":
			i++
			httpAddr = args[i]
		default:
			rest = append(rest, r.mapAddrs(args[i]))
		}
	}
	p := testutil.StartProcess(r.t, bin, nil, mode, rest...)
	r.t.Cleanup(p.Kill)
	r.procs = append(r.procs, p)
	if p.GRPCAddr != "" {
		r.addrs[grpcAddr] = p.GRPCAddr
	}
	if p.HTTPAddr != "" {
		r.addrs[httpAddr] = p.HTTPAddr
	}
	r.t.Logf("go run %s %s: serving gRPC %q, HTTP %q", pkg, strings.Join(args, " "), p.GRPCAddr, p.HTTPAddr)
}

// spliceGomsPlugin replaces the protoc-gen-goms entry of buf.gen.yaml,
// its last, with the README's.
func (r *recipe) spliceGomsPlugin(entry string) {
	r.t.Helper()
	tmpl := r.read("buf.gen.yaml")
	first, _, _ := strings.Cut(entry, "\n")
	i := strings.Index(tmpl, first+"\n")
	if i < 0 {
		r.t.Fatalf("buf.gen.yaml has no line %q to replace:\n%s", first, tmpl)
	}
	if rest := tmpl[i+len(first)+1:]; strings.Contains(rest, "  - local:") {
		r.t.Fatalf("the protoc-gen-goms entry is not the last of buf.gen.yaml:\n%s", tmpl)
	}
	r.write("buf.gen.yaml", tmpl[:i]+entry)
}

// goGenerate runs each //go:generate line from a file in the module's
// root, the protoc line with bin/ on PATH as the README says, and checks
// that each writes what buf wrote.
func (r *recipe) goGenerate(text string) {
	r.t.Helper()
	for line := range strings.Lines(text) {
		if strings.Contains(line, "protoc ") {
			if _, err := exec.LookPath("protoc"); err != nil {
				r.t.Logf("protoc not found: skipping %s", line)
				continue
			}
		}
		before := r.gen()
		r.write("generate.go", "package you\n\n"+line)
		r.run("go generate .", "PATH="+filepath.Join(r.dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		r.sameAsBefore(strings.TrimSpace(line), before)
	}
	os.Remove(filepath.Join(r.dir, "generate.go"))
}

// anyCompiler is the header line of every plugin's output that names the
// compiler: protoc's version, or "(unknown)" under buf.
var anyCompiler = regexp.MustCompile(`(?m)^// (?:- |\t)protoc +.*$`)

// gen returns the generated files under gen/, without the compiler's
// version.
func (r *recipe) gen() map[string][]byte {
	r.t.Helper()
	files := make(map[string][]byte)
	filepath.WalkDir(filepath.Join(r.dir, "gen"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(r.dir, p)
			files[filepath.ToSlash(rel)] = anyCompiler.ReplaceAll(b, []byte("// protoc"))
		}
		return err
	})
	if len(files) == 0 {
		r.t.Fatal("nothing generated under gen/ before running protoc")
	}
	return files
}

// sameAsBefore checks that what gen/ holds now matches before, but for
// the compiler's version in the headers.
func (r *recipe) sameAsBefore(what string, before map[string][]byte) {
	r.t.Helper()
	after := r.gen()
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if !bytes.Equal(before[name], after[name]) {
			r.t.Errorf("%s: %s differs from what buf generate wrote", what, name)
		}
	}
	if len(after) != len(before) {
		r.t.Errorf("%s: %d files under gen/, buf generate wrote %d", what, len(after), len(before))
	}
}

// inSkeleton checks that the Go declaration the README shows is the one
// goms skeleton wrote.
func (r *recipe) inSkeleton(decl string) {
	r.t.Helper()
	files, _ := filepath.Glob(filepath.Join(r.dir, "*", "*_service.go"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), "\n"+decl+" {\n") {
			return
		}
	}
	r.t.Errorf("the README shows %q, which goms skeleton did not write (in %v)", decl, files)
}
