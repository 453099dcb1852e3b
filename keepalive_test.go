package goms

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
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

// startIdleGRPCServer starts a server in mode grpc with a service without
// methods and returns its gRPC address. The test's end stops it.
func startIdleGRPCServer(t *testing.T) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Mode = ModeGRPC
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	s.RegisterService(&grpc.ServiceDesc{ServiceName: "goms.test.Idle", HandlerType: (*any)(nil)}, struct{}{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s.GRPCAddr()
}

// http2Conn is a raw HTTP/2 client connection that opens no streams: it
// sends pings and sees the server's ping acks and GOAWAY.
type http2Conn struct {
	fr     *http2.Framer
	mu     sync.Mutex // serializes writes
	frames chan http2Frame
}

// http2Frame is what the test needs of a frame the server sent: a ping
// ack or a GOAWAY.
type http2Frame struct {
	pingAck bool
	ping    uint64
	goAway  bool
	code    http2.ErrCode
	debug   string
}

// dialHTTP2 connects to addr and sends the client preface and SETTINGS.
// It acknowledges the server's SETTINGS; the test's end closes it.
func dialHTTP2(t *testing.T, addr string) *http2Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &http2Conn{fr: http2.NewFramer(conn, conn), frames: make(chan http2Frame, 16)}
	if err := c.write(func() error { return c.fr.WriteSettings() }); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.frames)
		for {
			f, err := c.fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					c.write(func() error { return c.fr.WriteSettingsAck() })
				}
			case *http2.PingFrame:
				if f.IsAck() {
					c.frames <- http2Frame{pingAck: true, ping: binary.BigEndian.Uint64(f.Data[:])}
				}
			case *http2.GoAwayFrame:
				c.frames <- http2Frame{goAway: true, code: f.ErrCode, debug: string(f.DebugData())}
			}
		}
	}()
	return c
}

func (c *http2Conn) write(w func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return w()
}

// writePing sends a ping carrying n.
func (c *http2Conn) writePing(t *testing.T, n uint64) {
	t.Helper()
	var data [8]byte
	binary.BigEndian.PutUint64(data[:], n)
	if err := c.write(func() error { return c.fr.WritePing(false, data) }); err != nil {
		t.Fatal(err)
	}
}

// ping sends a ping carrying n and waits for its ack; a GOAWAY or the end
// of the connection first fails t.
func (c *http2Conn) ping(t *testing.T, n uint64) {
	t.Helper()
	c.writePing(t, n)
	for {
		f := c.next(t)
		switch {
		case f.goAway:
			t.Fatalf("ping %d: GOAWAY %v %q", n, f.code, f.debug)
		case f.pingAck && f.ping == n:
			return
		}
	}
}

// next returns the next ping ack or GOAWAY; the end of the connection or
// 5 s without one fails t.
func (c *http2Conn) next(t *testing.T) http2Frame {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			t.Fatal("the server closed the connection")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame from the server within 5 s")
	}
	panic("unreachable")
}
