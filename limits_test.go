package goms

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms/internal/testutil"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The tests of the caps on both ports (issue 14: grpc.max_header_bytes,
// grpc.max_concurrent_streams, grpc.max_connections,
// grpc.handshake_timeout, grpc.idle_timeout, grpc.max_unary_timeout,
// http.max_header_bytes, http.max_concurrent_streams,
// http.max_connections). Each fails without its setting; where a raw
// client is needed to misbehave, it speaks HTTP/2 with x/net's Framer.
// reliability/attack_test.go runs the same attacks at scale, with a
// bystander.

const (
	healthCheck = "/grpc.health.v1.Health/Check"
	healthWatch = "/grpc.health.v1.Health/Watch"
)

// grpcModeConfig is the default configuration in mode grpc.
func grpcModeConfig() Config {
	cfg := DefaultConfig()
	cfg.Mode = ModeGRPC
	return cfg
}

func dialTestGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestGRPCMaxHeaderBytes checks grpc.max_header_bytes at its default,
// 48 KiB: the server advertises it, grpc-go clients refuse to send more,
// and a client that sends more anyway is refused.
func TestGRPCMaxHeaderBytes(t *testing.T) {
	s := startTestServer(t, grpcModeConfig())
	big := strings.Repeat("x", 64<<10)

	health := healthpb.NewHealthClient(dialTestGRPC(t, s.GRPCAddr()))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-big", big)
	if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("grpc-go client: a call with 64 KiB of metadata succeeded")
	}
	if _, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("grpc-go client: a small call after it: %v", err)
	}

	// A raw client that sends it anyway (64 fields of 1 KiB) is refused:
	// with a RST_STREAM or, as here where it goes far over the limit, by
	// the end of the connection (x/net's HTTP/2 framer stops reading such
	// a header block). A grpc-go server without the cap would answer.
	c := dialHTTP2(t, s.GRPCAddr())
	if got := c.settings(t)[http2.SettingMaxHeaderListSize]; got != 48<<10 {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE %d, want %d", got, 48<<10)
	}
	var md []string
	for i := range 64 {
		md = append(md, fmt.Sprintf("x-md-%d", i), strings.Repeat("x", 1<<10))
	}
	c.writeGRPCHeaders(1, healthCheck, false, md...)
	c.writeEmptyMessage(1)
	if answer := c.answer(t, 1); answer == "HEADERS" {
		t.Errorf("raw client: 64 KiB of metadata answered with HEADERS")
	}
	// And so is one field of 64 KiB.
	c = dialHTTP2(t, s.GRPCAddr())
	c.writeGRPCHeaders(1, healthCheck, false, "x-big", big)
	c.writeEmptyMessage(1)
	if answer := c.answer(t, 1); answer == "HEADERS" {
		t.Errorf("raw client: one 64 KiB field answered with HEADERS")
	}
}

// TestGRPCMaxConcurrentStreams checks grpc.max_concurrent_streams at its
// default, 100: the server advertises it, and of 101 streams held open on
// one connection the 101st is refused.
func TestGRPCMaxConcurrentStreams(t *testing.T) {
	s := startTestServer(t, grpcModeConfig())
	c := dialHTTP2(t, s.GRPCAddr())
	if got := c.settings(t)[http2.SettingMaxConcurrentStreams]; got != 100 {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want 100", got)
	}
	openStreams(t, c, 101)
}

// openStreams opens n streams on c, Health/Watch calls whose request never
// comes, so each stays open, and checks that the last one is refused.
func openStreams(t *testing.T, c *http2Conn, n int) {
	t.Helper()
	for i := range n {
		if err := c.writeGRPCHeaders(uint32(2*i+1), healthWatch, false); err != nil {
			t.Fatal(err)
		}
	}
	last := uint32(2*n - 1)
	f := c.streamEnd(t, last)
	if !f.rst {
		t.Fatalf("stream %d of %d answered with HEADERS, want RST_STREAM", n, n)
	}
	if f.code != http2.ErrCodeRefusedStream && f.code != http2.ErrCodeProtocol {
		t.Errorf("stream %d of %d: RST_STREAM %v, want REFUSED_STREAM or PROTOCOL_ERROR", n, n, f.code)
	}
}

// TestHTTPMaxConcurrentStreams checks http.max_concurrent_streams at its
// default, 100, on HTTP/2 to the HTTP port: here gRPC sharing one port
// with HTTP, in cleartext, where net/http alone would allow 250.
func TestHTTPMaxConcurrentStreams(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GRPC.Addr = testutil.FreeAddr(t)
	cfg.HTTP.Addr = cfg.GRPC.Addr
	s := startTestServer(t, cfg)
	c := dialHTTP2(t, s.HTTPAddr())
	if got := c.settings(t)[http2.SettingMaxConcurrentStreams]; got != 100 {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want 100", got)
	}
	openStreams(t, c, 101)
}

