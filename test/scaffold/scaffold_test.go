package scaffold

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/testutil"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	// repoRoot is the GoMs checkout: goms new runs from it, and the
	// project uses it (-goms).
	repoRoot = "../.."
	// module is the project's module path; name its name: the binary's,
	// the image's and the Kubernetes objects'.
	module = "example.com/acme/hello"
	name   = "hello"
	// minMargin is the least time the pod's termination grace period must
	// leave, after the preStop sleep and the shutdown grace, for the rest
	// of the stop.
	minMargin = 3 * time.Second
)

// The ports the binary listens on by default; the image must use them.
var grpcPort, httpPort = portOf(goms.DefaultGRPCAddr), portOf(goms.DefaultHTTPAddr)

func portOf(addr string) int32 {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		panic(err)
	}
	return int32(n)
}

// tmp is the directory of the tests' project, removed by TestMain.
var tmp string

func TestMain(m *testing.M) {
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// proj is the project every test reads, written once.
var proj struct {
	once sync.Once
	dir  string
	err  error
}

// project returns the directory of the project that
// go run ./cmd/goms new -goms <checkout> example.com/acme/hello writes,
// run from the checkout as its README says; the first call writes it.
func project(t *testing.T) string {
	t.Helper()
	proj.once.Do(func() {
		root, err := filepath.Abs(repoRoot)
		if err != nil {
			proj.err = err
			return
		}
		if tmp, err = os.MkdirTemp("", "goms-scaffold-"); err != nil {
			proj.err = err
			return
		}
		dir := filepath.Join(tmp, name)
		start := time.Now()
		cmd := exec.Command("go", "run", "./cmd/goms", "new", "-goms", root, module, dir)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			proj.err = fmt.Errorf("go run ./cmd/goms new: %v\n%s", err, out)
			return
		}
		t.Logf("goms new took %.1fs", time.Since(start).Seconds())
		proj.dir = dir
	})
	if proj.err != nil {
		t.Fatal(proj.err)
	}
	return proj.dir
}

// vendor is go mod vendor in the project, run once: the project replaces
// GoMs with this checkout, which a container build cannot see.
var vendor struct {
	once sync.Once
	err  error
}

// vendored returns the project's directory with vendor/ written.
func vendored(t *testing.T) string {
	t.Helper()
	dir := project(t)
	vendor.once.Do(func() {
		cmd := exec.Command("go", "mod", "vendor")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			vendor.err = fmt.Errorf("go mod vendor: %v\n%s", err, out)
		}
	})
	if vendor.err != nil {
		t.Fatal(vendor.err)
	}
	return dir
}

// decodeStrict decodes the YAML file path of the project into obj as the
// API server's strict field validation does: a duplicate key, a field the
// type does not have, or a field name in the wrong case is an error.
func decodeStrict(t *testing.T, path string, obj any) {
	t.Helper()
	y, err := os.ReadFile(filepath.Join(project(t), path))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(y, []byte("\n---")) {
		t.Fatalf("%s holds more than one document", path)
	}
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err = errors.Join(append(strict, err)...); err != nil {
		t.Fatalf("%s does not decode strictly: %v", path, err)
	}
}

// manifests are the project's Kubernetes objects.
type manifests struct {
	deployment        appsv1.Deployment
	service, headless corev1.Service
}

func readManifests(t *testing.T) manifests {
	t.Helper()
	var m manifests
	decodeStrict(t, "deploy/k8s/deployment.yaml", &m.deployment)
	decodeStrict(t, "deploy/k8s/service.yaml", &m.service)
	decodeStrict(t, "deploy/k8s/service-headless.yaml", &m.headless)
	for _, tm := range []struct {
		got  metav1.TypeMeta
		want string
	}{
		{m.deployment.TypeMeta, "apps/v1 Deployment"},
		{m.service.TypeMeta, "v1 Service"},
		{m.headless.TypeMeta, "v1 Service"},
	} {
		if got := tm.got.APIVersion + " " + tm.got.Kind; got != tm.want {
			t.Fatalf("got a %s, want a %s", got, tm.want)
		}
	}
	if n := len(m.deployment.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", n)
	}
	return m
}

