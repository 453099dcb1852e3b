package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/testutil"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

// The attacks of issue 14 (findings 1 to 4), each against a server with
// GoMs's defaults unless the test says otherwise, with raw HTTP/2 and
// HTTP/1 clients where a well-behaved client cannot misbehave. While each
// runs, a bystander's gRPC health check, on a connection made before the
// attack, must answer within 1 s. docs/RELIABILITY.md ("Hardening") lists
// them with the default that stops each.

// bystander checks the gRPC health of a server every 20 ms, on a
// connection made before the attack, and fails the test if a check fails
// or takes more than 1 s.
type bystander struct {
	t       *testing.T
	done    chan struct{}
	wg      sync.WaitGroup
	checks  atomic.Int64
	mu      sync.Mutex
	fails   []string
	slowest time.Duration
}

// watch starts a bystander of the server at addr; its connection is made,
// and a first check answered, before watch returns.
func watch(t *testing.T, addr string) *bystander {
	t.Helper()
	health := healthpb.NewHealthClient(dialGRPC(t, addr))
	if _, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("bystander before the attack: %v", err)
	}
	b := &bystander{t: t, done: make(chan struct{})}
	b.wg.Go(func() {
		for {
			select {
			case <-b.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			start := time.Now()
			_, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
			took := time.Since(start)
			cancel()
			b.mu.Lock()
			b.slowest = max(b.slowest, took)
			if err != nil || took > time.Second {
				b.fails = append(b.fails, fmt.Sprintf("after %v: %v", took.Round(time.Millisecond), err))
			}
			b.mu.Unlock()
			b.checks.Add(1)
		}
	})
	return b
}

// wait returns once the bystander has made n more checks.
func (b *bystander) wait(n int64) {
	for goal := b.checks.Load() + n; b.checks.Load() < goal; {
		time.Sleep(5 * time.Millisecond)
	}
}

// stop makes 10 more checks, with the attack still in place, then stops
// and reports.
func (b *bystander) stop() {
	b.t.Helper()
	b.wait(10)
	close(b.done)
	b.wg.Wait()
	if len(b.fails) > 0 {
		b.t.Errorf("bystander: %d of %d health checks failed or took over 1 s, first: %s", len(b.fails), b.checks.Load(), b.fails[0])
	}
	b.t.Logf("bystander: %d health checks, slowest %v", b.checks.Load(), b.slowest.Round(time.Millisecond))
}

// h2 is a raw HTTP/2 client connection for the attacks.
type h2 struct {
	conn   net.Conn
	fr     *http2.Framer
	mu     sync.Mutex // serializes writes
	events chan h2Event
}

// h2Event is a frame from the server the attacks look at, or the end of
// the connection (closed).
type h2Event struct {
	closed  bool
	rst     bool
	headers bool
	goAway  bool
	stream  uint32
	code    http2.ErrCode
}

// dialH2 connects to addr and sends the client preface, then, with
// settings, an empty SETTINGS frame, and acknowledges the server's. The
// test's end closes it.
func dialH2(t *testing.T, addr string, settings bool) *h2 {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &h2{conn: conn, fr: http2.NewFramer(conn, conn), events: make(chan h2Event, 4096)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if settings {
		if err := c.fr.WriteSettings(); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer func() { c.events <- h2Event{closed: true}; close(c.events) }()
		for {
			f, err := c.fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if settings && !f.IsAck() {
					c.write(func() error { return c.fr.WriteSettingsAck() })
				}
			case *http2.RSTStreamFrame:
				c.event(h2Event{rst: true, stream: f.StreamID, code: f.ErrCode})
			case *http2.MetaHeadersFrame:
				c.event(h2Event{headers: true, stream: f.StreamID})
			case *http2.GoAwayFrame:
				c.event(h2Event{goAway: true, code: f.ErrCode})
			}
		}
	}()
	return c
}

// event reports e unless the test has stopped reading.
func (c *h2) event(e h2Event) {
	select {
	case c.events <- e:
	default:
	}
}

func (c *h2) write(w func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return w()
}

