package gateway

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
)

// deadlineConn records the deadline of the calls made on it.
type deadlineConn struct {
	grpc.ClientConnInterface
	got time.Time
}

func (c *deadlineConn) Invoke(ctx context.Context, _ string, _, _ any, _ ...grpc.CallOption) error {
	c.got, _ = ctx.Deadline()
	return nil
}

// TestGatewayCapsUnaryDeadline: the gateway's unary calls run with at most
// MaxUnaryTimeout when the request brought a later deadline; an earlier one
// is kept, none stays none; 0 caps nothing.
func TestGatewayCapsUnaryDeadline(t *testing.T) {
	const limit = time.Minute
	soon := time.Now().Add(time.Second)
	for _, tc := range []struct {
		name     string
		max      time.Duration
		deadline time.Time // zero: none
		capped   bool
	}{
		{"none", limit, time.Time{}, false},
		{"later", limit, time.Now().Add(100000 * time.Hour), true},
		{"earlier", limit, soon, false},
		{"no cap", 0, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if !tc.deadline.IsZero() {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, tc.deadline)
				defer cancel()
			}
			conn := &deadlineConn{}
			before := time.Now()
			if err := (gatewayConn{ClientConnInterface: conn, maxUnary: tc.max}).Invoke(ctx, "/a.B/C", nil, nil); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.capped && (conn.got.Before(before.Add(limit)) || conn.got.After(time.Now().Add(limit))):
				t.Errorf("deadline %v, want now+%v", conn.got, limit)
			case !tc.capped && !conn.got.Equal(tc.deadline):
				t.Errorf("deadline %v, want the request's %v", conn.got, tc.deadline)
			}
		})
	}
}
