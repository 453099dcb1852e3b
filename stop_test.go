package goms_test

import (
	"bufio"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// startStoppable starts the echo service in gateway mode on free ports
// (on one port when shared); the test stops it with Stop.
func startStoppable(t *testing.T, shared bool) (*goms.Server, *echotest.Server) {
	t.Helper()
	cfg := goms.DefaultConfig()
	cfg.Mode, cfg.GRPC.Addr, cfg.HTTP.Addr = goms.ModeGateway, "127.0.0.1:0", "127.0.0.1:0"
	if shared {
		addr := testutil.FreeAddr(t)
		cfg.GRPC.Addr, cfg.HTTP.Addr = addr, addr
	}
	cfg.GRPC.Reflection = true
	s := goms.New(cfg)
	impl := &echotest.Server{Entered: make(chan string, 10)}
	echo.RegisterEchoService(s, impl)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s, impl
}

// TestStopEndsOwnStreams opens a health Watch stream and a reflection
// stream, then stops the server with a 30 s grace: the watcher is told
// NOT_SERVING, both streams end with Unavailable, and Stop returns nil
// (it did not wait out the grace and cut them off).
func TestStopEndsOwnStreams(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "own port"
		if shared {
			name = "shared port"
		}
		t.Run(name, func(t *testing.T) {
			s, _ := startStoppable(t, shared)
			conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			streams := testutil.OpenOwnStreams(ctx, t, conn, "fixtures.echo.EchoService")

			stopped := make(chan error, 1)
			go func() {
				stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				stopped <- s.Stop(stopCtx)
			}()
			streams.CheckEndedOnStop(t)
			if err := <-stopped; err != nil {
				t.Errorf("Stop: %v, want nil: only GoMs's own streams were open", err)
			}
		})
	}
}

// TestStopCancelsUserStreams leaves a user server stream running past the
// grace period, over gRPC and over HTTP through the gateway: Stop reports
// the grace exceeded, and the handler's context is cancelled. The
// program's own stream to a service it hosts (in-process, which the drain
// does not wait for) is cancelled when the drain ends.
func TestStopCancelsUserStreams(t *testing.T) {
	openGRPC := func(t *testing.T, s *goms.Server, ctx context.Context) {
		conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		st, err := echo.NewEchoServiceClient(conn).Expand(ctx, &echo.EchoRequest{Message: "a b", DelayMs: 60_000})
		if err != nil {
			t.Fatal(err)
		}
		go st.Recv()
	}
	for _, tc := range []struct {
		name      string
		shared    bool
		open      func(t *testing.T, s *goms.Server, ctx context.Context)
		inProcess bool // Stop does not wait for it
	}{
		{"gRPC", false, openGRPC, false},
		{"gRPC on the shared port", true, openGRPC, false},
		{"HTTP through the gateway", false, func(t *testing.T, s *goms.Server, ctx context.Context) {
			req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.HTTPAddr()+"/v1/expand/a%20b?delayMs=60000", nil)
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					bufio.NewReader(resp.Body).ReadString('\n')
					resp.Body.Close()
				}
			}()
		}, false},
		{"in-process, the program's own", false, func(t *testing.T, s *goms.Server, ctx context.Context) {
			st, err := echo.NewEchoServiceClient(s.LocalConn()).Expand(ctx, &echo.EchoRequest{Message: "a b", DelayMs: 60_000})
			if err != nil {
				t.Fatal(err)
			}
			go st.Recv()
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, impl := startStoppable(t, tc.shared)
			// The client never gives up: only the server can end the call.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tc.open(t, s, ctx)
			select {
			case <-impl.Entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the stream did not reach its handler")
			}
			stopCtx, stopCancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer stopCancel()
			if err := s.Stop(stopCtx); err == nil && !tc.inProcess {
				t.Error("Stop returned nil with a stream outliving the grace")
			}
			for i := 0; impl.Cancelled.Load() == 0; i++ {
				if i > 500 {
					t.Fatal("the stream handler's context was not cancelled within 5 s of the grace's end")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestStopDrainsSharedPort stops a server whose gRPC and HTTP share one
// port while a slow gRPC call is in flight: the call completes, and Stop
// returns nil. (grpc-go's GracefulStop closes at once the streams it
// serves through ServeHTTP.)
func TestStopDrainsSharedPort(t *testing.T) {
	s, impl := startStoppable(t, true)
	client := dial(t, s.GRPCAddr())
	errc := make(chan error, 1)
	go func() {
		_, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "slow", DelayMs: 300})
		errc <- err
	}()
	<-impl.Entered
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("call in flight at the stop: %v, want it to complete", err)
	}
}