// grpcHeaders is the HPACK block of a gRPC call to method with the
// metadata pairs md.
func grpcHeaders(method string, md ...string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	fields := append([]string{":method", "POST", ":scheme", "http", ":path", method, ":authority", "attack",
		"content-type", "application/grpc", "te", "trailers"}, md...)
	for i := 0; i+1 < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return b.Bytes()
}

// open opens stream id with the header block, over CONTINUATION frames
// as needed. It returns the write error: the server may end the
// connection on purpose.
func (c *h2) open(id uint32, block []byte, endStream bool) error {
	return c.write(func() error { return testutil.WriteHeaderBlock(c.fr, id, block, endStream) })
}

// next returns the next event; 10 s without one fails t.
func (c *h2) next(t *testing.T) h2Event {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if !ok {
			return h2Event{closed: true}
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("nothing from the server within 10 s")
	}
	panic("unreachable")
}

// grpcMessage frames m as a gRPC message.
func grpcMessage(m proto.Message) []byte {
	data, _ := proto.Marshal(m)
	msg := make([]byte, 5+len(data))
	binary.BigEndian.PutUint32(msg[1:], uint32(len(data)))
	copy(msg[5:], data)
	return msg
}

const healthWatch = "/grpc.health.v1.Health/Watch"

// heapInUse returns the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestAttackMetadataFlood (finding 1): 10 connections each open 10 Watch
// streams carrying 1 MiB of metadata (1,024 fields of 1 KiB), send their
// request and keep them open. With grpc.max_header_bytes (32 KiB) none is answered: each
// stream is reset or its connection closed, and the server's heap stays
// within 32 MiB of where it was. Without it, grpc-go (16 MiB) would hold
// the 100 MiB of metadata for as long as the streams stay open.
func TestAttackMetadataFlood(t *testing.T) {
	s := serve(t, configWithFreePorts(goms.DefaultConfig()), nil)
	by := watch(t, s.GRPCAddr())
	var md []string
	for i := range 1024 {
		md = append(md, fmt.Sprintf("x-md-%d", i), strings.Repeat("x", 1<<10))
	}
	block := grpcHeaders(healthWatch, md...)
	before := heapInUse()
	var conns []*h2
	for range 10 {
		c := dialH2(t, s.GRPCAddr(), true)
		conns = append(conns, c)
		for i := range 10 {
			id := uint32(2*i + 1)
			if c.open(id, block, false) == nil {
				c.write(func() error { return c.fr.WriteData(id, true, make([]byte, 5)) })
			}
		}
	}
	answered := 0
	for _, c := range conns {
		for refused := 0; refused < 10; {
			switch e := c.next(t); {
			case e.closed:
				refused = 10
			case e.rst:
				refused++
			case e.headers:
				answered++
				refused++
			}
		}
	}
	if answered > 0 {
		t.Errorf("%d streams with 1 MiB of metadata were answered", answered)
	}
	grew := int64(heapInUse()) - int64(before)
	if grew > 32<<20 {
		t.Errorf("heap in use grew by %d MiB during the attack, want under 32 MiB", grew>>20)
	}
	t.Logf("heap in use grew by %.1f MiB", float64(grew)/(1<<20))
	by.stop()
}

// TestAttackStreamFlood (finding 2): one connection opens 1,000 streams
// and never sends their requests. With grpc.max_concurrent_streams (100)
// the server refuses all but 100 (REFUSED_STREAM), so that the handlers
// stay few; without it, grpc-go would start 1,000 handlers.
func TestAttackStreamFlood(t *testing.T) {
	s := serve(t, configWithFreePorts(goms.DefaultConfig()), nil)
	by := watch(t, s.GRPCAddr())
	goroutines := runtime.NumGoroutine()
	c := dialH2(t, s.GRPCAddr(), true)
	block := grpcHeaders(healthWatch)
	const n = 1000
	for i := range n {
		if err := c.open(uint32(2*i+1), block, false); err != nil {
			t.Fatal(err)
		}
	}
	refused := 0
	for refused < n-100 {
		e := c.next(t)
		if e.closed {
			t.Fatalf("the server closed the connection after refusing %d streams", refused)
		}
		if e.rst && e.code == http2.ErrCodeRefusedStream {
			refused++
		}
	}
	// The 100 streams open each hold a handler and its stream's
	// goroutines; 1,000 would hold ten times as many.
	grew := runtime.NumGoroutine() - goroutines
	if grew > 400 {
		t.Errorf("%d more goroutines with %d streams open, want at most 400", grew, n)
	}
	t.Logf("%d more goroutines with %d streams open", grew, n)
	by.stop()
}

