package scaffold

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goms-io/goms/internal/protoreq"
)

func TestParseService(t *testing.T) {
	for name, want := range map[string]Service{
		"audit":                           {Package: "audit.v1", Name: "AuditService"},
		"audit_log":                       {Package: "audit_log.v1", Name: "AuditLogService"},
		"audit2":                          {Package: "audit2.v1", Name: "Audit2Service"},
		"audit.v1.AuditService":           {Package: "audit.v1", Name: "AuditService"},
		"acme.audit.v2beta1.AuditService": {Package: "acme.audit.v2beta1", Name: "AuditService"},
		"hello.v1.HTTPLogService":         {Package: "hello.v1", Name: "HTTPLogService"},
	} {
		got, err := ParseService(name)
		if err != nil || got != want {
			t.Errorf("ParseService(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	const forms = ": want a short name in lower snake case (audit) or a full name such as audit.v1.AuditService"
	for name, want := range map[string]string{
		"Audit":                 `invalid service name "Audit"` + forms,
		"audit__log":            `invalid service name "audit__log"` + forms,
		"audit.AuditService":    `invalid service name "audit.AuditService"` + forms,
		"audit.v1.Audit":        `invalid service name "audit.v1.Audit"` + forms,
		"audit.v1.Service":      `invalid service name "audit.v1.Service"` + forms,
		"audit.v0.AuditService": `invalid service name "audit.v0.AuditService"` + forms,
		"Acme.v1.AuditService":  `invalid service name "Acme.v1.AuditService": package element "Acme" is not lower snake case`,
		"type":                  `invalid service name "type": its implementation would be package type, which the project cannot have; choose another name`,
		"x.v1.GenService":       `invalid service name "x.v1.GenService": its implementation would be package gen, which the project cannot have; choose another name`,
	} {
		if _, err := ParseService(name); err == nil || err.Error() != want {
			t.Errorf("ParseService(%q): %v, want %s", name, err, want)
		}
	}
	s, _ := ParseService("acme.audit_log.v1.AuditLogService")
	if got, want := s.protoFile(), "acme/audit_log/v1/audit_log.proto"; got != want {
		t.Errorf("protoFile = %s, want %s", got, want)
	}
	if got, want := s.ImplDir(), "auditlog"; got != want {
		t.Errorf("ImplDir = %s, want %s", got, want)
	}
}

// project writes the files goms new renders (no generated code, no
// go.sum) for module example.com/acme/hello into a temporary directory.
func project(t *testing.T) string {
	t.Helper()
	d, err := newData(Options{Module: "example.com/acme/hello", Goms: repoRoot})
	if err != nil {
		t.Fatal(err)
	}
	files, err := render(d)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAddRefuses checks that Add refuses, in one line and before writing
// anything, a service that exists, an implementation directory another
// service has, a proto file that exists and a directory that is no
// project.
func TestAddRefuses(t *testing.T) {
	dir := project(t)
	os.WriteFile(filepath.Join(dir, "proto", "hello", "v1", "audit.proto"), []byte("// mine\nsyntax = \"proto3\";\n\npackage hello.v1;\n"), 0o644)
	before := readDir(t, dir)
	for name, want := range map[string]string{
		"hello.v1.GreeterService": "service hello.v1.GreeterService exists (proto/hello/v1/hello.proto)",
		"other.v1.GreeterService": "greeter/ is the package of hello.v1.GreeterService already: give other.v1.GreeterService another name",
		"hello.v1.AuditService":   "proto/hello/v1/audit.proto exists",
	} {
		s, err := ParseService(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Add(context.Background(), AddOptions{Dir: dir, Service: s}); err == nil || err.Error() != want {
			t.Errorf("Add(%s): %v, want %s", name, err, want)
		}
	}
	empty := t.TempDir()
	s, _ := ParseService("audit")
	if _, err := Add(context.Background(), AddOptions{Dir: empty, Service: s}); err == nil || err.Error() != empty+" is not a project written by goms new: it has no go.mod" {
		t.Errorf("Add into an empty directory: %v", err)
	}
	if after := readDir(t, dir); len(after) != len(before) {
		t.Errorf("Add wrote files while refusing: %d files, then %d", len(before), len(after))
	}
	for name, content := range before {
		if after := readDir(t, dir); after[name] != content {
			t.Errorf("Add changed %s while refusing", name)
		}
	}
}

// TestRenderService checks an added service's proto: it compiles next to
// the starter, with the go_package of its proto package, one unary method
// with its HTTP rule, and buf's STANDARD names.
func TestRenderService(t *testing.T) {
	dir := project(t)
	for _, tc := range []struct{ name, goPackage, route string }{
		{"audit_log", "example.com/acme/hello/gen/audit_log/v1;auditlogv1", "/v1/audit-log/{id}"},
		{"hello.v1.BillingService", "example.com/acme/hello/gen/hello/v1;hellov1", "/v1/billing/{id}"},
	} {
		s, err := ParseService(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		goPackage := s.goPackage("example.com/acme/hello")
		if tc.name == "hello.v1.BillingService" {
			// Add takes the go_package of the package's other files.
			goPackage = "example.com/acme/hello/gen/hello/v1;hellov1"
		}
		if goPackage != tc.goPackage {
			t.Errorf("%s: go_package %s, want %s", tc.name, goPackage, tc.goPackage)
		}
		src, err := renderService(s, "example.com/acme/hello", goPackage)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeNew(filepath.Join(dir, protoDir, filepath.FromSlash(s.protoFile())), src); err != nil {
			t.Fatal(err)
		}
		req, err := protoreq.Compile(context.Background(), importPaths(dir), "", s.protoFile())
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, src)
		}
		f := req.ProtoFile[len(req.ProtoFile)-1]
		if f.GetPackage() != s.Package || f.GetOptions().GetGoPackage() != tc.goPackage || len(f.GetService()) != 1 {
			t.Fatalf("%s: package %s, go_package %s, %d services", tc.name, f.GetPackage(), f.GetOptions().GetGoPackage(), len(f.GetService()))
		}
		m := f.GetService()[0].GetMethod()
		if len(m) != 1 || m[0].GetName() != "Get"+s.base() || m[0].GetInputType() != "."+s.Package+".Get"+s.base()+"Request" ||
			m[0].GetOutputType() != "."+s.Package+".Get"+s.base()+"Response" || m[0].GetClientStreaming() || m[0].GetServerStreaming() {
			t.Errorf("%s: methods %v", tc.name, m)
		}
		if !bytes.Contains(src, []byte(`option (google.api.http) = {get: "`+tc.route+`"};`)) {
			t.Errorf("%s: no route %s:\n%s", tc.name, tc.route, src)
		}
	}
}

// TestServices checks services/services.go: derived from the protos and
// the implementations present, rewritten while it is as generated, kept
// once edited.
func TestServices(t *testing.T) {
	dir := project(t)
	file := filepath.Join(dir, filepath.FromSlash(servicesFile))
	var log strings.Builder
	if _, err := writeServices(context.Background(), dir, "example.com/acme/hello", &log); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(file)
	for _, want := range []string{
		"// Code generated by goms. DO NOT EDIT.\n",
		"\npackage services\n",
		"\thellov1 \"example.com/acme/hello/gen/hello/v1\"\n\t\"example.com/acme/hello/greeter\"\n",
		"\tgreeterService, err := greeter.NewGreeterService(s)\n",
		"\thellov1.RegisterGreeterService(s, greeterService)\n",
	} {
		if !bytes.Contains(first, []byte(want)) {
			t.Errorf("services.go lacks %q:\n%s", want, first)
		}
	}
	if !asGenerated(first) || log.String() != "wrote services/services.go\n" {
		t.Errorf("services.go fails its checksum, or the log is %q", log.String())
	}

	// A service with an implementation, one without.
	for _, name := range []string{"audit", "billing"} {
		s, _ := ParseService(name)
		src, _ := renderService(s, "example.com/acme/hello", "example.com/acme/hello/gen/"+name+"/v1;"+name+"v1")
		writeNew(filepath.Join(dir, protoDir, filepath.FromSlash(s.protoFile())), src)
	}
	writeNew(filepath.Join(dir, "audit", "audit.go"), []byte("package audit\n\nfunc NewAuditService() {}\n"))
	log.Reset()
	unregistered, err := writeServices(context.Background(), dir, "example.com/acme/hello", &log)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(file)
	if !bytes.Contains(second, []byte("\tauditService, err := audit.NewAuditService(s)\n")) || bytes.Contains(second, []byte("billing")) || !asGenerated(second) {
		t.Errorf("services.go after adding audit:\n%s", second)
	}
	if want := "services/services.go: billing.v1.BillingService left out: billing/ has no func NewBillingService (goms skeleton writes one)\nwrote services/services.go\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	if len(unregistered) != 1 || unregistered[0] != "billing.v1.BillingService" {
		t.Errorf("unregistered %q", unregistered)
	}

	// Edited: kept, and the log says what to register.
	edited := bytes.Replace(second, []byte("return nil\n"), []byte("return nil // mine\n"), 1)
	os.WriteFile(file, edited, 0o644)
	writeNew(filepath.Join(dir, "billing", "billing.go"), []byte("package billing\n\nfunc NewBillingService() {}\n"))
	log.Reset()
	unregistered, err = writeServices(context.Background(), dir, "example.com/acme/hello", &log)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, edited) {
		t.Errorf("writeServices overwrote an edited services.go")
	}
	if want := "kept services/services.go (edited since goms wrote it): register billing.v1.BillingService there yourself\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	if len(unregistered) != 1 || unregistered[0] != "billing.v1.BillingService" {
		t.Errorf("unregistered %q", unregistered)
	}
}

// readDir returns the files under dir by relative path.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := make(map[string]string)
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			files[p] = string(b)
		}
		return err
	})
	return files
}
