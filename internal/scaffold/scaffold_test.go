package scaffold

import (
	"bytes"
	"context"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goms-io/goms/internal/protoreq"
)

// repoRoot is the GoMs checkout these tests run in.
const repoRoot = "../.."

func TestCheckModulePath(t *testing.T) {
	for _, ok := range []string{"hello", "example.com/acme/hello", "example.com/a.b/c-d_e~f/v2", "gopkg.in/yaml.v3", "GitHub.com/X/Y"} {
		if err := CheckModulePath(ok); err != nil {
			t.Errorf("CheckModulePath(%q): %v", ok, err)
		}
	}
	for path, want := range map[string]string{
		"":                      `invalid module path "": empty`,
		"/example.com/x":        `invalid module path "/example.com/x": it begins or ends with a slash`,
		"example.com/x/":        `invalid module path "example.com/x/": it begins or ends with a slash`,
		"example.com//x":        `invalid module path "example.com//x": empty path element (two slashes)`,
		"example.com/.x":        `invalid module path "example.com/.x": element ".x" begins with a dot`,
		"example.com/x.":        `invalid module path "example.com/x.": element "x." ends with a dot`,
		"example.com/my app":    `invalid module path "example.com/my app": element "my app" has the character ' '; use ASCII letters, digits and - . _ ~`,
		`example.com\acme`:      `invalid module path "example.com\\acme": element "example.com\\acme" has the character '\\'; use ASCII letters, digits and - . _ ~`,
		"example.com/héllo":     `invalid module path "example.com/héllo": element "héllo" has the character 'é'; use ASCII letters, digits and - . _ ~`,
		"example.com/acme/../x": `invalid module path "example.com/acme/../x": element ".." begins with a dot`,
	} {
		err := CheckModulePath(path)
		if err == nil || err.Error() != want {
			t.Errorf("CheckModulePath(%q) = %v, want %s", path, err, want)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	for module, want := range map[string]string{
		"hello":                  "hello",
		"example.com/acme/hello": "hello",
		"example.com/hello/v2":   "hello",
		"example.com/hello/v1":   "v1",
		"example.com/hello/v0":   "v0",
		"example.com/v2":         "example.com",
		"v2":                     "v2",
		"gopkg.in/yaml.v3":       "yaml.v3",
	} {
		if got := DefaultDir(module); got != want {
			t.Errorf("DefaultDir(%q) = %q, want %q", module, got, want)
		}
	}
}

// TestRefuses checks that New writes nothing into a directory that exists
// and is not empty, or over a file, and says why in one line naming it.
func TestRefuses(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "notes.txt")
	os.WriteFile(mine, []byte("mine"), 0o644)
	opts := Options{Module: "example.com/acme/hello", Dir: dir, Goms: repoRoot}
	err := New(context.Background(), opts)
	if want := dir + " exists and is not empty"; err == nil || err.Error() != want {
		t.Errorf("New into a non-empty directory: %v, want %s", err, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("New wrote into a non-empty directory: %d entries", len(entries))
	}
	for _, ok := range []string{t.TempDir(), filepath.Join(dir, "new")} {
		if err := checkEmpty(ok); err != nil {
			t.Errorf("checkEmpty(%s): %v", ok, err)
		}
	}
	opts.Dir = mine
	err = New(context.Background(), opts)
	if want := mine + " exists and is not a directory"; err == nil || err.Error() != want {
		t.Errorf("New over a file: %v, want %s", err, want)
	}
	if b, _ := os.ReadFile(mine); string(b) != "mine" {
		t.Errorf("New changed a file: %q", b)
	}
}

// TestOptionErrors checks the errors of options New cannot work with,
// before it writes anything.
func TestOptionErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Module: "example.com/acme/hello", Dir: dir},
			"this goms is a development build, with no GoMs version for the project to require; give -goms with the directory of a GoMs checkout"},
		{Options{Module: "example.com/acme/hello", Dir: dir, Goms: t.TempDir()},
			"not a GoMs checkout (no go.mod of module github.com/goms-io/goms there)"},
		{Options{Module: "example.com//hello", Dir: dir, Goms: repoRoot},
			`invalid module path "example.com//hello": empty path element (two slashes)`},
	} {
		err := New(context.Background(), tc.opts)
		if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error ending with %q", tc.opts, err, tc.want)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("New(%+v) created %s", tc.opts, dir)
		}
	}
}

