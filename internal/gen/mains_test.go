package gen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

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