// TestAttackRapidReset (finding 2, CVE-2023-44487): 4 connections open
// and at once cancel Echo calls whose handler would wait 10 s, as fast as
// one goroutine can write them, while the bystander makes 20 checks,
// against a server process (so that its goroutines can be counted, from
// /metrics). With grpc.max_concurrent_streams, grpc-go runs at most that
// many handlers a connection and reads no further frames while they are
// all busy: the server stays under 1,000 goroutines (427 here) and the
// bystander answers within 1 s. Without it, the server ran 4,600 to 9,700
// goroutines.
func TestAttackRapidReset(t *testing.T) {
	p := startProc(t, os.Args[0], "gateway")
	addr := p.GRPCAddr
	by := watch(t, addr)
	block := grpcHeaders("/fixtures.echo.EchoService/Echo")
	msg := grpcMessage(&echo.EchoRequest{Message: "reset", DelayMs: 10000})
	var conns []*h2
	for range 4 {
		conns = append(conns, dialH2(t, addr, true))
	}
	// One goroutine writes to the 4 connections in turn, so that the
	// attacker takes one of the machine's cores at most, as a remote one
	// would take none.
	var wg sync.WaitGroup
	var sent atomic.Int64
	var attacking atomic.Bool
	attacking.Store(true)
	wg.Go(func() {
		for i := 0; attacking.Load() && i < 1<<30-1; i++ {
			id := uint32(2*i + 1)
			for _, c := range conns {
				err := c.write(func() error {
					if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true}); err != nil {
						return err
					}
					if err := c.fr.WriteData(id, true, msg); err != nil {
						return err
					}
					return c.fr.WriteRSTStream(id, http2.ErrCodeCancel)
				})
				if err != nil {
					return // the server may end the connection
				}
				sent.Add(1)
			}
		}
	})
	peak := 0
	for goal := by.checks.Load() + 10; by.checks.Load() < goal; time.Sleep(10 * time.Millisecond) {
		peak = max(peak, goroutines(t, p.HTTPAddr))
	}
	// 4 connections of 100 handlers, and the server's own goroutines.
	if peak > 1000 {
		t.Errorf("the server ran up to %d goroutines, want at most 1,000", peak)
	}
	t.Logf("server goroutines: at most %d", peak)
	by.stop()
	attacking.Store(false)
	wg.Wait()
	t.Logf("%d calls opened and cancelled", sent.Load())
}

// TestAttackPrefaceOnly (finding 3): 200 connections send the HTTP/2
// preface and nothing more. grpc.handshake_timeout (here 300 ms; 10 s by
// default, grpc-go's own 120 s) closes every one of them.
func TestAttackPrefaceOnly(t *testing.T) {
	cfg := configWithFreePorts(goms.DefaultConfig())
	cfg.GRPC.HandshakeTimeout = 300 * time.Millisecond
	s := serve(t, cfg, nil)
	by := watch(t, s.GRPCAddr())
	var conns []*h2
	for range 200 {
		conns = append(conns, dialH2(t, s.GRPCAddr(), false))
	}
	for _, c := range conns {
		for e := c.next(t); !e.closed; e = c.next(t) {
		}
	}
	by.stop()
}

