//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goms-io/goms/internal/testutil"
)

// TestREADMENewProject runs the shell commands of the README's section "A
// new project: goms new" word for word, in their order, as a user would,
// so that the section cannot drift from what goms does: goms new from this
// checkout (-goms .), make run, the curl and grpcurl calls, make test,
// goms add, then the two services split across two processes with -serve
// and -targets, and the calls across them. It changes two things only:
// the project's directory (../hello in the README) goes into a temporary
// directory, and the addresses become free ports (servers whose command
// line names no address get GOMS_GRPC_ADDR and GOMS_HTTP_ADDR of port 0,
// and the calls get the addresses they log, as TestREADMECalls does). A
// call whose comment shows a JSON answer must get it. It logs how long
// goms new to make run serving takes (the README reports the figure; the
// test asserts nothing timed), and checks that the project's binary links
// neither etcd nor zap.
func TestREADMENewProject(t *testing.T) {
	if testing.Short() {
		t.Skip("writes, tests, builds and runs a new project")
	}
	requireShellTools(t)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### A new project: `goms new`\n")
	if !ok {
		t.Fatal("README.md has no section \"### A new project: `goms new`\"")
	}
	section, _, _ = strings.Cut(section, "\n### ")
	lines := shellLines(section)

	// What the section must show, for this test to mean anything.
	var newLine string
	for _, want := range []string{"go run ./cmd/goms new -goms . ", "cd ", "make run", "make test", "go tool -modfile=tools/go.mod goms add ", "curl ", "go tool -modfile=tools/go.mod grpcurl "} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, want) || strings.Contains(l, "&& "+want) {
				found = true
				if strings.HasPrefix(l, "go run ./cmd/goms new ") {
					newLine = l
				}
			}
		}
		if !found {
			t.Errorf("the section has no command %q...", want)
		}
	}
	if n := len(serverLines(lines)); n < 3 {
		t.Errorf("the section starts %d servers; want make run, then two processes split with -serve", n)
	}
	if t.Failed() {
		t.FailNow()
	}

	// The project's directory, relative in the README, goes into a
	// temporary directory; addresses other than the defaults get free
	// ports.
	fields := strings.Fields(stripComment(newLine))
	projectArg := fields[len(fields)-1]
	r := &readmeRunner{t: t, cwd: root, subst: map[string]string{" " + projectArg: " " + filepath.Join(t.TempDir(), filepath.Base(projectArg))}}
	for _, addr := range regexp.MustCompile(`127\.0\.0\.1:[0-9]+`).FindAllString(section, -1) {
		if _, ok := r.subst[addr]; !ok && addr != defaultHTTP && addr != defaultGRPC {
			r.subst[addr] = testutil.FreeAddr(t)
		}
	}
	t.Cleanup(r.stopServers)

	start := time.Now()
	for _, line := range lines {
		r.run(line)
		if t.Failed() {
			t.FailNow()
		}
		if r.firstServe.IsZero() && len(r.servers) > 0 {
			r.firstServe = time.Now()
			t.Logf("goms new → make run serving took %.1fs (the README reports it)", r.firstServe.Sub(start).Seconds())
			r.projectREADMECalls()
		}
	}
	r.stopServers()

	// goms add refuses a service that exists, in one line.
	add := strings.Fields(stripComment(lineWithPrefix(lines, "go tool -modfile=tools/go.mod goms add ")))
	cmd := exec.Command(add[0], add[1:]...)
	cmd.Dir = r.cwd
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !regexp.MustCompile(`^goms add: service \S+ exists \(proto/\S+\.proto\)\n$`).Match(out) {
		t.Errorf("goms add of a service that exists: exit %d (%v), output %q; want exit 1 and one line", code, err, out)
	}

	// The project's binary links neither etcd nor zap: both are opt-in.
	deps := r.output("go", "list", "-deps", "./cmd/...")
	if !strings.Contains(deps, "\ngithub.com/goms-io/goms\n") {
		t.Errorf("go list -deps ./cmd/... lacks package goms:\n%s", deps)
	}
	for dep := range strings.Lines(deps) {
		if strings.HasPrefix(dep, "go.etcd.io/") || strings.HasPrefix(dep, "go.uber.org/zap") {
			t.Errorf("the project's binary links %s", strings.TrimSpace(dep))
		}
	}
	t.Logf("the whole section took %.1fs", time.Since(start).Seconds())
}

// requireShellTools skips t, or fails it under GOMS_REQUIRE_TOOLS (CI),
// when bash, make or curl, which the READMEs' commands run, is missing.
func requireShellTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"bash", "make", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("GOMS_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s not found; the README's commands need it", tool)
			}
			t.Skipf("%s not found; the README's commands need it", tool)
		}
	}
}