// TestRender checks the project's files for a module path with dots,
// dashes and a major version: the go.mod files, the proto (compiled, with
// its go_package), gofmt-clean Go files, buf.gen.yaml and the verbatim
// google/api protos.
func TestRender(t *testing.T) {
	const module = "example.com/a.b/c-d/v2"
	goms, _ := filepath.Abs(repoRoot)
	d, err := newData(Options{Module: module, Goms: repoRoot})
	if err != nil {
		t.Fatal(err)
	}
	files, err := render(d)
	if err != nil {
		t.Fatal(err)
	}
	want := "module example.com/a.b/c-d/v2\n\ngo 1.26.0\n\nrequire github.com/goms-io/goms v0.0.0\n\nreplace github.com/goms-io/goms => " + goms + "\n"
	if got := string(files["go.mod"]); got != want {
		t.Errorf("go.mod:\n%s\nwant:\n%s", got, want)
	}
	for _, name := range []string{"tools/go.mod", "tools/buf/go.mod"} {
		if !bytes.Contains(files[name], []byte("\nmodule example.com/a.b/c-d/v2/"+strings.TrimSuffix(name, "/go.mod")+"\n")) {
			t.Errorf("%s has the wrong module line:\n%s", name, files[name])
		}
	}
	if !bytes.HasSuffix(files["tools/go.mod"], []byte("\nreplace github.com/goms-io/goms => "+goms+"\n")) {
		t.Errorf("tools/go.mod has no replace directive:\n%s", files["tools/go.mod"])
	}
	for _, name := range []string{"cmd/c-d/main.go", "greeter/greeter.go", "greeter/greeter_test.go"} {
		src, ok := files[name]
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		want := `hellov1 "example.com/a.b/c-d/v2/gen/hello/v1"`
		if name == "cmd/c-d/main.go" {
			// The main registers every service with services.Register.
			want = `"example.com/a.b/c-d/v2/services"`
		}
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("%s does not import %s", name, want)
		}
		if formatted, err := format.Source(src); err != nil || !bytes.Equal(formatted, src) {
			t.Errorf("%s is not gofmt-clean (%v):\n%s", name, err, src)
		}
	}
	if !bytes.Contains(files["Makefile"], []byte("go run ./cmd/c-d $(ARGS)")) {
		t.Errorf("Makefile does not run cmd/c-d:\n%s", files["Makefile"])
	}
	for _, p := range plugins {
		if !bytes.Contains(files["buf.gen.yaml"], []byte("  - local: [go, tool, -modfile=tools/go.mod, "+p.Name+"]\n    out: "+p.Out+"\n")) {
			t.Errorf("buf.gen.yaml lacks %s:\n%s", p.Name, files["buf.gen.yaml"])
		}
	}

	// The binary of the Dockerfile is cmd/c-d's; the image and the
	// Kubernetes objects are named c-d. (test/scaffold decodes the
	// manifests and checks them against GoMs's defaults.)
	if !bytes.Contains(files["Dockerfile"], []byte(" -o /out/c-d ./cmd/c-d\n")) ||
		!bytes.Contains(files["Dockerfile"], []byte(`ENTRYPOINT ["/c-d", "-grpc-addr", "0.0.0.0:42001", "-http-addr", "0.0.0.0:8080"]`)) {
		t.Errorf("Dockerfile does not build and run cmd/c-d:\n%s", files["Dockerfile"])
	}
	for _, name := range []string{"deploy/k8s/deployment.yaml", "deploy/k8s/service.yaml", "deploy/k8s/service-headless.yaml"} {
		if !bytes.Contains(files[name], []byte("\n  name: c-d")) {
			t.Errorf("%s does not name its object c-d:\n%s", name, files[name])
		}
	}
	if !bytes.Contains(files["README.md"], []byte("Run `go mod vendor` before `docker build`")) {
		t.Errorf("README.md of a project made with -goms does not say to vendor for docker build")
	}

	// The proto compiles against the shipped google/api protos, with the
	// module's go_package.
	dir := t.TempDir()
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	req, err := protoreq.Compile(context.Background(), importPaths(dir), "", "hello/v1/hello.proto")
	if err != nil {
		t.Fatal(err)
	}
	f := req.ProtoFile[len(req.ProtoFile)-1]
	if got := f.GetOptions().GetGoPackage(); got != module+"/gen/hello/v1;hellov1" {
		t.Errorf("go_package %q", got)
	}
	if n := len(f.GetService()[0].GetMethod()); n != 2 {
		t.Errorf("GreeterService has %d methods, want 2", n)
	}
	for _, name := range []string{"googleapis/google/api/annotations.proto", "googleapis/google/api/http.proto", "googleapis/google/api/httpbody.proto", "protovalidate/buf/validate/validate.proto"} {
		got := files["third_party/"+name]
		if !bytes.HasPrefix(got, []byte("// Copyright")) || !bytes.Contains(got, []byte("Licensed under the Apache License, Version 2.0")) {
			t.Errorf("third_party/%s lost its licence header", name)
		}
	}
	for _, name := range []string{"googleapis/LICENSE", "protovalidate/LICENSE"} {
		if !bytes.Contains(files["third_party/"+name], []byte("Apache License")) {
			t.Errorf("third_party/%s is not the Apache License", name)
		}
	}
}

