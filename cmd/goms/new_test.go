package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms/internal/testutil"
)

// repoRoot is the GoMs checkout the tests' projects use (goms new -goms).
const repoRoot = "../.."

// TestNewErrors checks goms new's usage errors and its refusal of a
// non-empty directory, with their exit statuses and exact messages.
func TestNewErrors(t *testing.T) {
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"new"}, 2, "goms new: want a module path and at most one directory (see goms new -help)\n"},
		{[]string{"new", "example.com/x", "a", "b"}, 2, "goms new: want a module path and at most one directory (see goms new -help)\n"},
		{[]string{"new", "example.com/my app"}, 2,
			`goms new: invalid module path "example.com/my app": element "my app" has the character ' '; use ASCII letters, digits and - . _ ~` + "\n"},
		{[]string{"new", "-goms", repoRoot, "example.com/x", full}, 1, "goms new: " + full + " exists and is not empty\n"},
		// Flags may follow the arguments.
		{[]string{"new", "example.com/x", full, "-goms", repoRoot}, 1, "goms new: " + full + " exists and is not empty\n"},
	} {
		var stdout, stderr strings.Builder
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || stderr.String() != tc.want {
			t.Errorf("%q: exit %d, stderr %q; want exit %d, %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(full, "keep.txt")); string(b) != "mine" {
		t.Errorf("goms new changed a file of a non-empty directory")
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"new", "-help"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stderr.String(), "usage: goms new [-goms PATH] MODULE [DIR]") {
		t.Errorf("new -help: exit %d, %q", code, stderr.String())
	}
}

// newProject runs goms new -goms <this checkout> example.com/acme/hello
// in a temporary directory and returns the project's directory.
func newProject(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "hello")
	start := time.Now()
	var stdout, stderr strings.Builder
	if code := run([]string{"new", "-goms", root, "example.com/acme/hello", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("goms new: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("goms new took %.1fs:\n%s", time.Since(start).Seconds(), stdout.String())
	return dir
}

// inDir runs name args in dir and returns its combined output; it fails t
// if the command fails.
func inDir(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s took %.1fs", name, strings.Join(args, " "), time.Since(start).Seconds())
	return string(out)
}

// TestNewEndToEnd takes an empty directory to a running service, as a
// user would: goms new, make test, then the binary serving curl's and
// grpcurl's calls.
func TestNewEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("writes, tests, builds and runs a new project")
	}
	start := time.Now()
	dir := newProject(t)
	if _, err := exec.LookPath("make"); err == nil {
		inDir(t, dir, "make", "test")
	} else {
		t.Log("make not found: running what make test runs")
		inDir(t, dir, "go", "vet", "./...")
		inDir(t, dir, "go", "test", "./...")
	}
	bin := filepath.Join(t.TempDir(), "hello")
	inDir(t, dir, "go", "build", "-o", bin, "./cmd/hello")
	p := testutil.StartProcess(t, bin, nil, "gateway")
	defer p.Kill()

	for path, want := range map[string]string{
		"/v1/hello/world":                "{\"message\":\"Hello, world!\"}",
		"/v1/hello/world/stream?count=2": "{\"result\":{\"message\":\"Hello, world! (1/2)\"}}\n{\"result\":{\"message\":\"Hello, world! (2/2)\"}}\n",
	} {
		code, body := testutil.Get(t, "http://"+p.HTTPAddr+path)
		if code != 200 || testutil.CompactJSON(body) != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, code, body, want)
		}
	}
	out := inDir(t, dir, "go", "tool", "-modfile=tools/go.mod", "grpcurl", "-plaintext", "-d", `{"name":"world"}`, p.GRPCAddr, "hello.v1.GreeterService/SayHello")
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(out)); err != nil || compact.String() != `{"message":"Hello, world!"}` {
		t.Errorf("grpcurl SayHello: %q (%v)", out, err)
	}

	// The calls the project's README and GoMs's README show, word for
	// word but for the addresses.
	projectReadme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	gomsReadme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(gomsReadme), "\n### A new project: `goms new`\n")
	section, _, _ = strings.Cut(section, "\n### ")
	calls := append(readmeCalls(string(projectReadme)), readmeCalls(section)...)
	if len(calls) < 6 {
		t.Fatalf("found %d curl and grpcurl calls in the READMEs: %q", len(calls), calls)
	}
	_, noCurl := exec.LookPath("curl")
	for _, call := range calls {
		if strings.HasPrefix(call, "curl ") && noCurl != nil {
			t.Logf("curl not found: skipping %s", call)
			continue
		}
		cmdline := strings.NewReplacer("127.0.0.1:8080", p.HTTPAddr, "127.0.0.1:42001", p.GRPCAddr).Replace(call)
		if c, ok := strings.CutPrefix(cmdline, "curl "); ok {
			cmdline = "curl -sS " + c
		}
		out := inDir(t, dir, "bash", "-c", cmdline)
		if strings.HasSuffix(call, " list") {
			if !strings.Contains(out, "hello.v1.GreeterService\n") {
				t.Errorf("%s lacks the service:\n%s", call, out)
			}
			continue
		}
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			if err := dec.Decode(new(any)); err != nil {
				t.Errorf("%s: the output is not JSON (%v):\n%s", call, err, out)
				break
			}
		}
		if !strings.Contains(out, "Hello, world!") {
			t.Errorf("%s: no greeting:\n%s", call, out)
		}
	}
	if err := p.Stop(); err != nil {
		t.Errorf("stop: %v\n%s", err, p.Out)
	}
	t.Logf("the whole test took %.1fs", time.Since(start).Seconds())
}

