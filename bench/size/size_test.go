package size_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	echov1 "github.com/goms-io/goms/bench/size/gen/grpc/echov1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// TestMains builds each minimal main, starts it on free loopback ports,
// makes one gRPC call (grpc-go client) and one HTTP/JSON call (net/http),
// checks that it serves gRPC health and reflection, and stops it with SIGTERM: each must exit cleanly.
func TestMains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries")
	}
	for _, tc := range []struct {
		main string
		// args returns the flags for gRPC on grpcAddr and HTTP on
		// httpAddr, and the addresses the calls go to.
		args func(grpcAddr, httpAddr string) (args []string, grpcTarget, httpTarget string)
	}{
		{"goms", func(g, h string) ([]string, string, string) {
			return []string{"-grpc-addr", g, "-http-addr", h}, g, h
		}},
		{"grpcgateway", func(g, h string) ([]string, string, string) {
			return []string{"-grpc-addr", g, "-http-addr", h}, g, h
		}},
		{"connect", func(_, h string) ([]string, string, string) {
			return []string{"-addr", h}, h, h // one listener for both
		}},
	} {
		t.Run(tc.main, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), tc.main)
			if out, err := exec.Command("go", "build", "-o", bin, "./"+tc.main).CombinedOutput(); err != nil {
				t.Fatalf("go build ./%s: %v\n%s", tc.main, err, out)
			}
			args, grpcTarget, httpTarget := tc.args(freeAddr(t), freeAddr(t))
			var stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				if cmd.ProcessState == nil {
					cmd.Process.Kill()
					<-exited
				}
				if t.Failed() {
					t.Logf("%s stderr:\n%s", tc.main, stderr.String())
				}
			}()
			waitListening(t, grpcTarget)
			waitListening(t, httpTarget)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := grpc.NewClient(grpcTarget, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			res, err := echov1.NewEchoServiceClient(conn).Echo(ctx, &echov1.EchoRequest{Message: "over gRPC"})
			if err != nil || res.GetMessage() != "over gRPC" {
				t.Errorf("gRPC Echo: %v, %v; want message %q", res, err, "over gRPC")
			}

			h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: echov1.EchoService_ServiceDesc.ServiceName})
			if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("gRPC health Check: %v, %v; want SERVING", h, err)
			}
			if services, err := listServices(ctx, conn); err != nil || !slices.Contains(services, echov1.EchoService_ServiceDesc.ServiceName) {
				t.Errorf("gRPC reflection: services %v, %v; want %s among them", services, err, echov1.EchoService_ServiceDesc.ServiceName)
			}

			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpTarget+"/v1/echo",
				strings.NewReader(`{"message":"over HTTP"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST /v1/echo: %v", err)
			}
			var body struct{ Message string }
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || err != nil || body.Message != "over HTTP" {
				t.Errorf("POST /v1/echo: status %d, body %+v, decode error %v; want 200 and message %q",
					resp.StatusCode, body, err, "over HTTP")
			}

			conn.Close()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("%s after SIGTERM: %v, want a clean exit", tc.main, err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("%s still running 15s after SIGTERM", tc.main)
			}
		})
	}
}

// listServices asks the server's reflection service (v1) for its services.
func listServices(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer stream.CloseSend()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		return nil, err
	}
	res, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range res.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listening on %s after 10s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