func TestDeployName(t *testing.T) {
	long := strings.Repeat("a", 70)
	for name, want := range map[string]string{
		"hello":      "hello",
		"c-d":        "c-d",
		"yaml.v3":    "yaml-v3",
		"My_App~2":   "my-app-2",
		"--x--":      "x",
		"123":        "app-123",
		"_.~":        "app",
		"a.-_b":      "a-b",
		long:         long[:maxDeployName],
		long + "-xy": long[:maxDeployName],
		strings.Repeat("a", maxDeployName-1) + "-b": strings.Repeat("a", maxDeployName-1),
	} {
		if got := deployName(name); got != want {
			t.Errorf("deployName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestRenderVersion checks the go.mod files of a project that requires a
// published GoMs: no replace directive, and a directory that needs
// quoting in go.mod when there is one.
func TestRenderVersion(t *testing.T) {
	files, err := render(data{Module: "hello", Name: "hello", GomsVersion: "v0.3.0", Plugins: plugins, Deploy: deployDefaults})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(files["go.mod"]), "module hello\n\ngo 1.26.0\n\nrequire github.com/goms-io/goms v0.3.0\n"; got != want {
		t.Errorf("go.mod:\n%s\nwant:\n%s", got, want)
	}
	if bytes.Contains(files["tools/go.mod"], []byte("replace")) || !bytes.Contains(files["tools/go.mod"], []byte("\tgithub.com/goms-io/goms v0.3.0\n")) {
		t.Errorf("tools/go.mod:\n%s", files["tools/go.mod"])
	}
	if bytes.Contains(files["README.md"], []byte("go mod vendor")) {
		t.Errorf("README.md of a project without a replace directive asks for go mod vendor")
	}
	if got, want := modPath("/home/me/my goms"), `"/home/me/my goms"`; got != want {
		t.Errorf("modPath = %s, want %s", got, want)
	}
}

// TestGoogleapisVerbatim checks that the shipped third-party protos are
// the modules' own, byte for byte (scripts/googleapis.sh extracts them):
// google/api's of the grpc-gateway v1.16.0 module, and
// buf/validate/validate.proto of the github.com/bufbuild/protovalidate
// v1.2.2 module.
func TestGoogleapisVerbatim(t *testing.T) {
	out, err := exec.Command(filepath.Join(repoRoot, "scripts", "googleapis.sh")).Output()
	if err != nil {
		t.Fatalf("scripts/googleapis.sh: %v", err)
	}
	src := filepath.Join(repoRoot, strings.TrimSpace(string(out)))
	for shipped, from := range map[string]string{
		"googleapis/google/api/annotations.proto":   "google/api/annotations.proto",
		"googleapis/google/api/http.proto":          "google/api/http.proto",
		"googleapis/google/api/httpbody.proto":      "google/api/httpbody.proto",
		"protovalidate/buf/validate/validate.proto": "buf/validate/validate.proto",
	} {
		want, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(from)))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := files.ReadFile(shipped)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s", shipped, filepath.Join(src, filepath.FromSlash(from)))
		}
	}
}
