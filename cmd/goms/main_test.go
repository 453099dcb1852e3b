package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata holds the generator's golden cases.
const testdata = "../../internal/gen/testdata"

// TestSkeletonWritesOnce checks that goms skeleton writes the skeleton of
// each service, equal to the committed golden, and never overwrites a
// file on later runs.
func TestSkeletonWritesOnce(t *testing.T) {
	out := t.TempDir()
	args := []string{"skeleton", "-I", testdata, "-impl_package", "github.com/goms-io/goms/internal/gen/testdata/mains/impl", "-out", out, "mains/mains.proto"}
	var stdout, stderr strings.Builder
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := "wrote " + filepath.Join(out, "greeter_service.go") + "\nwrote " + filepath.Join(out, "internal_service.go") + "\n"
	if stdout.String() != want {
		t.Errorf("first run printed:\n%s\nwant:\n%s", stdout.String(), want)
	}
	for _, name := range []string{"greeter_service.go", "internal_service.go"} {
		got, _ := os.ReadFile(filepath.Join(out, name))
		golden, _ := os.ReadFile(filepath.Join(testdata, "mains", "impl", name))
		if string(got) != string(golden) || len(got) == 0 {
			t.Errorf("%s differs from internal/gen/testdata/mains/impl/%s", name, name)
		}
	}

	// The user edits a file; a second run keeps it and writes only what
	// is missing.
	edited := filepath.Join(out, "greeter_service.go")
	os.WriteFile(edited, []byte("package impl // mine\n"), 0o644)
	os.Remove(filepath.Join(out, "internal_service.go"))
	stdout.Reset()
	// A file named as on disk works too, as with protoc.
	args[len(args)-1] = filepath.Join(testdata, "mains", "mains.proto")
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want = "kept " + edited + " (exists)\nwrote " + filepath.Join(out, "internal_service.go") + "\n"
	if stdout.String() != want {
		t.Errorf("second run printed:\n%s\nwant:\n%s", stdout.String(), want)
	}
	if got, _ := os.ReadFile(edited); string(got) != "package impl // mine\n" {
		t.Errorf("goms skeleton overwrote an existing file:\n%s", got)
	}
}

// TestErrors checks the exact messages of usage and generation errors.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"skeleton", "-I", testdata, "mains/mains.proto"}, 2,
			"goms skeleton: -out, -impl_package and at least one .proto file are required (see goms skeleton -help)\n"},
		{[]string{"skeleton", "-I", testdata, "-out", t.TempDir(), "-impl_package", "github.com/goms-io/goms/internal/gen/testdata/mains", "mains/mains.proto"}, 1,
			`goms skeleton: mains/mains.proto: service goms.testdata.mains.GreeterService: parameter impl_package: "github.com/goms-io/goms/internal/gen/testdata/mains" is the service's generated package; give the implementation a package of its own` + "\n"},
		{[]string{"skeleton", "-I", testdata, "-out", t.TempDir(), "-impl_package", "x.test/impl", "missing.proto"}, 1,
			"goms skeleton: open ../../internal/gen/testdata/missing.proto: no such file or directory\n"},
	} {
		var stdout, stderr strings.Builder
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || stderr.String() != tc.want {
			t.Errorf("%q: exit %d, stderr %q; want exit %d, %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
	var stdout, stderr strings.Builder
	if code := run(nil, &stdout, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), "usage:\n  goms new") {
		t.Errorf("no arguments: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"skeleton", "-help"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stderr.String(), "usage: goms skeleton") {
		t.Errorf("skeleton -help: exit %d, %q", code, stderr.String())
	}
}
