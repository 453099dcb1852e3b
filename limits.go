package goms

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// limitListener caps the connections open at once on a listener
// (grpc.max_connections, http.max_connections). A connection over the
// cap is closed as soon as it is accepted, with a reset, as Envoy's
// listener connection limit and nginx's worker_connections do, rather
// than left waiting in the kernel's accept queue: the client learns at
// once that this server is full (a load balancer then tries another), and
// the connection never holds a file descriptor or memory here. The
// admin listener is not capped, so that probes on admin.addr still answer
// while a public port is full.
type limitListener struct {
	net.Listener
	max  int64
	open atomic.Int64
	what string // "gRPC" or "HTTP", for the log
	log  *slog.Logger

	mu        sync.Mutex
	refused   int64     // connections refused since the last log line
	lastLog   time.Time // when the last "connection limit" line was logged
	logPeriod time.Duration
}

// limitConns returns l capped at max connections; max 0 returns l.
func limitConns(l net.Listener, max int, what string, log *slog.Logger) net.Listener {
	if max <= 0 {
		return l
	}
	return &limitListener{Listener: l, max: int64(max), what: what, log: log, logPeriod: 10 * time.Second}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refusedOne()
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset: no TIME_WAIT left behind here
		}
		c.Close()
	}
}

// refusedOne counts a refused connection and logs a warning for the first
// one, then at most once a logPeriod with the number refused since.
func (l *limitListener) refusedOne() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused++
	if now := time.Now(); l.lastLog.IsZero() || now.Sub(l.lastLog) >= l.logPeriod {
		l.log.Warn("connection limit reached: closing new connections",
			"server", l.what, "addr", l.Addr().String(), "limit", l.max, "refused", l.refused)
		l.refused, l.lastLog = 0, now
	}
}

// limitedConn is a connection of limitListener; closing it frees its slot.
type limitedConn struct {
	net.Conn
	l      *limitListener
	closed atomic.Bool
}

func (c *limitedConn) Close() error {
	if !c.closed.Swap(true) {
		c.l.open.Add(-1)
	}
	return c.Conn.Close()
}

// fileHeadroom is what a process needs open besides its clients'
// connections: listeners, connections to other services, logs.
const fileHeadroom = 64

// warnFileLimit logs a warning at start-up when the connection caps of
// the ports this server runs, with fileHeadroom, exceed the process's
// limit on open files: the caps would never be reached, and a connection
// flood would end in "too many open files" on every port and the admin
// port instead of refused connections on one (see docs/RELIABILITY.md).
// A cap of 0 (no limit) is the operator's choice, and not warned about.
func (s *Server) warnFileLimit() {
	need, caps := fileHeadroom, []any{}
	add := func(key string, max int) bool {
		need += max
		caps = append(caps, key, max)
		return max > 0
	}
	if s.cfg.Mode.servesGRPC() && !s.cfg.onePort() && !add("grpc.max_connections", s.cfg.GRPC.MaxConnections) {
		return
	}
	if s.cfg.Mode.servesHTTP() && !add("http.max_connections", s.cfg.HTTP.MaxConnections) {
		return
	}
	limit, ok := openFileLimit()
	if !ok || need <= limit {
		return
	}
	s.log.Warn("connection caps exceed the open-file limit: raise it (ulimit -n, systemd LimitNOFILE=, the container's nofile ulimit) or lower the caps",
		append(caps, "open_file_limit", limit, "needed", need)...)
}

// unaryDeadline caps the deadline of unary calls at max
// (grpc.max_unary_timeout): a call whose deadline is later runs with
// now+max; a call without one keeps none, as with grpc-go, and costs no
// timer. max 0 returns nil (no interceptor).
func unaryDeadline(max time.Duration) grpc.UnaryServerInterceptor {
	if max <= 0 {
		return nil
	}
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if d, ok := ctx.Deadline(); ok && time.Until(d) > max {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, max)
			defer cancel()
		}
		return handler(ctx, req)
	}
}
