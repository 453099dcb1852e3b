package gen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	auditpb "github.com/goms-io/goms/internal/gen/testdata/implpkg/audit"
	todopb "github.com/goms-io/goms/internal/gen/testdata/implpkg/todo"
	mainspb "github.com/goms-io/goms/internal/gen/testdata/mains"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestGeneratedMains builds the mains generated for testdata/mains (served
// by its goms skeleton, so every call is Unimplemented) and runs them as a
// user would: the server main in each mode, and the HTTP-only gateway main
// in front of the gRPC-only server. Each stops on SIGTERM with status 0.
func TestGeneratedMains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs binaries; skipped with -short")
	}
	bin := t.TempDir()
	for _, name := range []string{"greeter-service", "greeter-service-gateway", "internal-service"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, name), "./internal/gen/testdata/mains/cmd/"+name)
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	const wantMsg = "method SayHello not implemented"

	t.Run("gateway", func(t *testing.T) {
		p := startMain(t, filepath.Join(bin, "greeter-service"), "-mode", "gateway")
		checkGRPCUnimplemented(t, p.addrs["gRPC"], wantMsg)
		checkHTTPUnimplemented(t, p.addrs["HTTP"], wantMsg)
	})
	t.Run("grpc+http", func(t *testing.T) {
		backend := startMain(t, filepath.Join(bin, "greeter-service"), "-mode", "grpc")
		checkGRPCUnimplemented(t, backend.addrs["gRPC"], wantMsg)
		edge := startMain(t, filepath.Join(bin, "greeter-service-gateway"), "-upstream", backend.addrs["gRPC"])
		checkHTTPUnimplemented(t, edge.addrs["HTTP"], wantMsg)
		if _, ok := edge.addrs["gRPC"]; ok {
			t.Error("the gateway main serves gRPC")
		}
	})
	t.Run("grpc-only service", func(t *testing.T) {
		p := startMain(t, filepath.Join(bin, "internal-service"), "-mode", "grpc")
		if p.addrs["gRPC"] == "" {
			t.Fatal("no gRPC address")
		}
	})
}

// TestGeneratedMainsOnePackagePerService builds the mains of
// testdata/implpkg, whose two services are implemented in two packages
// (impl_package=<service>=<import path>), and runs each: each main builds
// its service with its own package's constructor and serves it on gRPC
// and HTTP, and only it: the other service's routes are not found there.
func TestGeneratedMainsOnePackagePerService(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs binaries; skipped with -short")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./internal/gen/testdata/implpkg/cmd/...")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	type service struct {
		main, route, otherRoute, want string
		call                          func(context.Context, *grpc.ClientConn) error
	}
	for _, s := range []service{
		{"audit-service-v1", "/v1/events", "/v1/todos/1", "method ListEvents not implemented",
			func(ctx context.Context, c *grpc.ClientConn) error {
				_, err := auditpb.NewAuditServiceClient(c).ListEvents(ctx, &auditpb.ListEventsRequest{})
				return err
			}},
		{"todo-service-v1", "/v1/todos/1", "/v1/events", "method GetTodo not implemented",
			func(ctx context.Context, c *grpc.ClientConn) error {
				_, err := todopb.NewTodoServiceClient(c).GetTodo(ctx, &todopb.GetTodoRequest{Id: "1"})
				return err
			}},
	} {
		t.Run(s.main, func(t *testing.T) {
			p := startMain(t, filepath.Join(bin, s.main), "-mode", "gateway")
			conn, err := grpc.NewClient(p.addrs["gRPC"], grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if st := status.Convert(s.call(ctx, conn)); st.Code() != codes.Unimplemented || st.Message() != s.want {
				t.Errorf("gRPC: %v; want Unimplemented %q", st, s.want)
			}
			if code, body := httpGet(t, p.addrs["HTTP"], s.route); code != http.StatusNotImplemented || !strings.Contains(body, s.want) {
				t.Errorf("GET %s: %d %s; want 501 with %q", s.route, code, body, s.want)
			}
			if code, body := httpGet(t, p.addrs["HTTP"], s.otherRoute); code != http.StatusNotFound {
				t.Errorf("GET %s (the other service's route): %d %s; want 404", s.otherRoute, code, body)
			}
		})
	}
	for _, name := range []string{"audit-service-v1-gateway", "todo-service-v1-gateway"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			t.Errorf("gateway main %s not built: %v", name, err)
		}
	}
}

func httpGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var servingLine = regexp.MustCompile(`msg="serving (gRPC|HTTP)" addr=(\S+)`)

type mainProc struct {
	addrs map[string]string
}

// startMain starts a generated main on free loopback ports and waits until
// it serves what its mode serves (the gateway main: HTTP only). Cleanup
// sends SIGTERM and requires exit status 0.
func startMain(t *testing.T, bin string, args ...string) *mainProc {
	t.Helper()
	args = append(args, "-http-addr", "127.0.0.1:0")
	if !strings.HasSuffix(bin, "-gateway") {
		args = append(args, "-grpc-addr", "127.0.0.1:0")
	}
	cmd := exec.Command(bin, args...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	p := &mainProc{addrs: make(map[string]string)}
	want := map[string]bool{"gRPC": !strings.HasSuffix(bin, "-gateway") && !contains(args, "http"), "HTTP": !contains(args, "grpc")}
	lines := bufio.NewScanner(stderr)
	kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	for (want["gRPC"] && p.addrs["gRPC"] == "") || (want["HTTP"] && p.addrs["HTTP"] == "") {
		if !lines.Scan() {
			cmd.Wait()
			t.Fatalf("%s %q exited before serving:\n%s", filepath.Base(bin), args, log.String())
		}
		log.WriteString(lines.Text() + "\n")
		if m := servingLine.FindStringSubmatch(lines.Text()); m != nil {
			p.addrs[m[1]] = m[2]
		}
	}
	kill.Stop()
	go io.Copy(io.Discard, stderr)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s %q after SIGTERM: %v", filepath.Base(bin), args, err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("%s did not stop within 20s of SIGTERM", filepath.Base(bin))
		}
	})
	return p
}

func contains(args []string, s string) bool {
	for _, a := range args {
		if a == s {
			return true
		}
	}
	return false
}

func checkGRPCUnimplemented(t *testing.T, addr, want string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = mainspb.NewGreeterServiceClient(conn).SayHello(ctx, &mainspb.HelloRequest{Name: "bob"})
	if s := status.Convert(err); s.Code() != codes.Unimplemented || s.Message() != want {
		t.Errorf("gRPC SayHello: %v; want Unimplemented %q", err, want)
	}
}

func checkHTTPUnimplemented(t *testing.T, addr, want string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/v1/hello/bob", addr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), want) {
		t.Errorf("GET /v1/hello/bob: %d %s; want 501 with %q", resp.StatusCode, body, want)
	}
}