// TestNewMatchesBuf checks that goms new's first generation and goms
// add's, which run without buf, write gen/ exactly as make generate (buf
// generate) does, and that the starter proto and the added ones pass buf
// lint (make lint).
func TestNewMatchesBuf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs buf, which takes minutes to build on a cold cache")
	}
	dir := newProject(t)
	// A second service, in a package of its own, and a third in the
	// starter's package: goms add regenerates gen/ as goms new does.
	for _, name := range []string{"audit", "hello.v1.BillingService"} {
		var stdout, stderr strings.Builder
		if code := run([]string{"add", "-dir", dir, name}, &stdout, &stderr); code != 0 {
			t.Fatalf("goms add %s: exit %d\n%s%s", name, code, stdout.String(), stderr.String())
		}
	}
	first := readTree(t, filepath.Join(dir, "gen"))
	if len(first) == 0 {
		t.Fatal("goms new generated nothing")
	}
	for _, name := range []string{"audit/v1/audit.goms.go", "hello/v1/billing.goms.go", "hello/v1/hello.goms.go"} {
		if _, ok := first[name]; !ok {
			t.Errorf("no gen/%s", name)
		}
	}
	inDir(t, dir, "go", "vet", "./...")
	inDir(t, dir, "go", "tool", "-modfile=tools/buf/go.mod", "buf", "lint")
	inDir(t, dir, "go", "tool", "-modfile=tools/buf/go.mod", "buf", "generate")
	second := readTree(t, filepath.Join(dir, "gen"))
	for name, content := range first {
		if got, ok := second[name]; !ok {
			t.Errorf("buf generate did not write gen/%s", name)
		} else if got != content {
			t.Errorf("gen/%s differs between goms new and buf generate", name)
		}
	}
	for name := range second {
		if _, ok := first[name]; !ok {
			t.Errorf("buf generate wrote gen/%s, which goms new did not", name)
		}
	}
}

// readmeCalls returns the lines of a README that call the service: curl,
// or grpcurl run from tools/go.mod.
func readmeCalls(readme string) []string {
	var calls []string
	for line := range strings.Lines(readme) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "curl ") || strings.HasPrefix(line, "go tool -modfile=tools/go.mod grpcurl ") {
			calls = append(calls, line)
		}
	}
	return calls
}

// readTree returns the files under dir by slash-separated relative path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
