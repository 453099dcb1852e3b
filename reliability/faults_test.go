package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
	"log/slog"
)

// TestFaultPanic: a panicking handler gives Internal (500 on HTTP), the
// panic is logged with its stack, and the next call succeeds.
func TestFaultPanic(t *testing.T) {
	var logs syncBuffer
	s := serve(t, configWithFreePorts(goms.DefaultConfig()), nil, goms.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	client := echo.NewEchoServiceClient(dialGRPC(t, s.GRPCAddr()))
	for range 2 {
		_, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "panic"})
		if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
			t.Errorf("gRPC: %v, want Internal: internal error", err)
		}
		if resp, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "next"}); err != nil || resp.GetMessage() != "next" {
			t.Errorf("gRPC call after a panic: %v, %v", resp, err)
		}
		got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/panic"), false)
		if got.status != 500 || strings.TrimSpace(got.body) != errorBody(13, "internal error") {
			t.Errorf("HTTP: %d %s", got.status, got.body)
		}
		if got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/next"), false); got.status != 200 || got.body != `{"message":"next"}` {
			t.Errorf("HTTP call after a panic: %d %s", got.status, got.body)
		}
	}
	out := logs.String()
	if n := strings.Count(out, `msg="panic in handler"`); n != 4 {
		t.Errorf("%d panics logged, want 4:\n%s", n, out)
	}
	for _, want := range []string{`panic="echo asked to panic"`, "goroutine ", "echotest.(*Server).answer"} {
		if !strings.Contains(out, want) {
			t.Errorf("panic log lacks %q:\n%s", want, out)
		}
	}
}