// TestGRPCHandshakeTimeout checks that a connection that sends the HTTP/2
// preface and nothing more is closed after grpc.handshake_timeout (here
// 100 ms; grpc-go alone waits 120 s).
func TestGRPCHandshakeTimeout(t *testing.T) {
	cfg := grpcModeConfig()
	cfg.GRPC.HandshakeTimeout = 100 * time.Millisecond
	s := startTestServer(t, cfg)
	dialHTTP2Preface(t, s.GRPCAddr()).waitClosed(t)

	// A connection that finishes its handshake is kept.
	dialHTTP2(t, s.GRPCAddr()).ping(t, 1)
}

// TestGRPCIdleTimeout checks that a connection without calls gets a
// GOAWAY after grpc.idle_timeout (here 100 ms; grpc-go alone keeps it).
func TestGRPCIdleTimeout(t *testing.T) {
	cfg := grpcModeConfig()
	cfg.GRPC.IdleTimeout = 100 * time.Millisecond
	s := startTestServer(t, cfg)
	c := dialHTTP2(t, s.GRPCAddr())
	for {
		if f := c.next(t); f.goAway {
			if f.code != http2.ErrCodeNo {
				t.Errorf("GOAWAY %v %q, want NO_ERROR", f.code, f.debug)
			}
			return
		}
	}
}

// TestGRPCMaxConnections checks grpc.max_connections: with 2 connections
// open, a third is closed without a byte, and the server logs it; once one
// closes, a new one is served.
func TestGRPCMaxConnections(t *testing.T) {
	cfg := grpcModeConfig()
	cfg.GRPC.MaxConnections = 2
	var log testutil.SyncBuffer
	s := startTestServer(t, cfg, WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	addr := s.GRPCAddr()
	a := dialHTTP2(t, addr)
	a.settings(t)
	dialHTTP2(t, addr).settings(t)

	if got, err := firstBytes(t, addr); err == nil {
		t.Fatalf("third connection: the server sent %q, want the connection closed", got)
	}
	if !strings.Contains(log.String(), "connection limit reached") {
		t.Errorf("no warning logged:\n%s", log.String())
	}
	a.conn.Close()
	eventually(t, "a connection after one of the 2 closed is served", func() bool {
		_, err := firstBytes(t, addr)
		return err == nil
	})
}

// firstBytes connects to addr and returns the first bytes the server
// sends, or the error that ends the connection first.
func firstBytes(t *testing.T, addr string) ([]byte, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err // a reset can come before connect returns
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server neither answered nor closed the connection in 10 s")
	}
	if n > 0 {
		return buf[:n], nil
	}
	if err == nil {
		err = io.EOF
	}
	return nil, err
}

// eventually polls cond every 10 ms and fails t if it is still false
// after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
	}
}

// TestHTTPMaxConnections checks http.max_connections: with 2 keep-alive
// connections open, a third is closed without an answer while the admin
// port, which has no cap, still answers; once one closes, a new one is
// served.
func TestHTTPMaxConnections(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HTTP.MaxConnections = 2
	cfg.Admin.Addr = "127.0.0.1:0"
	s := startTestServer(t, cfg)
	addr := s.HTTPAddr()
	a := keepAlive(t, addr)
	keepAlive(t, addr)

	if reply := rawGet(t, addr); len(reply) > 0 {
		t.Fatalf("third connection answered:\n%s", reply)
	}
	if code, body := testutil.Get(t, "http://"+s.AdminAddr()+readinessPath); code != http.StatusOK {
		t.Errorf("readiness on the admin port with the HTTP port full: %d %s", code, body)
	}
	a.Close()
	eventually(t, "a request after one of the 2 connections closed is answered", func() bool {
		return len(rawGet(t, addr)) > 0
	})
}

// rawGet sends a GET on a new connection to addr and returns what comes
// back before the connection ends: nothing when the server refuses it.
func rawGet(t *testing.T, addr string) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil // a reset can come before connect returns
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	reply, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server neither answered nor closed the connection in 10 s")
	}
	return reply
}

