package goms_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// serverWorkers counts the goroutines parked in grpc-go's stream workers.
func serverWorkers() int {
	buf := make([]byte, 1<<22)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "grpc.(*Server).serverWorker(")
}

// settledWorkers is serverWorkers once the count holds still for 100 ms:
// the workers of servers other tests stopped exit asynchronously.
func settledWorkers() int {
	n := serverWorkers()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		m := serverWorkers()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// waitWorkers waits up to 5 s for serverWorkers to be want, and returns
// the last count.
func waitWorkers(want int) int {
	n := serverWorkers()
	for i := 0; n != want && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
		n = serverWorkers()
	}
	return n
}

// TestStreamWorkers checks that grpc.stream_workers starts that many
// grpc-go stream workers (0: none), and that calls beyond them, here 8
// at once held by the handler against 2 workers, are all served.
func TestStreamWorkers(t *testing.T) {
	before := settledWorkers()
	cfg := goms.DefaultConfig()
	if cfg.GRPC.StreamWorkers != 16 {
		t.Fatalf("default grpc.stream_workers = %d, want 16", cfg.GRPC.StreamWorkers)
	}
	cfg.GRPC.StreamWorkers = 2
	s := echotest.Serve(t, cfg)
	if got := waitWorkers(before+2) - before; got != 2 {
		t.Fatalf("%d stream workers running, want 2", got)
	}
	cc, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := echo.NewEchoServiceClient(cc)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			resp, err := client.Echo(context.Background(), &echo.EchoRequest{Message: "m", DelayMs: 50})
			if err == nil && resp.GetMessage() != "m" {
				t.Errorf("answer %q", resp.GetMessage())
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	off := goms.DefaultConfig()
	off.GRPC.StreamWorkers = 0
	before = settledWorkers()
	echotest.Serve(t, off)
	if got := settledWorkers() - before; got != 0 {
		t.Fatalf("grpc.stream_workers 0: %d stream workers running, want 0", got)
	}
}
