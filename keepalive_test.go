package goms_test

import (
	"context"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// TestKeepaliveEnforcement checks the default keepalive policy: a client
// pinging every 10 s (grpc-go's shortest client interval, a common setting)
// keeps its idle connection, where grpc-go's own default policy (pings at
// most every 5 minutes) answers with GOAWAY "too_many_pings" after a few
// pings. Both run at once; the test takes about 55 s.
func TestKeepaliveEnforcement(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for keepalive pings for about 55 s; skipped with -short")
	}
	for _, tc := range []struct {
		name     string
		opts     []goms.Option
		wantKept bool
	}{
		{"goms default", nil, true},
		{"grpc-go default", []goms.Option{goms.WithGRPCServerOptions(
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Minute}))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := goms.DefaultConfig()
			cfg.Mode = goms.ModeGRPC
			s := serveConfig(t, cfg, tc.opts...)
			conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, PermitWithoutStream: true}))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Connect()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			for conn.GetState() != connectivity.Ready && conn.WaitForStateChange(ctx, conn.GetState()) {
			}
			cancel()
			if conn.GetState() != connectivity.Ready {
				t.Fatalf("connection not ready: %v", conn.GetState())
			}
			// Pings at 10, 20, 30 and 40 s: grpc-go's server counts a strike for
			// each one after the first that comes too early and sends GOAWAY at the
			// third strike (the ping at 40 s).
			ctx, cancel = context.WithTimeout(context.Background(), 55*time.Second)
			defer cancel()
			kept := !conn.WaitForStateChange(ctx, connectivity.Ready)
			if kept != tc.wantKept {
				t.Errorf("idle connection kept for 55 s: %v, want %v (state %v)", kept, tc.wantKept, conn.GetState())
			}
		})
	}
}