// TestAttackHeaderFlood (finding 4): 100 HTTP/1.1 connections each send
// 1 MiB of one header that never ends. With http.max_header_bytes
// (32 KiB; net/http stops reading at twice that) each gets 431 at once;
// with the former 1 MiB, net/http would buffer each whole, 100 MiB, until
// http.read_header_timeout.
func TestAttackHeaderFlood(t *testing.T) {
	s := serve(t, configWithFreePorts(goms.DefaultConfig()), nil)
	by := watch(t, s.GRPCAddr())
	chunk := []byte(strings.Repeat("x", 64<<10))
	var wg sync.WaitGroup
	var statuses sync.Map
	for i := range 100 {
		conn, err := net.Dial("tcp", s.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		go func() {
			conn.Write([]byte("GET /v1/echo/x HTTP/1.1\r\nHost: x\r\nX-Big: "))
			for range 16 {
				if _, err := conn.Write(chunk); err != nil {
					return
				}
			}
		}()
		wg.Go(func() {
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				statuses.Store(i, err.Error())
				return
			}
			resp.Body.Close()
			statuses.Store(i, resp.Status)
		})
	}
	wg.Wait()
	statuses.Range(func(k, v any) bool {
		if v != "431 Request Header Fields Too Large" {
			t.Errorf("connection %d: %v, want 431", k, v)
		}
		return true
	})
	by.stop()
}

// TestAttackConnectionFlood (finding 3): a server process limited to 256
// open files gets 300 connections on its gRPC port, which send nothing
// past the HTTP/2 preface, then 300 on its HTTP port, which never finish
// their headers. With
// grpc.max_connections and http.max_connections (here 64; 512 by
// default) each port holds at most that many and resets the rest at once,
// so the process keeps files to spare: with the gRPC port full the HTTP
// port answers, with both full /readyz on admin.addr answers, and the
// bystander answers throughout. Without the caps the process runs out of
// files ("accept4: too many open files") and accepts nothing more.
func TestAttackConnectionFlood(t *testing.T) {
	if !canLimitFiles {
		t.Skip("no RLIMIT_NOFILE here")
	}
	adminAddr := testutil.FreeAddr(t)
	p := startProcEnv(t, []string{noFileEnv + "=256"}, "gateway",
		"-grpc-max-connections", "64", "-http-max-connections", "64", "-admin-addr", adminAddr)
	by := watch(t, p.GRPCAddr)
	get := func(url string) {
		t.Helper()
		resp, err := (&http.Client{Timeout: time.Second}).Get(url)
		if err != nil {
			t.Errorf("GET %s under the flood: %v", url, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s under the flood: %s", url, resp.Status)
		}
	}
	flood := func(addr, hello string) {
		for range 300 {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				continue // reset before connect returned: refused
			}
			t.Cleanup(func() { conn.Close() })
			io.WriteString(conn, hello)
		}
	}
	flood(p.GRPCAddr, http2.ClientPreface)
	get("http://" + p.HTTPAddr + "/v1/echo/x")
	get("http://" + adminAddr + "/readyz")
	flood(p.HTTPAddr, "GET /v1/echo/x HTTP/1.1\r\n") // headers never end
	get("http://" + adminAddr + "/readyz")
	by.stop()
	if out := p.Out.String(); !strings.Contains(out, "connection limit reached") || strings.Contains(out, "too many open files") {
		t.Errorf("want the connection limit logged and no 'too many open files'; log:\n%s", out)
	}
}

// noFileEnv makes the test server process lower its RLIMIT_NOFILE to its
// value (see TestMain).
const noFileEnv = "GOMS_TEST_NOFILE"

// startProcEnv is startProc of this test binary with env added.
func startProcEnv(t *testing.T, env []string, mode string, args ...string) *testutil.Process {
	t.Helper()
	p := testutil.StartProcess(t, os.Args[0], append([]string{"GOMS_TEST_SERVE=1"}, env...), mode, args...)
	t.Cleanup(p.Kill)
	return p
}

// goroutines reads go_goroutines from the /metrics of the server at
// httpAddr.
func goroutines(t *testing.T, httpAddr string) int {
	t.Helper()
	_, body := testutil.Get(t, "http://"+httpAddr+"/metrics")
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	t.Fatal("no go_goroutines in /metrics")
	return 0
}