// keepAlive opens a connection to addr, gets one answer on it and returns
// it open; the test's end closes it.
func keepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.Write([]byte("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return conn
}

// TestHTTPMaxHeaderBytes checks http.max_header_bytes at its default,
// 32 KiB: 40 KiB of headers get the JSON 431, and so do 100 KiB (over
// net/http's own limit, twice the setting).
func TestHTTPMaxHeaderBytes(t *testing.T) {
	s := startTestServer(t, DefaultConfig())
	for _, size := range []int{40 << 10, 100 << 10} {
		conn, err := net.Dial("tcp", s.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		go conn.Write([]byte("GET /nope HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("x", size) + "\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%d KiB of headers: %v", size>>10, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(string(body), `{"code":8,`) {
			t.Errorf("%d KiB of headers: %d %s, want 431 with the JSON error body", size>>10, resp.StatusCode, body)
		}
	}
}

// deadlineService is a service whose unary method Get and server stream
// Watch report the deadline their context has (zero: none).
func deadlineService(deadlines chan<- time.Time) *grpc.ServiceDesc {
	report := func(ctx context.Context) {
		d, _ := ctx.Deadline()
		deadlines <- d
	}
	return &grpc.ServiceDesc{
		ServiceName: "goms.test.Deadline",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Get",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := new(emptypb.Empty)
				if err := dec(in); err != nil {
					return nil, err
				}
				handler := func(ctx context.Context, _ any) (any, error) { report(ctx); return new(emptypb.Empty), nil }
				if interceptor == nil {
					return handler(ctx, in)
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/goms.test.Deadline/Get"}, handler)
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    "Watch",
			ServerStreams: true,
			Handler: func(_ any, stream grpc.ServerStream) error {
				if err := stream.RecvMsg(new(emptypb.Empty)); err != nil {
					return err
				}
				report(stream.Context())
				return nil
			},
		}},
	}
}

// TestMaxUnaryTimeout checks grpc.max_unary_timeout at its default, 1m:
// a unary call over gRPC with a deadline 100,000 hours away runs with one
// at most a minute away, one with none keeps none (HTTP calls get theirs from the
// gateway: TestGatewayCapsUnaryDeadline); an in-process call the program
// makes keeps its caller's deadline; a server stream without a deadline
// keeps none.
func TestMaxUnaryTimeout(t *testing.T) {
	const limit = time.Minute
	if got := DefaultConfig().GRPC.MaxUnaryTimeout; got != limit {
		t.Fatalf("default grpc.max_unary_timeout %v, want %v", got, limit)
	}
	deadlines := make(chan time.Time, 1)
	cfg := grpcModeConfig()
	cfg.GRPC.Addr = "127.0.0.1:0"
	s := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	s.RegisterService(deadlineService(deadlines), struct{}{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })

	// Calls the program makes in-process keep their caller's deadline.
	for _, timeout := range []time.Duration{100000 * time.Hour, 0} {
		ctx := context.Background()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		want, _ := ctx.Deadline()
		if err := s.LocalConn().Invoke(ctx, "/goms.test.Deadline/Get", new(emptypb.Empty), new(emptypb.Empty)); err != nil {
			t.Fatalf("in-process: %v", err)
		}
		if d := <-deadlines; !d.Equal(want) {
			t.Errorf("in-process, call timeout %v: the handler's deadline is %v, want the caller's %v", timeout, d, want)
		}
	}
	for _, tc := range []struct {
		name string
		conn grpc.ClientConnInterface
	}{{"gRPC", dialTestGRPC(t, s.GRPCAddr())}} {
		for _, timeout := range []time.Duration{100000 * time.Hour, 0} {
			ctx := context.Background()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			if err := tc.conn.Invoke(ctx, "/goms.test.Deadline/Get", new(emptypb.Empty), new(emptypb.Empty)); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			after := time.Now()
			d := <-deadlines
			switch {
			case timeout == 0 && !d.IsZero():
				t.Errorf("%s, no deadline: the handler got one, %v; a call without one keeps none", tc.name, d)
			case timeout > 0 && (d.IsZero() || d.After(after.Add(limit))):
				t.Errorf("%s, call timeout %v: the handler's deadline is %v, want at most %v", tc.name, timeout, d, after.Add(limit))
			}
		}
		stream, err := tc.conn.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, "/goms.test.Deadline/Watch")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := stream.SendMsg(new(emptypb.Empty)); err != nil {
			t.Fatal(err)
		}
		stream.CloseSend()
		if err := stream.RecvMsg(new(emptypb.Empty)); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: stream: %v", tc.name, err)
		}
		if d := <-deadlines; !d.IsZero() {
			t.Errorf("%s: a server stream without a deadline got one: %v", tc.name, d)
		}
	}
}

// TestCapsOverridable checks that grpc-go options given with
// WithGRPCServerOptions replace GoMs's caps.
func TestCapsOverridable(t *testing.T) {
	s := startTestServer(t, grpcModeConfig(), WithGRPCServerOptions(grpc.MaxConcurrentStreams(7), grpc.MaxHeaderListSize(5000)))
	settings := dialHTTP2(t, s.GRPCAddr()).settings(t)
	if settings[http2.SettingMaxConcurrentStreams] != 7 || settings[http2.SettingMaxHeaderListSize] != 5000 {
		t.Errorf("SETTINGS %v, want the user's MAX_CONCURRENT_STREAMS 7 and MAX_HEADER_LIST_SIZE 5000", settings)
	}
}