// TestFaultUpstreamDown: in HTTP-only mode with nothing at the upstream
// address, calls get 503 with the JSON error body, and succeed again by
// themselves once the upstream comes up.
func TestFaultUpstreamDown(t *testing.T) {
	upstream := testutil.FreeAddr(t)
	cfg := configWithFreePorts(goms.DefaultConfig())
	cfg.Mode, cfg.Upstream, cfg.Client.CallTimeout = goms.ModeHTTP, upstream, 2*time.Second
	var logs syncBuffer
	front := serve(t, cfg, nil, goms.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	start := time.Now()
	got := rawHTTP(t, front.HTTPAddr(), get("/v1/echo/x"), false)
	took := time.Since(start)
	// The answer names the condition; the connection's error, with the
	// upstream's address, goes to the log only.
	want := errorBody(14, "upstream unavailable: connection refused")
	if got.status != 503 || got.body != want {
		t.Errorf("upstream down: %d %s\nwant 503 %s", got.status, got.body, want)
	}
	if detail := "dial tcp " + upstream + ": connect: connection refused"; !strings.Contains(logs.String(), detail) {
		t.Errorf("the log lacks %q:\n%s", detail, logs.String())
	}
	t.Logf("upstream down: 503 after %v (call timeout %v)", took.Round(time.Millisecond), cfg.Client.CallTimeout)

	backendCfg := goms.DefaultConfig()
	backendCfg.Mode, backendCfg.GRPC.Addr = goms.ModeGRPC, upstream
	serve(t, backendCfg, nil)
	start = time.Now()
	for tries := 1; ; tries++ {
		got = rawHTTP(t, front.HTTPAddr(), get("/v1/echo/back"), false)
		if got.status == 200 {
			if got.body != `{"message":"back"}` {
				t.Errorf("after recovery: %s", got.body)
			}
			t.Logf("recovered after %d tries, %v", tries, time.Since(start).Round(time.Millisecond))
			break
		}
		if got.status != 503 || !isErrorBody(got.body) {
			t.Fatalf("while the upstream comes back: %d %s", got.status, got.body)
		}
		if tries > 600 {
			t.Fatalf("no recovery within %d tries: %d %s", tries, got.status, got.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFaultSlowUpstream: a call's deadline, from grpc-timeout or the
// configured default, reaches the upstream; the caller gets 504 and the
// upstream handler sees its call cancelled.
func TestFaultSlowUpstream(t *testing.T) {
	impl := &echotest.Server{}
	backendCfg := configWithFreePorts(goms.DefaultConfig())
	backendCfg.Mode = goms.ModeGRPC
	backend := serve(t, backendCfg, impl)
	frontCfg := configWithFreePorts(goms.DefaultConfig())
	frontCfg.Mode, frontCfg.Upstream, frontCfg.Client.CallTimeout = goms.ModeHTTP, backend.GRPCAddr(), 300*time.Millisecond
	front := serve(t, frontCfg, nil)
	gatewayImpl := &echotest.Server{}
	gateway := serve(t, configWithFreePorts(goms.DefaultConfig()), gatewayImpl)
	// The caller's deadline and the upstream's (the same, propagated in
	// grpc-timeout) race: when the upstream resets the stream first,
	// grpc-go reports DeadlineExceeded with the reset as its message.
	deadline := []string{errorBody(4, "context deadline exceeded"),
		errorBody(4, "stream terminated by RST_STREAM with error code: CANCEL")}
	// Finding: a server stream failing before its first message answers
	// in grpc-gateway's in-stream shape (see TestStreamErrorShape).
	streamDeadline := []string{`{"code":4,"message":"context deadline exceeded","details":[]}` + "\n"}
	for _, tc := range []struct {
		name, addr string
		req        []byte
		impl       *echotest.Server
		want       []string
	}{
		{"http mode, configured call timeout", front.HTTPAddr(), get("/v1/echo/slow?delayMs=60000"), impl, deadline},
		{"http mode, Grpc-Timeout header", front.HTTPAddr(), get("/v1/echo/slow?delayMs=60000", "Grpc-Timeout: 100m\r\n"), impl, deadline},
		{"gateway mode, Grpc-Timeout header", gateway.HTTPAddr(), get("/v1/echo/slow?delayMs=60000", "Grpc-Timeout: 100m\r\n"), gatewayImpl, deadline},
		{"gateway mode, server stream", gateway.HTTPAddr(), get("/v1/expand/a%20b?delayMs=60000", "Grpc-Timeout: 100m\r\n"), gatewayImpl, streamDeadline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.impl.Cancelled.Load()
			got := rawHTTP(t, tc.addr, tc.req, false)
			if got.status != 504 || !slices.Contains(tc.want, got.body) {
				t.Errorf("got %d %s, want 504 and one of %q", got.status, got.body, tc.want)
			}
			waitFor(t, "the upstream handler to see its call cancelled", func() bool { return tc.impl.Cancelled.Load() > before })
		})
	}
	t.Run("HTTP client goes away", func(t *testing.T) {
		before := gatewayImpl.Cancelled.Load()
		ctx, cancel := context.WithCancel(context.Background())
		entered := make(chan string, 1)
		gatewayImpl.Entered = entered
		defer func() { gatewayImpl.Entered = nil }()
		go func() { <-entered; cancel() }()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+gateway.HTTPAddr()+"/v1/echo/slow?delayMs=60000", nil)
		if _, err := http.DefaultClient.Do(req); err == nil {
			t.Fatal("the cancelled request succeeded")
		}
		waitFor(t, "the handler to see its call cancelled", func() bool { return gatewayImpl.Cancelled.Load() > before })
	})
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 1000 {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIdleConnections opens many idle gRPC and HTTP connections to a
// server process and records the memory each costs it (VmRSS). Set
// GOMS_IDLE_CONNS to change the number of each (default 1000).
func TestIdleConnections(t *testing.T) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("GOMS_IDLE_CONNS")); err == nil && v > 0 {
		n = v
	}
	// Lift the connection caps (512 a port by default) above the count.
	limit := strconv.Itoa(n + 16)
	p := startProc(t, os.Args[0], "gateway", "-grpc-max-connections", limit, "-http-max-connections", limit)
	// Warm the server up so that the baseline holds its lazily made state.
	warm := echo.NewEchoServiceClient(dialGRPC(t, p.GRPCAddr))
	if _, err := warm.Echo(context.Background(), &echo.EchoRequest{Message: "warm"}); err != nil {
		t.Fatal(err)
	}
	rawHTTP(t, p.HTTPAddr, get("/v1/echo/warm"), false)
	time.Sleep(300 * time.Millisecond)
	before := vmRSS(t, p.Cmd.Process.Pid)

	var conns []*grpc.ClientConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c := dialGRPC(t, p.GRPCAddr)
		c.Connect()
		conns = append(conns, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range conns {
		for s := c.GetState(); s != connectivity.Ready; s = c.GetState() {
			if !c.WaitForStateChange(ctx, s) {
				t.Fatalf("gRPC connection not ready: %v", s)
			}
		}
	}
	afterGRPC := vmRSS(t, p.Cmd.Process.Pid)
	var httpConns []net.Conn
	defer func() {
		for _, c := range httpConns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", p.HTTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		httpConns = append(httpConns, c)
		// One request, then the connection idles in keep-alive.
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	time.Sleep(300 * time.Millisecond)
	after := vmRSS(t, p.Cmd.Process.Pid)
	perGRPC := float64(afterGRPC-before) / float64(n)
	perHTTP := float64(after-afterGRPC) / float64(n)
	t.Logf("idle connections: %d gRPC + %d HTTP; server VmRSS %d KiB → %d KiB → %d KiB; %.1f KiB per idle gRPC connection, %.1f KiB per idle HTTP connection",
		n, n, before>>10, afterGRPC>>10, after>>10, perGRPC/1024, perHTTP/1024)
	for what, per := range map[string]float64{"gRPC": perGRPC, "HTTP": perHTTP} {
		if per > 1<<20 {
			t.Errorf("%s: %.0f KiB per idle connection, want < 1 MiB", what, per/1024)
		}
	}
	// Still serving with all of them open.
	if _, err := warm.Echo(context.Background(), &echo.EchoRequest{Message: "still"}); err != nil {
		t.Fatal(err)
	}
}

// vmRSS returns the resident memory of process pid, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skip("no /proc:", err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestStreamErrorShape: a server stream that fails before its first
// message should answer with the error contract's body, as unary calls do.
func TestStreamErrorShape(t *testing.T) {
	s := serve(t, configWithFreePorts(goms.DefaultConfig()), nil)
	got := rawHTTP(t, s.HTTPAddr(), get("/v1/expand/panic"), false)
	if got.status != 500 || strings.TrimSpace(got.body) != errorBody(13, "internal error") {
		t.Errorf("got %d %s", got.status, got.body)
	}
}
