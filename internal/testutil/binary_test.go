package testutil

import (
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBinary checks that Binary builds a program once, on first use, for
// concurrent callers too, and names it after its directory.
func TestBinary(t *testing.T) {
	paths := make([]string, 4)
	t.Run("callers", func(t *testing.T) {
		for i := range paths {
			t.Run("", func(t *testing.T) {
				t.Parallel()
				paths[i] = Binary(t, "testdata/exitcode")
			})
		}
	})
	for _, p := range paths[1:] {
		if p != paths[0] {
			t.Fatalf("Binary returned %q and %q for the same package", paths[0], p)
		}
	}
	if filepath.Base(paths[0]) != "exitcode" {
		t.Errorf("program %s, want it named exitcode", paths[0])
	}
	var exit *exec.ExitError
	if err := exec.Command(paths[0]).Run(); !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("running the program: %v, want exit status 3", err)
	}
}
