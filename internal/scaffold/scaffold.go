// Package scaffold writes new GoMs projects: it is goms new. [New] takes
// an empty directory to a project that builds, tests and runs with no
// other step: the files of template/ rendered with text/template for the
// project's module path, the google/api protos of googleapis/ and
// protovalidate's buf/validate protos of protovalidate/ (shipped here, so
// that nothing is fetched), the tools' go.sum files, the code
// generated from the starter proto, and the project's go.sum.
//
// The first generation runs without buf, which takes minutes to build on a
// cold cache: the protos are compiled in-process (package protoreq) and
// each plugin of buf.gen.yaml gets the request buf would send it:
// protoc-gen-goms in-process (package gen), the others as
// go tool -modfile=tools/go.mod <plugin>. The output is the same, byte for
// byte, as what make generate (buf generate) writes later.
package scaffold

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/template"
	"time"
)

// The project's files, rendered by [render]: template/<path>.tmpl becomes
// <path> (cmd/main/ becomes cmd/<name>/). The files of googleapis/ and
// protovalidate/ are copied as they are into third_party/googleapis/ and
// third_party/protovalidate/.
//
//go:embed template googleapis protovalidate
var files embed.FS

// GomsModule is the module path of GoMs, which projects require.
const GomsModule = "github.com/goms-io/goms"

// Options says what project [New] writes, and where.
type Options struct {
	// Module is the module path of the project, such as
	// example.com/acme/hello (see [CheckModulePath]).
	Module string
	// Dir is the directory to write the project into; it must not exist or
	// be empty. Empty: [DefaultDir] of Module, in the current directory.
	Dir string
	// Goms, when not empty, is the directory of a GoMs checkout: the
	// project's go.mod and tools/go.mod then get a replace directive to its
	// absolute path, and require GoMs at v0.0.0.
	Goms string
	// Version is the GoMs version to require when Goms is empty (see
	// [BuildVersion]).
	Version string
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// New writes the project o describes. It refuses a directory that exists
// and is not empty, and never overwrites a file. When a later step fails
// (go mod tidy, say), the files written so far stay for inspection, and
// the error says so.
func New(ctx context.Context, o Options) error {
	if err := CheckModulePath(o.Module); err != nil {
		return err
	}
	if o.Dir == "" {
		o.Dir = DefaultDir(o.Module)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	d, err := newData(o)
	if err != nil {
		return err
	}
	rendered, err := render(d)
	if err != nil {
		return err
	}
	if err := checkEmpty(o.Dir); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	if err := writeFiles(o.Dir, rendered); err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "wrote %d files into %s\n", len(rendered), o.Dir)
	steps := []struct {
		what string
		run  func() error
	}{
		// The tools first: generation runs them.
		{"go mod tidy in tools", func() error { return goCommand(ctx, filepath.Join(o.Dir, "tools"), "mod", "tidy") }},
		{"go mod tidy in tools/buf", func() error { return goCommand(ctx, filepath.Join(o.Dir, "tools", "buf"), "mod", "tidy") }},
		{"generated gen/", func() error { return generate(ctx, o.Dir) }},
		// The registration of every service, which the main calls.
		{"wrote " + servicesFile, func() error { _, err := writeServices(ctx, o.Dir, o.Module, io.Discard); return err }},
		// Last: the project's imports include the generated packages.
		{"go mod tidy", func() error { return goCommand(ctx, o.Dir, "mod", "tidy") }},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.run(); err != nil {
			hint := ""
			if d.GomsPath == "" && strings.HasPrefix(s.what, "go mod tidy") {
				hint = fmt.Sprintf("; if GoMs %s is not published, give -goms with the directory of a GoMs checkout", d.GomsVersion)
			}
			return fmt.Errorf("%w\n(the incomplete project stays in %s: remove it before trying again%s)", err, o.Dir, hint)
		}
		fmt.Fprintf(o.Log, "%s (%.1fs)\n", s.what, time.Since(start).Seconds())
	}
	return nil
}

// DefaultDir returns the directory goms new writes module into by
// default: its last path element, or the one before when the last is a
// major version suffix (example.com/hello/v2 → hello).
func DefaultDir(module string) string {
	elems := strings.Split(module, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && isMajorVersion(last) {
		last = elems[len(elems)-2]
	}
	return last
}

// isMajorVersion reports whether elem is a major version suffix: v2, v3, …
func isMajorVersion(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' || elem[1] == '0' || elem == "v1" {
		return false
	}
	for _, c := range elem[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// CheckModulePath returns an error naming path when it cannot be a module
// path: elements separated by single slashes, each made of ASCII letters,
// digits and "-._~", neither starting nor ending with a dot.
func CheckModulePath(path string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("invalid module path %q: %s", path, fmt.Sprintf(format, args...))
	}
	if path == "" {
		return bad("empty")
	}
	if strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") {
		return bad("it begins or ends with a slash")
	}
	for _, elem := range strings.Split(path, "/") {
		switch {
		case elem == "":
			return bad("empty path element (two slashes)")
		case elem[0] == '.':
			return bad("element %q begins with a dot", elem)
		case elem[len(elem)-1] == '.':
			return bad("element %q ends with a dot", elem)
		}
		for _, c := range elem {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
				return bad("element %q has the character %q; use ASCII letters, digits and - . _ ~", elem, c)
			}
		}
	}
	return nil
}

