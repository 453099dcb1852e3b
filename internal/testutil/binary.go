package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binaries holds the programs Binary builds for this test binary.
var binaries struct {
	mu sync.Mutex
	// dir is the temporary directory holding them, "" until the first
	// build; Main removes it.
	dir string
	// byPkg maps a main package's absolute directory to its build.
	byPkg map[string]*binary
}

// binary is one program, built once.
type binary struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the program built from the main package in
// dir (relative to the test's directory), with -race when the tests run
// with the race detector; the file is named after dir, as go build names
// it, in a directory of its own. The first call for a dir builds the
// program, so a test binary whose selected tests run none builds none;
// later calls, from parallel tests too, wait for that build and share its
// result. A failed build fails t, with the go command's output. Use Main as
// TestMain to remove the programs after the tests.
func Binary(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	binaries.mu.Lock()
	b := binaries.byPkg[abs]
	if b == nil {
		if binaries.byPkg == nil {
			binaries.byPkg = make(map[string]*binary)
		}
		b = new(binary)
		binaries.byPkg[abs] = b
	}
	binaries.mu.Unlock()
	b.once.Do(func() { b.path, b.err = build(abs) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// build builds the main package in the absolute directory pkg into a new
// directory under binaries.dir.
func build(pkg string) (string, error) {
	binaries.mu.Lock()
	if binaries.dir == "" {
		dir, err := os.MkdirTemp("", "goms-test-bin-")
		if err != nil {
			binaries.mu.Unlock()
			return "", err
		}
		binaries.dir = dir
	}
	// A directory per program: two packages may share a base name, and a
	// test may put a program's directory on PATH.
	out, err := os.MkdirTemp(binaries.dir, "")
	binaries.mu.Unlock()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(out, filepath.Base(pkg))
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if msg, err := exec.Command("go", append(args, pkg)...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return bin, nil
}

// Main serves as TestMain for tests that use Binary: it runs m's tests,
// removes the programs Binary built and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	binaries.mu.Lock()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	binaries.mu.Unlock()
	os.Exit(code)
}
