package goms

import (
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/keepalive"
)

// TestKeepaliveEnforcement checks that the gRPC server enforces GoMs's
// keepalive policy, keepaliveEnforcement: pings at most every 10 s, idle
// connections included, where grpc-go's default policy (every 5 minutes at
// most, none without a stream) sends clients with the common 10–30 s
// keepalive settings away with GOAWAY "too_many_pings". How grpc-go
// applies a policy is grpc-go's to test; this test checks the policy's
// values and, with a raw HTTP/2 client, that the server applies it:
//
//   - pings back to back on an idle connection get GOAWAY too_many_pings;
//   - with MinTime scaled down to 20 ms (to see within a second what
//     happens over 10 s), pings spaced more than MinTime apart on an idle
//     connection keep it. Under grpc-go's default policy the fourth ping
//     would get GOAWAY (grpc-go counts a strike for each ping after the
//     first that comes too early and sends GOAWAY at the third).
func TestKeepaliveEnforcement(t *testing.T) {
	want := keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}
	if keepaliveEnforcement != want {
		t.Fatalf("keepalive enforcement policy %+v, want %+v", keepaliveEnforcement, want)
	}

	t.Run("pings too often", func(t *testing.T) {
		c := dialHTTP2(t, startIdleGRPCServer(t))
		for i := range 4 {
			c.writePing(t, uint64(i))
		}
		for {
			f := c.next(t)
			if f.goAway {
				if f.code != http2.ErrCodeEnhanceYourCalm || f.debug != "too_many_pings" {
					t.Errorf("GOAWAY %v %q, want ENHANCE_YOUR_CALM \"too_many_pings\"", f.code, f.debug)
				}
				return
			}
		}
	})

	t.Run("idle pings MinTime apart", func(t *testing.T) {
		// Not parallel: no other test starts a server while the policy is
		// scaled down.
		const minTime = 20 * time.Millisecond
		keepaliveEnforcement.MinTime = minTime
		addr := func() string {
			defer func() { keepaliveEnforcement = want }()
			return startIdleGRPCServer(t)
		}()
		c := dialHTTP2(t, addr)
		for i := range 4 {
			if i > 0 {
				// The server handled the previous ping before it sent the ack:
				// the next one comes more than minTime later.
				time.Sleep(3 * minTime / 2)
			}
			c.ping(t, uint64(i))
		}
		// A GOAWAY for the fourth ping would come before this ping's ack
		// (one early ping is one strike, no GOAWAY).
		c.ping(t, 4)
	})
}