// container returns the Deployment's container.
func (m manifests) container() corev1.Container { return m.deployment.Spec.Template.Spec.Containers[0] }

// containerPort returns the number of the container's port p names (by
// name or number), or 0.
func (m manifests) containerPort(p intstr.IntOrString) int32 {
	for _, cp := range m.container().Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// env returns the container's environment as a lookup function, as
// goms.LoadConfig takes; it fails t on a variable taken from elsewhere.
func (m manifests) env(t *testing.T) func(string) (string, bool) {
	t.Helper()
	env := make(map[string]string)
	for _, e := range m.container().Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s: valueFrom, which this test cannot read", e.Name)
		}
		env[e.Name] = e.Value
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// image is what the tests read from the Dockerfile.
type image struct {
	// build is the stage whose binary the image runs; final the image's.
	build, final instructions.Stage
	// entrypoint is the final stage's ENTRYPOINT, in exec form.
	entrypoint []string
	// binary is the path in the build stage of the binary copied into the
	// image.
	binary string
	// user is the final stage's last USER.
	user string
	// expose lists the ports the final stage exposes.
	expose []string
}

// readDockerfile parses the project's Dockerfile with buildkit's parser;
// a linter warning, a parse error or a missing piece fails t.
func readDockerfile(t *testing.T) image {
	t.Helper()
	f, err := os.Open(filepath.Join(project(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: parser warning: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		t.Errorf("Dockerfile: %s: %s (%v)", rule, msg, loc)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and the image's", len(stages))
	}
	im := image{final: stages[len(stages)-1]}
	for _, c := range im.final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			im.user = c.User
		case *instructions.ExposeCommand:
			im.expose = append(im.expose, c.Ports...)
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Fatalf("ENTRYPOINT %v is in shell form: the image has no shell", c.CmdLine)
			}
			im.entrypoint = c.CmdLine
		case *instructions.RunCommand:
			t.Errorf("the image's stage runs %v: it has no shell", c.CmdLine)
		}
	}
	if len(im.entrypoint) == 0 {
		t.Fatal("the image has no ENTRYPOINT")
	}
	// The entrypoint's binary is copied from a build stage.
	for _, c := range im.final.Commands {
		if c, ok := c.(*instructions.CopyCommand); ok && c.From != "" && c.DestPath == im.entrypoint[0] && len(c.SourcePaths) == 1 {
			im.binary = c.SourcePaths[0]
			i := slices.IndexFunc(stages, func(s instructions.Stage) bool { return s.Name == c.From })
			if i < 0 {
				t.Fatalf("COPY --from=%s: no such stage", c.From)
			}
			im.build = stages[i]
		}
	}
	if im.binary == "" {
		t.Fatalf("no COPY --from=<stage> puts the entrypoint %s into the image", im.entrypoint[0])
	}
	return im
}

// env returns the ENV of the build stage.
func (im image) env() map[string]string {
	env := make(map[string]string)
	for _, c := range im.build.Commands {
		if c, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range c.Env {
				env[kv.Key] = kv.Value
			}
		}
	}
	return env
}

// buildCommand returns the build stage's RUN that writes the binary.
func (im image) buildCommand(t *testing.T) string {
	t.Helper()
	for _, c := range im.build.Commands {
		if c, ok := c.(*instructions.RunCommand); ok {
			line := strings.Join(c.CmdLine, " ")
			if strings.Contains(line, "go build ") && strings.Contains(line, " -o "+im.binary+" ") {
				return line
			}
		}
	}
	t.Fatalf("the build stage has no RUN go build … -o %s", im.binary)
	return ""
}