// The addresses a server listens on when its command line names none.
const defaultHTTP, defaultGRPC = "127.0.0.1:8080", "127.0.0.1:42001"

// shellLines returns the lines of the fenced sh blocks of a README section,
// trimmed, without empty ones.
func shellLines(section string) []string {
	var lines []string
	in := false
	for line := range strings.Lines(section) {
		line = strings.TrimSpace(line)
		switch {
		case line == "```sh":
			in = true
		case line == "```":
			in = false
		case in && line != "":
			lines = append(lines, line)
		}
	}
	return lines
}

// stripComment drops a line's trailing shell comment (" # ...").
func stripComment(line string) string {
	if i := strings.Index(line, " # "); i >= 0 {
		return strings.TrimSpace(line[:i])
	}
	return line
}

// comment returns a line's trailing shell comment, or "".
func comment(line string) string {
	if i := strings.Index(line, " # "); i >= 0 {
		return strings.TrimSpace(line[i+3:])
	}
	return ""
}

// isServer reports whether a command (after any "cd DIR &&") serves until
// stopped: make run, or go run of the project's binary.
func isServer(cmd string) bool {
	return strings.HasPrefix(cmd, "make run") || strings.HasPrefix(cmd, "go run ./cmd/") && !strings.HasPrefix(cmd, "go run ./cmd/goms ")
}

// isCall reports whether a command calls a running server.
func isCall(cmd string) bool {
	return strings.HasPrefix(cmd, "curl ") || strings.HasPrefix(cmd, "go tool -modfile=tools/go.mod grpcurl ")
}

func serverLines(lines []string) []string {
	var servers []string
	for _, l := range lines {
		if _, cmd := splitCD(l); isServer(cmd) {
			servers = append(servers, l)
		}
	}
	return servers
}

func lineWithPrefix(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// splitCD splits "cd DIR && CMD" into DIR and CMD; a line without cd has
// DIR "".
func splitCD(line string) (dir, cmd string) {
	rest, ok := strings.CutPrefix(line, "cd ")
	if !ok {
		return "", line
	}
	dir, cmd, _ = strings.Cut(rest, " && ")
	return strings.TrimSpace(stripComment(dir)), cmd
}

// readmeRunner runs README lines as a user at a terminal would: in a
// current directory that cd changes, servers left running (as in another
// terminal) until a command that is not a call runs.
type readmeRunner struct {
	t          *testing.T
	cwd        string
	subst      map[string]string // README text → what the test uses
	servers    []*readmeServer
	firstServe time.Time
}

// readmeServer is a server a README line started, in a process group of
// its own (make, go run and the binary).
type readmeServer struct {
	line       string
	cmd        *exec.Cmd
	out        testutil.SyncBuffer
	done       chan struct{}
	grpc, http string
}

// replace makes the substitutions in s, in one pass: a free port equal
// to an address of the README is not replaced again.
func (r *readmeRunner) replace(s string) string {
	var pairs []string
	for from, to := range r.subst {
		pairs = append(pairs, from, to)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// run runs one README line.
func (r *readmeRunner) run(line string) {
	t := r.t
	dir, cmdline := splitCD(r.replace(line))
	if dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(r.cwd, dir)
		}
		r.cwd = dir
	}
	if cmdline == "" {
		return
	}
	switch {
	case isServer(cmdline):
		r.startServer(line, cmdline)
	case isCall(cmdline):
		r.call(line, cmdline)
	default:
		// Ctrl-C first, as the README says: the servers stop.
		r.stopServers()
		start := time.Now()
		out := r.output("bash", "-c", cmdline)
		t.Logf("%s took %.1fs:\n%s", line, time.Since(start).Seconds(), out)
	}
}

// output runs name args in the current directory and returns its combined
// output; it fails the test if the command fails.
func (r *readmeRunner) output(name string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = r.cwd
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), r.cwd, err, out)
	}
	return string(out)
}

var servingLine = regexp.MustCompile(`msg="serving (gRPC|HTTP)" addr=(\S+)`)

