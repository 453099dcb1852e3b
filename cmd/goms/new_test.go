package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