// config returns the configuration the binary loads in the Deployment's
// pod: the image's entrypoint arguments, then the container's, with its
// environment; LoadConfig fails t on an unknown flag or a bad value.
func config(t *testing.T, im image, m manifests) (goms.Config, *flag.FlagSet) {
	t.Helper()
	if len(m.container().Command) > 0 {
		t.Fatalf("the container replaces the image's entrypoint with %q", m.container().Command)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	args := append(slices.Clone(im.entrypoint[1:]), m.container().Args...)
	cfg, err := goms.LoadConfig(fs, args, m.env(t))
	if err != nil {
		t.Fatalf("the pod's flags %q and environment: %v", args, err)
	}
	return cfg, fs
}

// TestManifests decodes deploy/k8s/ strictly into the k8s.io/api types
// and checks what must hold for the binary: the ports and the probe paths
// it serves, the stop's timing, a non-root locked-down container, and
// Services that reach it.
func TestManifests(t *testing.T) {
	m := readManifests(t)
	d := m.deployment
	c := m.container()
	pod := d.Spec.Template

	// Names: the project's, valid for their kinds.
	for _, n := range []struct{ kind, got, want string }{
		{"Deployment", d.Name, name},
		{"container", c.Name, name},
		{"Service", m.service.Name, name},
		{"headless Service", m.headless.Name, name + "-headless"},
	} {
		if n.got != n.want {
			t.Errorf("%s %q, want %q", n.kind, n.got, n.want)
		}
	}
	for _, errs := range [][]string{
		validation.IsDNS1123Subdomain(d.Name), validation.IsDNS1123Label(c.Name),
		validation.IsDNS1035Label(m.service.Name), validation.IsDNS1035Label(m.headless.Name),
	} {
		for _, e := range errs {
			t.Error(e)
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the Deployment's selector %v (%v) does not select its pods, labelled %v", d.Spec.Selector, err, pod.Labels)
	}
	for _, s := range []corev1.Service{m.service, m.headless} {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			t.Errorf("Service %s selects %v, not the pods, labelled %v", s.Name, s.Spec.Selector, pod.Labels)
		}
	}
	if c.Image == "" {
		t.Error("the container has no image")
	}

	// Ports: GoMs's defaults, named for the probes and the Services.
	want := map[string]int32{"grpc": grpcPort, "http": httpPort}
	got := make(map[string]int32)
	for _, p := range c.Ports {
		got[p.Name] = p.ContainerPort
		for _, e := range validation.IsValidPortName(p.Name) {
			t.Errorf("port %q: %s", p.Name, e)
		}
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			t.Errorf("port %s: protocol %s", p.Name, p.Protocol)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("container ports %v, want %v (goms.DefaultGRPCAddr %s, goms.DefaultHTTPAddr %s)", got, want, goms.DefaultGRPCAddr, goms.DefaultHTTPAddr)
	}

	// Probes: GoMs's admin paths, on the HTTP port (admin.addr unset: see
	// TestPodConfig).
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"liveness", c.LivenessProbe, "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %s probe with httpGet", p.kind)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || m.containerPort(g.Port) != httpPort || (g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP) {
			t.Errorf("%s probe: %s %s on port %s, want HTTP %s on port %d", p.kind, g.Scheme, g.Path, g.Port.String(), p.path, httpPort)
		}
	}

	// The stop: a preStop sleep (the image has no shell for exec sleep),
	// then SIGTERM and the shutdown grace, within the grace period.
	var preStop time.Duration
	if h := c.Lifecycle; h == nil || h.PreStop == nil || h.PreStop.Sleep == nil || h.PreStop.Sleep.Seconds <= 0 {
		t.Errorf("no preStop sleep: %+v", h)
	} else {
		preStop = time.Duration(h.PreStop.Sleep.Seconds) * time.Second
		if h.PreStop.Exec != nil {
			t.Errorf("preStop exec %q: the image has no shell, nor sleep", h.PreStop.Exec.Command)
		}
	}
	env := m.env(t)
	graceText, ok := env("GOMS_SHUTDOWN_GRACE")
	grace, err := time.ParseDuration(graceText)
	if !ok || err != nil || grace != goms.DefaultShutdownGrace {
		t.Errorf("GOMS_SHUTDOWN_GRACE %q (%v), want goms.DefaultShutdownGrace, %v, given explicitly", graceText, err, goms.DefaultShutdownGrace)
	}
	if tg := pod.Spec.TerminationGracePeriodSeconds; tg == nil || time.Duration(*tg)*time.Second < preStop+grace+minMargin {
		got := "unset (30)"
		if tg != nil {
			got = fmt.Sprint(*tg)
		}
		t.Errorf("terminationGracePeriodSeconds %s, want at least the preStop sleep (%v), the shutdown grace (%v) and %v more",
			got, preStop, grace, minMargin)
	}

	// Security: non-root, nothing to escalate to, a read-only root.
	psc, sc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = new(corev1.PodSecurityContext)
	}
	if sc == nil {
		t.Fatal("the container has no securityContext")
	}
	nonRoot, uid := psc.RunAsNonRoot, psc.RunAsUser
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if sc.RunAsUser != nil {
		uid = sc.RunAsUser
	}
	if nonRoot == nil || !*nonRoot || uid != nil && *uid == 0 {
		t.Errorf("runAsNonRoot %v, runAsUser %v: want a non-root container", nonRoot, uid)
	}
	if uid != nil {
		if im := readDockerfile(t); im.user != fmt.Sprintf("%d:%d", *uid, *uid) {
			t.Errorf("runAsUser %d, but the image's USER is %q", *uid, im.user)
		}
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the root file system is writable: want readOnlyRootFilesystem")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("want allowPrivilegeEscalation: false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("the container is privileged")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and none added", sc.Capabilities)
	}

	// The Service: both ports, at the numbers the binary listens on.
	if m.service.Spec.ClusterIP == corev1.ClusterIPNone || m.service.Spec.Type != "" && m.service.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service %s: type %q, clusterIP %q; want a ClusterIP Service", m.service.Name, m.service.Spec.Type, m.service.Spec.ClusterIP)
	}
	checkServicePorts(t, m, m.service, "http", "grpc")
	// The headless Service: the pods' own addresses, for gRPC client-side
	// round_robin at dns:///<name>-headless:<port>, where clients dial the
	// pods at the port of the target, which must be the container's.
	if m.headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service %s: clusterIP %q, want None (headless)", m.headless.Name, m.headless.Spec.ClusterIP)
	}
	if m.headless.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s publishes pods that are not ready", m.headless.Name)
	}
	checkServicePorts(t, m, m.headless, "grpc")
}