// startServer starts a server line and waits until it serves what its
// mode serves. A server whose line names no address listens on free ports,
// and the calls' default addresses become its.
func (r *readmeRunner) startServer(line, cmdline string) {
	t := r.t
	s := &readmeServer{line: line, done: make(chan struct{})}
	s.cmd = exec.Command("bash", "-c", cmdline)
	s.cmd.Dir = r.cwd
	s.cmd.Env = append(os.Environ(), "GOMS_GRPC_ADDR=127.0.0.1:0", "GOMS_HTTP_ADDR=127.0.0.1:0")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.servers = append(r.servers, s)
	go func() { s.cmd.Wait(); pw.Close(); close(s.done) }()
	needGRPC, needHTTP := !strings.Contains(cmdline, "-mode http"), !strings.Contains(cmdline, "-mode grpc")
	served := make(chan struct{})
	go func() {
		// s.grpc and s.http are written before served is closed, and
		// never after.
		serving := true
		lines := bufio.NewScanner(pr)
		for lines.Scan() {
			s.out.Write(append(lines.Bytes(), '\n'))
			if m := servingLine.FindStringSubmatch(lines.Text()); m != nil && serving {
				if m[1] == "gRPC" {
					s.grpc = m[2]
				} else {
					s.http = m[2]
				}
				if (!needGRPC || s.grpc != "") && (!needHTTP || s.http != "") {
					close(served)
					serving = false
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	// A cold build cache compiles GoMs and grpc-go first.
	select {
	case <-served:
	case <-s.done:
		t.Fatalf("%s exited before serving:\n%s", line, s.out.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("%s did not serve within 5 minutes:\n%s", line, s.out.String())
	}
	t.Logf("%s serves (gRPC %s, HTTP %s)", line, s.grpc, s.http)
	if !strings.Contains(cmdline, "-grpc-addr") && !strings.Contains(cmdline, "-http-addr") {
		r.subst[defaultGRPC], r.subst[defaultHTTP] = s.grpc, s.http
	}
}

// stopServers stops the running servers as Ctrl-C does: SIGINT to their
// process groups.
func (r *readmeRunner) stopServers() {
	for _, s := range r.servers {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
			r.t.Errorf("%s did not stop within 30s of SIGINT:\n%s", s.line, s.out.String())
		}
	}
	r.servers = nil
}

// call runs a curl or grpcurl line. Its output must be JSON; a comment
// that shows a JSON answer is the answer it must get.
func (r *readmeRunner) call(line, cmdline string) {
	t := r.t
	if c, ok := strings.CutPrefix(cmdline, "curl "); ok {
		cmdline = "curl -sS " + c
	}
	out := r.output("bash", "-c", cmdline)
	got, err := compactJSONValues(out)
	if err != nil || got == "" {
		t.Errorf("%s: the answer is not JSON (%v):\n%s", line, err, out)
		return
	}
	if want := comment(line); strings.HasPrefix(want, "{") {
		if want, err = compactJSONValues(want); err != nil {
			t.Errorf("%s: the comment is not JSON: %v", line, err)
		} else if got != want {
			t.Errorf("%s answered %s; the README says %s", line, got, want)
		}
	}
	t.Logf("%s: %s", line, got)
}

// projectREADMECalls runs the curl and grpcurl calls of the project's own
// README against the server make run started.
func (r *readmeRunner) projectREADMECalls() {
	readme, err := os.ReadFile(filepath.Join(r.cwd, "README.md"))
	if err != nil {
		r.t.Fatal(err)
	}
	for _, line := range shellLines(string(readme)) {
		if !isCall(line) {
			continue
		}
		cmdline := r.replace(line)
		if strings.HasSuffix(line, " list") {
			if out := r.output("bash", "-c", cmdline); !strings.Contains(out, "hello.v1.GreeterService\n") {
				r.t.Errorf("%s lacks the service:\n%s", line, out)
			}
			continue
		}
		r.call(line, cmdline)
	}
	// The served OpenAPI document and the console the README points to;
	// the generated document on disk describes the same route.
	doc := r.output("curl", "-sf", r.replace("http://127.0.0.1:8080/openapi.json"))
	file, err := os.ReadFile(filepath.Join(r.cwd, "gen", "hello", "v1", "hello.openapi.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	for name, d := range map[string]string{"/openapi.json": doc, "gen/hello/v1/hello.openapi.json": string(file)} {
		if !strings.Contains(d, `"openapi":"3.1`) && !strings.Contains(d, `"openapi": "3.1`) || !strings.Contains(d, `"/v1/hello/{name}"`) {
			r.t.Errorf("%s is not the OpenAPI 3.1 document of GET /v1/hello/{name}:\n%.400s", name, d)
		}
	}
	if page := r.output("curl", "-sf", r.replace("http://127.0.0.1:8080/docs")); !strings.Contains(page, "<html") {
		r.t.Errorf("/docs is not the console page:\n%.400s", page)
	}
}

// compactJSONValues returns the JSON values of s (one, or a stream of
// them) compacted, one per line.
func compactJSONValues(s string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var values []string
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", err
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return "", err
		}
		values = append(values, b.String())
	}
	return strings.Join(values, "\n"), nil
}
