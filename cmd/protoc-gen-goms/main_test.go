package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goms-io/goms/internal/testutil"
)

// The tests here run the real plugin binary the three ways users do: from
// protoc, from buf generate and from a //go:generate line. Each compares the
// output with the generator's committed golden files (internal/gen/testdata).

const repoRoot = "../.."

// goldensDir holds the generator's golden cases; it is also the proto
// import path the cases' files are relative to.
var goldensDir = filepath.Join(repoRoot, "internal", "gen", "testdata")

// pluginBin returns the protoc-gen-goms binary, built by the first test
// that needs it (testutil.Binary) and removed by TestMain. It is alone in
// its directory.
func pluginBin(t testing.TB) string { return testutil.Binary(t, ".") }

func TestMain(m *testing.M) { testutil.Main(m) }

// needTool skips a test when an external tool is missing, unless
// GOMS_REQUIRE_TOOLS is set (as .ci/run does), where it fails instead.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GOMS_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not found; install it: %s", name, install)
		}
		t.Skipf("%s not found (install: %s)", name, install)
	}
	return path
}

// googleapis returns the directory holding google/api/*.proto.
func googleapis(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(repoRoot, "scripts", "googleapis.sh")).Output()
	if err != nil {
		t.Fatalf("scripts/googleapis.sh: %v", err)
	}
	abs, err := filepath.Abs(filepath.Join(repoRoot, strings.TrimSpace(string(out))))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func command(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// compareGoldens checks that every golden .goms.go of cases was generated
// under out (which mirrors the repository layout) with identical content.
func compareGoldens(t *testing.T, out string, cases ...string) {
	t.Helper()
	for _, c := range cases {
		goldens, _ := filepath.Glob(filepath.Join(goldensDir, c, "*.goms.go"))
		if len(goldens) == 0 {
			t.Fatalf("no golden files for case %s", c)
		}
		for _, golden := range goldens {
			rel, _ := filepath.Rel(repoRoot, golden)
			want, _ := os.ReadFile(golden)
			got, err := os.ReadFile(filepath.Join(out, rel))
			if err != nil {
				t.Errorf("%s not generated: %v", rel, err)
				continue
			}
			if !bytes.Equal(withoutCompilerVersion(got), withoutCompilerVersion(want)) {
				t.Errorf("%s differs from the golden file; run make generate if the change is intended", rel)
			}
		}
	}
}

// compilerVersion is the header line naming the compiler, which differs
// between protoc (a version) and buf and the goldens ("(unknown)").
var compilerVersion = regexp.MustCompile(`(?m)^// - protoc +.*$`)

func withoutCompilerVersion(b []byte) []byte {
	return compilerVersion.ReplaceAll(b, []byte("// - protoc"))
}

func TestVersion(t *testing.T) {
	out, err := command(t, ".", nil, pluginBin(t), "-version")
	if err != nil || out != "protoc-gen-goms v0.1.0\n" {
		t.Fatalf("-version: %q, %v", out, err)
	}
}

func TestProtoc(t *testing.T) {
	protoc := needTool(t, "protoc", "apt-get install protobuf-compiler")
	out := t.TempDir()
	abs, _ := filepath.Abs(goldensDir)
	msg, err := command(t, ".", nil, protoc,
		"--plugin=protoc-gen-goms="+pluginBin(t),
		"--goms_out="+out, "--goms_opt=module=github.com/goms-io/goms",
		"-I", abs, "-I", googleapis(t),
		"echo/echo.proto", "nohttp/nohttp.proto", "noservice/noservice.proto")
	if err != nil {
		t.Fatalf("protoc: %v\n%s", err, msg)
	}
	compareGoldens(t, out, "echo", "nohttp")
	if _, err := os.Stat(filepath.Join(out, "internal/gen/testdata/noservice")); err == nil {
		t.Error("protoc-gen-goms wrote output for a file without services")
	}
}

// TestProtocImplPackages runs protoc on the golden case implpkg, one
// implementation package per service, with each impl_package entry in a
// --goms_opt of its own (protoc joins them with commas), and compares
// everything written, mains included, with the goldens.
func TestProtocImplPackages(t *testing.T) {
	protoc := needTool(t, "protoc", "apt-get install protobuf-compiler")
	out := t.TempDir()
	abs, _ := filepath.Abs(goldensDir)
	const impl = "github.com/goms-io/goms/internal/gen/testdata/implpkg/impl/"
	msg, err := command(t, ".", nil, protoc,
		"--plugin=protoc-gen-goms="+pluginBin(t), "--goms_out="+out,
		"--goms_opt=module=github.com/goms-io/goms",
		"--goms_opt=server_main=internal/gen/testdata/implpkg/cmd,gateway_main=internal/gen/testdata/implpkg/cmd",
		"--goms_opt=impl_package=goms.testdata.implpkg.audit.v1.AuditService="+impl+"audit",
		"--goms_opt=impl_package=goms.testdata.implpkg.todo.v1.TodoService="+impl+"todo",
		"-I", abs, "-I", googleapis(t), "implpkg/audit/audit.proto", "implpkg/todo/todo.proto")
	if err != nil {
		t.Fatalf("protoc: %v\n%s", err, msg)
	}
	n := 0
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel, _ := filepath.Rel(out, p)
		got, _ := os.ReadFile(p)
		want, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Errorf("protoc wrote %s, which has no golden: %v", rel, err)
		} else if !bytes.Equal(withoutCompilerVersion(got), withoutCompilerVersion(want)) {
			t.Errorf("%s differs from the golden file; run make generate if the change is intended", rel)
		}
		return nil
	})
	if n != 6 { // two .goms.go, two server mains, two gateway mains
		t.Errorf("protoc wrote %d files, want 6", n)
	}
}

