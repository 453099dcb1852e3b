package etcd_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	_ "github.com/goms-io/goms/etcd"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/nohttp"
	"github.com/goms-io/goms/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// startEtcd runs a real single-node etcd on free loopback ports until the
// test ends and returns its client URL. Without the etcd binary the test
// is skipped, or fails when GOMS_REQUIRE_TOOLS is set (as in CI).
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("GOMS_REQUIRE_TOOLS") != "" {
			t.Fatal("etcd not found; install it: apt-get install etcd-server")
		}
		t.Skip("etcd not found (apt-get install etcd-server)")
	}
	client, peer := "http://"+testutil.FreeAddr(t), "http://"+testutil.FreeAddr(t)
	cmd := exec.Command(bin, "--name", "goms-test", "--data-dir", filepath.Join(t.TempDir(), "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "goms-test="+peer, "--log-level", "error")
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := etcdClient(t, client)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "health")
		cancel()
		if err == nil {
			return client
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not answer within 20s: %v\n%s", err, out.String())
		}
	}
}

func etcdClient(t *testing.T, url string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// registered lists the endpoint keys of a service in etcd.
func registered(t *testing.T, c *clientv3.Client, service string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, "goms/"+service+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	return keys
}

// TestEtcdDiscovery registers two echo replicas in a real etcd, calls them
// through a server that knows only etcd, and checks that a stopping
// replica deregisters before it drains.
func TestEtcdDiscovery(t *testing.T) {
	etcdURL := startEtcd(t)
	c := etcdClient(t, etcdURL)
	var replicas []*goms.Server
	var want []string
	for range 2 {
		cfg := goms.DefaultConfig()
		cfg.Mode, cfg.Etcd.Endpoints = goms.ModeGRPC, []string{etcdURL}
		s := serveConfig(t, cfg)
		replicas = append(replicas, s)
		want = append(want, "goms/"+echo.EchoServiceName+"/"+s.GRPCAddr())
	}
	keys := registered(t, c, echo.EchoServiceName)
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("registered %v, want %v", keys, want)
	}

	// A client server with no target for echo finds it through etcd.
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr, cfg.Etcd.Endpoints = "127.0.0.1:0", "127.0.0.1:0", []string{etcdURL}
	front := goms.New(cfg)
	nohttp.RegisterPingService(front, &pingServer{})
	client := echo.NewEchoServiceClientFrom(front)
	if err := front.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer front.Stop(context.Background())
	for range 10 {
		if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "via etcd"}); err != nil {
			t.Fatalf("call through etcd: %v", err)
		}
	}

	// Stop one replica while a slow call is in flight: its key is gone
	// before the call finishes, and calls keep succeeding on the other.
	slow := make(chan error, 1)
	go func() {
		conn := dial(t, replicas[0].GRPCAddr())
		_, err := conn.Echo(context.Background(), &echo.EchoRequest{Message: "slow", DelayMs: 1500})
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- replicas[0].Stop(context.Background()) }()
	for deadline := time.Now().Add(5 * time.Second); len(registered(t, c, echo.EchoServiceName)) != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stopping replica did not deregister")
		}
	}
	select {
	case err := <-slow:
		t.Fatalf("the slow call ended (%v) before deregistration was seen: deregistration must come first", err)
	default:
	}
	if err := <-slow; err != nil {
		t.Errorf("call in flight on the stopping replica: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
	for range 10 {
		if _, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "after"}); err != nil {
			t.Fatalf("call after one replica left: %v", err)
		}
	}
}

func TestEtcdErrors(t *testing.T) {
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Etcd.Endpoints, cfg.Client.ConnectTimeout = []string{"http://" + testutil.FreeAddr(t)}, 500*time.Millisecond
	s := goms.New(cfg)
	echo.RegisterEchoService(s, &echotest.Server{})
	err := s.Start(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "etcd "+cfg.Etcd.Endpoints[0]+": not reachable within 500ms (client.connect_timeout): ") {
		t.Errorf("Start with etcd down: %v", err)
	}

	etcdURL := startEtcd(t)
	cfg.GRPC.Addr, cfg.Etcd.Endpoints = "0.0.0.0:0", []string{etcdURL}
	s = goms.New(cfg)
	echo.RegisterEchoService(s, &echotest.Server{})
	err = s.Start(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "etcd.advertise_addr: the gRPC server listens on all interfaces") {
		s.Stop(context.Background())
		t.Errorf("Start on all interfaces without advertise_addr: %v", err)
	}
}

// serveConfig starts an echo server for cfg (ports forced to 0) until the
// test ends.
func serveConfig(t *testing.T, cfg goms.Config) *goms.Server {
	t.Helper()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg)
	echo.RegisterEchoService(s, &echotest.Server{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

// dial returns an echo client connected to addr directly.
func dial(t *testing.T, addr string) echo.EchoServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return echo.NewEchoServiceClient(conn)
}

// pingServer is a trivial second service, so that a server can host
// something while calling echo elsewhere.
type pingServer struct {
	nohttp.UnimplementedPingServiceServer
}