// checkServicePorts checks that s has a port per container port name, at
// the container port's number, and no other.
func checkServicePorts(t *testing.T, m manifests, s corev1.Service, names ...string) {
	t.Helper()
	var got []string
	for _, p := range s.Spec.Ports {
		cp := m.containerPort(p.TargetPort)
		if p.TargetPort.IntValue() == 0 && p.TargetPort.Type == intstr.Int {
			cp = m.containerPort(intstr.FromInt32(p.Port))
		}
		name := ""
		for _, c := range m.container().Ports {
			if c.ContainerPort == cp {
				name = c.Name
			}
		}
		if cp == 0 || p.Port != cp {
			t.Errorf("Service %s: port %s %d → %s reaches container port %d; want the same number", s.Name, p.Name, p.Port, p.TargetPort.String(), cp)
		}
		got = append(got, name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("Service %s reaches the container ports %q, want %q", s.Name, got, names)
	}
}

// TestDockerfile parses the Dockerfile and checks the image: a static
// binary of cmd/<name> built with CGO_ENABLED=0 and -trimpath, on an
// empty or distroless base with CA certificates, run as a non-root
// numeric user, exposing GoMs's ports.
func TestDockerfile(t *testing.T) {
	im := readDockerfile(t)
	if b := im.final.BaseName; b != "scratch" && !strings.Contains(b, "distroless/static") {
		t.Errorf("the image is based on %s, want scratch or distroless/static", b)
	}
	uid, gid, _ := strings.Cut(im.user, ":")
	for _, id := range []string{uid, gid} {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("USER %q: want numeric non-root user and group (runAsNonRoot verifies only numeric ones)", im.user)
			break
		}
	}
	var exposed []string
	for _, p := range im.expose {
		exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
	}
	slices.Sort(exposed)
	if want := []string{fmt.Sprint(grpcPort), fmt.Sprint(httpPort)}; !slices.Equal(exposed, want) {
		t.Errorf("EXPOSE %q, want %q", im.expose, want)
	}
	var certs bool
	for _, c := range im.final.Commands {
		if c, ok := c.(*instructions.CopyCommand); ok && slices.Contains(c.SourcePaths, "/etc/ssl/certs/ca-certificates.crt") &&
			strings.HasPrefix(c.DestPath, "/etc/ssl/certs/") {
			certs = true
		}
	}
	if !certs {
		t.Error("the image has no CA certificates in /etc/ssl/certs/")
	}
	if cgo := im.env()["CGO_ENABLED"]; cgo != "0" {
		t.Errorf("the build stage's CGO_ENABLED is %q, want 0: a static binary", cgo)
	}
	run := im.buildCommand(t)
	for _, want := range []string{" -trimpath ", " -ldflags='-s -w' ", " ./cmd/" + name} {
		if !strings.Contains(run+" ", want) {
			t.Errorf("the build %q lacks %q", run, strings.TrimSpace(want))
		}
	}
	// The entrypoint listens on every interface (the defaults are
	// loopback), on the default ports: see TestPodConfig for how the
	// binary reads it.
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := goms.LoadConfig(fs, im.entrypoint[1:], func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("ENTRYPOINT %q: %v", im.entrypoint, err)
	}
	if want := fmt.Sprintf("0.0.0.0:%d", grpcPort); cfg.GRPC.Addr != want {
		t.Errorf("ENTRYPOINT %q: gRPC on %s, want %s", im.entrypoint, cfg.GRPC.Addr, want)
	}
	if want := fmt.Sprintf("0.0.0.0:%d", httpPort); cfg.HTTP.Addr != want {
		t.Errorf("ENTRYPOINT %q: HTTP on %s, want %s", im.entrypoint, cfg.HTTP.Addr, want)
	}
}