// BuildVersion returns the GoMs version a project made by this program
// should require: the version of the GoMs module this program was built
// from (installed with go install …@version, or run as a tool), or ""
// when it has none a project could download (a development build).
func BuildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	m := &info.Main
	if m.Path != GomsModule {
		for _, dep := range info.Deps {
			if dep.Path == GomsModule {
				m = dep
			}
		}
	}
	if m.Path != GomsModule || m.Replace != nil || !strings.HasPrefix(m.Version, "v") || strings.Contains(m.Version, "+") {
		return ""
	}
	return m.Version
}

// data is what the templates see.
type data struct {
	// Module is the project's module path.
	Module string
	// Name is the project's name: its binary's (cmd/<Name>).
	Name string
	// GomsVersion is the version of GoMs required; GomsPath the absolute
	// directory of the replace directive, or "".
	GomsVersion, GomsPath string
	// Plugins are the plugins of buf.gen.yaml.
	Plugins []plugin
	// Deploy is what the Dockerfile and deploy/k8s/ need.
	Deploy deploy
}

// deploy is what the Dockerfile and the Kubernetes manifests of deploy/k8s/
// need. Package scaffold does not import package goms, whose defaults the
// ports and the grace restate: the test module test/scaffold checks the
// written files against goms's own values.
type deploy struct {
	// Name names the image, the container and the Kubernetes objects: the
	// project's name made a DNS label (see [deployName]).
	Name string
	// GRPCPort and HTTPPort are the ports of goms.DefaultGRPCAddr and
	// goms.DefaultHTTPAddr; the image listens on them on every interface.
	GRPCPort, HTTPPort int
	// ShutdownGrace is goms.DefaultShutdownGrace in seconds, which the
	// Deployment passes as GOMS_SHUTDOWN_GRACE.
	ShutdownGrace int
	// PreStop is how long, in seconds, a terminating pod sleeps before its
	// SIGTERM, so that Services and clients stop sending it calls first.
	PreStop int
	// TerminationGrace is the pod's terminationGracePeriodSeconds: the
	// preStop sleep, then the shutdown grace, then a margin for the rest
	// of the stop.
	TerminationGrace int
	// User is the numeric user and group the image runs as (nonroot in
	// distroless images).
	User int
}

// deployDefaults are the values of [deploy] but its name.
var deployDefaults = deploy{GRPCPort: 42001, HTTPPort: 8080, ShutdownGrace: 10, PreStop: 5, TerminationGrace: 5 + 10 + 5, User: 65532}

// maxDeployName is the longest name [deployName] returns: a Service name
// is a DNS label of at most 63 characters, and the headless Service's name
// adds "-headless".
const maxDeployName = 63 - len("-headless")

// deployName returns name made a name that Kubernetes objects and image
// references take (an RFC 1035 DNS label, at most [maxDeployName] long):
// lower case, runs of other characters than letters and digits as one
// dash, with "app-" before it when it would not begin with a letter.
func deployName(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
		} else {
			dash = true
		}
	}
	s := b.String()
	switch {
	case s == "":
		s = "app"
	case s[0] < 'a' || s[0] > 'z':
		s = "app-" + s
	}
	if len(s) > maxDeployName {
		s = strings.TrimRight(s[:maxDeployName], "-")
	}
	return s
}

func newData(o Options) (data, error) {
	d := data{Module: o.Module, Name: DefaultDir(o.Module), GomsVersion: o.Version, Plugins: plugins, Deploy: deployDefaults}
	d.Deploy.Name = deployName(d.Name)
	if o.Goms != "" {
		abs, err := filepath.Abs(o.Goms)
		if err != nil {
			return data{}, err
		}
		if mod, err := os.ReadFile(filepath.Join(abs, "go.mod")); err != nil || !bytes.HasPrefix(mod, []byte("module "+GomsModule+"\n")) {
			return data{}, fmt.Errorf("-goms %s: not a GoMs checkout (no go.mod of module %s there)", o.Goms, GomsModule)
		}
		d.GomsPath, d.GomsVersion = abs, "v0.0.0"
	}
	if d.GomsVersion == "" {
		return data{}, errors.New("this goms is a development build, with no GoMs version for the project to require; give -goms with the directory of a GoMs checkout")
	}
	return d, nil
}

// render returns the project's files, by slash-separated path.
func render(d data) (map[string][]byte, error) {
	out := make(map[string][]byte)
	funcs := template.FuncMap{"modpath": modPath}
	err := fs.WalkDir(files, "template", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		src, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "template/"), ".tmpl")
		if dir, file := path.Split(name); dir == "cmd/main/" {
			name = "cmd/" + d.Name + "/" + file
		}
		t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return err
		}
		out[name] = b.Bytes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{"googleapis", "protovalidate"} {
		err = fs.WalkDir(files, dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := files.ReadFile(p)
			out["third_party/"+p] = b
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// modPath quotes a go.mod token (a replacement directory) when it needs
// it, as go mod edit does.
func modPath(s string) string {
	if strings.ContainsAny(s, " \t\r\n\"'`()[]{},") || strings.Contains(s, "//") || strings.Contains(s, "/*") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// checkEmpty returns an error naming dir if it exists and is not an empty
// directory.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", dir)
		}
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s exists and is not empty", dir)
	}
	return nil
}

// writeFiles writes files under dir, failing rather than overwriting a
// file.
func writeFiles(dir string, files map[string][]byte) error {
	for name, content := range files {
		if err := writeNew(filepath.Join(dir, filepath.FromSlash(name)), content); err != nil {
			return err
		}
	}
	return nil
}

// writeNew creates path with content; it fails with fs.ErrExist if a file
// is there already.
func writeNew(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// goCommand runs go args in dir; its error carries the command's output.
func goCommand(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, bytes.TrimRight(out, "\n"))
	}
	return nil
}