// TestProtocBadParameter checks what a user sees from protoc for a typo.
func TestProtocBadParameter(t *testing.T) {
	protoc := needTool(t, "protoc", "apt-get install protobuf-compiler")
	abs, _ := filepath.Abs(goldensDir)
	msg, err := command(t, ".", nil, protoc,
		"--plugin=protoc-gen-goms="+pluginBin(t), "--goms_out="+t.TempDir(), "--goms_opt=htp=false",
		"-I", abs, "-I", googleapis(t), "echo/echo.proto")
	want := `--goms_out: unknown parameter "htp"; accepted parameters: fast_codec=vtproto, gateway_main=<dir>, generate_unbound_methods=true|false, http=true|false, impl_package=<import path>|<service>=<import path>, openapi=true|false, register_func_suffix=<identifier part>, server_main=<dir>, paths=import|source_relative, module=<import path prefix>, M<proto file>=<import path>, annotate_code`
	if err == nil || !strings.Contains(msg, want) {
		t.Fatalf("protoc with a bad parameter: err %v, output:\n%s\nwant it to contain:\n%s", err, msg, want)
	}
}

func TestBufGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("buf's first build takes minutes; skipped with -short")
	}
	out := t.TempDir()
	template := filepath.Join(t.TempDir(), "buf.gen.yaml")
	os.WriteFile(template, []byte(`version: v2
inputs:
  - directory: internal/gen/testdata
    paths: [internal/gen/testdata/echo, internal/gen/testdata/nohttp]
plugins:
  - local: `+pluginBin(t)+`
    out: `+out+`
    opt: module=github.com/goms-io/goms
`), 0o644)
	googleapis(t)
	msg, err := command(t, repoRoot, nil, "go", "tool", "-modfile=tools/buf/go.mod", "buf", "generate", "--template", template)
	if err != nil {
		t.Fatalf("buf generate: %v\n%s", err, msg)
	}
	compareGoldens(t, out, "echo", "nohttp")
}

// TestGoGenerate runs a //go:generate line that calls protoc with the
// plugin found on PATH, as a user's repository would.
func TestGoGenerate(t *testing.T) {
	needTool(t, "protoc", "apt-get install protobuf-compiler")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	abs, _ := filepath.Abs(goldensDir)
	src := fmt.Sprintf(`package gen

//go:generate protoc -I %s -I %s --goms_out=%s --goms_opt=module=github.com/goms-io/goms echo/echo.proto
`, abs, googleapis(t), out)
	os.WriteFile(filepath.Join(dir, "gen.go"), []byte(src), 0o644)
	path := filepath.Dir(pluginBin(t)) + string(os.PathListSeparator) + os.Getenv("PATH")
	msg, err := command(t, dir, []string{"PATH=" + path, "GOFLAGS=", "GO111MODULE=off"}, "go", "generate", "gen.go")
	if err != nil {
		t.Fatalf("go generate: %v\n%s", err, msg)
	}
	compareGoldens(t, out, "echo")
}