// TestPodConfig loads the configuration the binary sees in the pod, with
// goms.LoadConfig: the image's entrypoint, the container's arguments and
// its environment. Every GOMS_* variable must be a setting; the process
// serves both protocols on all interfaces at the ports the manifests
// name, with the probes on the HTTP port and the grace they assume.
func TestPodConfig(t *testing.T) {
	m := readManifests(t)
	im := readDockerfile(t)
	cfg, fs := config(t, im, m)
	for _, e := range m.container().Env {
		if k, ok := strings.CutPrefix(e.Name, "GOMS_"); ok && fs.Lookup(strings.ReplaceAll(strings.ToLower(k), "_", "-")) == nil {
			t.Errorf("env %s is no GoMs setting", e.Name)
		}
	}
	if cfg.Mode != goms.ModeGateway {
		t.Errorf("mode %q, want %q: gRPC and HTTP in one process", cfg.Mode, goms.ModeGateway)
	}
	if want := fmt.Sprintf("0.0.0.0:%d", grpcPort); cfg.GRPC.Addr != want {
		t.Errorf("gRPC address %s, want %s", cfg.GRPC.Addr, want)
	}
	if want := fmt.Sprintf("0.0.0.0:%d", httpPort); cfg.HTTP.Addr != want {
		t.Errorf("HTTP address %s, want %s", cfg.HTTP.Addr, want)
	}
	if cfg.Admin.Addr != "" {
		t.Errorf("admin.addr %s: the probes would miss /healthz and /readyz on the HTTP port", cfg.Admin.Addr)
	}
	if cfg.ShutdownGrace != goms.DefaultShutdownGrace {
		t.Errorf("shutdown grace %v, want %v", cfg.ShutdownGrace, goms.DefaultShutdownGrace)
	}
}

// TestImageBinary runs what the Dockerfile's build stage runs, on this
// machine (go mod vendor first, as the project's README says for a
// project made with -goms; no module download allowed), checks that the
// binary is static, stripped and built with -trimpath and CGO_ENABLED=0,
// then starts it as the pod does (entrypoint flags, container env; only
// the addresses moved to free loopback ports), and checks that the
// Deployment's probe paths answer 200 and that SIGTERM stops it cleanly
// within the time the grace period leaves after the preStop sleep.
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the project's binary")
	}
	m := readManifests(t)
	im := readDockerfile(t)
	dir := vendored(t)
	bin := filepath.Join(t.TempDir(), name)
	run := strings.Replace(im.buildCommand(t), " -o "+im.binary+" ", " -o '"+bin+"' ", 1)
	cmd := exec.Command("sh", "-c", run)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH, "GOPROXY=off", "GOMODCACHE="+t.TempDir(), "GOFLAGS=")
	for k, v := range im.env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", run, err, out)
	}
	t.Logf("%s took %.1fs", run, time.Since(start).Seconds())

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a dynamic loader: not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %q: not static", libs)
	}
	if f.Section(".symtab") != nil || f.Section(".debug_info") != nil {
		t.Error("the binary has a symbol table or DWARF: not stripped (-ldflags='-s -w')")
	}
	f.Close()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := make(map[string]string)
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// (With -trimpath, go build does not record -ldflags.)
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("the binary's build setting %s is %q, want %q", k, settings[k], want)
		}
	}
	if info.Path != module+"/cmd/"+name {
		t.Errorf("the binary is %s, want %s/cmd/%s", info.Path, module, name)
	}

	// Run it as the pod does, on free loopback ports.
	grpcAddr, httpAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	args := append(slices.Clone(im.entrypoint[1:]), m.container().Args...)
	args = append(args, "-grpc-addr", grpcAddr, "-http-addr", httpAddr)
	p := exec.Command(bin, args...)
	p.Env = os.Environ()
	for _, e := range m.container().Env {
		p.Env = append(p.Env, e.Name+"="+e.Value)
	}
	out := new(testutil.SyncBuffer)
	p.Stderr = out
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	defer func() { p.Process.Kill(); <-done }()

	readiness, liveness := m.container().ReadinessProbe.HTTPGet, m.container().LivenessProbe.HTTPGet
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + httpAddr + readiness.Path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("%s exited before it was ready:\n%s", bin, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness probe %s: not 200 within 30s (%v)\n%s", readiness.Path, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := client.Get("http://" + httpAddr + liveness.Path)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("liveness probe %s: %v %v", liveness.Path, resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if conn, err := net.DialTimeout("tcp", grpcAddr, time.Second); err != nil {
		t.Errorf("gRPC port: %v", err)
	} else {
		conn.Close()
	}
	// The log is JSON (GOMS_LOG_FORMAT), one object a line.
	if line, _, _ := strings.Cut(out.String(), "\n"); !regexp.MustCompile(`^\{".*\}$`).MatchString(line) {
		t.Errorf("the log is not JSON:\n%s", out)
	}

	// SIGTERM, as the kubelet sends it after the preStop sleep.
	left := time.Duration(*m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds-m.container().Lifecycle.PreStop.Sleep.Seconds) * time.Second
	p.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if code := p.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit status %d after SIGTERM:\n%s", code, out)
		}
	case <-time.After(left):
		t.Errorf("still running %v after SIGTERM, when the kubelet would kill it:\n%s", left, out)
	}
}

// TestDockerBuild builds the image where a container engine runs, and
// checks its user and ports. The project is vendored first: it replaces
// GoMs with this checkout, outside the build context. Without an engine
// it skips, even under GOMS_REQUIRE_TOOLS: CI's machine runs none, and
// reaches no image registry for the base images.
func TestDockerBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a container image")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker command: the image is built where a container engine runs")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Skipf("docker info failed (%v: %s): no container engine runs here, so the image is not built; where one runs, this test builds it", err, lines[len(lines)-1])
	}
	dir := vendored(t)
	tag := fmt.Sprintf("goms-scaffold-test/%s:%d", name, os.Getpid())
	start := time.Now()
	cmd := exec.Command("docker", "build", "-t", tag, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Logf("docker build took %.1fs", time.Since(start).Seconds())
	defer exec.Command("docker", "image", "rm", tag).Run()
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Config.User}}{{range $p, $_ := .Config.ExposedPorts}} {{$p}}{{end}}", tag).Output()
	if err != nil {
		t.Fatalf("docker image inspect: %v", err)
	}
	got := strings.Fields(string(out))
	want := []string{readDockerfile(t).user, fmt.Sprintf("%d/tcp", grpcPort), fmt.Sprintf("%d/tcp", httpPort)}
	if len(got) > 0 {
		slices.Sort(got[1:])
	}
	slices.Sort(want[1:])
	if !slices.Equal(got, want) {
		t.Errorf("docker image inspect: user and ports %q, want %q", got, want)
	}
}
