package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A request is "accepted" when the server took it in: an HTTP request that
// got any response, a gRPC call that got any status other than Unavailable
// from a connection that could not be made. Accepted requests must all
// succeed while the server drains. Requests refused at the door (the
// listener is closed, or a keep-alive connection closed before the
// request was read) are counted apart: clients retry those.

// outcome is what one request of the load gave.
type outcome int

const (
	succeeded outcome = iota
	refused           // never reached a handler: connection refused, or no response
	failed            // accepted and failed: must not happen
)

// call is one kind of request of the load.
type call struct {
	name string
	do   func(ctx context.Context) (outcome, string)
}

// tally counts the outcomes of a load run.
type tally struct {
	sent, succeeded, refused, failed atomic.Int64
	mu                               sync.Mutex
	failures                         []string
	refusals                         map[string]int
	firstRefusal                     time.Time
}

func (c *tally) add(o outcome, name, detail string) {
	c.sent.Add(1)
	switch o {
	case succeeded:
		c.succeeded.Add(1)
		return
	case refused:
		c.refused.Add(1)
	case failed:
		c.failed.Add(1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if o == failed && len(c.failures) < 20 {
		c.failures = append(c.failures, name+": "+detail)
	}
	if o == refused {
		if c.refusals == nil {
			c.refusals = make(map[string]int)
		}
		c.refusals[detail]++
		if c.firstRefusal.IsZero() {
			c.firstRefusal = time.Now()
		}
	}
}

func (c *tally) String() string {
	return fmt.Sprintf("sent %d, succeeded %d, refused before acceptance %d, accepted and failed %d",
		c.sent.Load(), c.succeeded.Load(), c.refused.Load(), c.failed.Load())
}

// load runs workers goroutines making calls in turn until each has seen
// five refusals in a row (the server is gone), or maxPerWorker requests.
func load(workers, maxPerWorker int, calls []call, c *tally) (wait func()) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			inARow := 0
			for i := 0; i < maxPerWorker && inARow < 5; i++ {
				cl := calls[(w+i)%len(calls)]
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				o, detail := cl.do(ctx)
				cancel()
				c.add(o, cl.name, detail)
				if o == refused {
					inARow++
				} else {
					inARow = 0
				}
			}
		})
	}
	return wg.Wait
}

// grpcOutcome classifies a gRPC call's error.
func grpcOutcome(err error) (outcome, string) {
	if err == nil {
		return succeeded, ""
	}
	st := status.Convert(err)
	if st.Code() == codes.Unavailable && refusedText(st.Message()) {
		return refused, "gRPC: " + refusalKind(st.Message())
	}
	return failed, err.Error()
}

// refusedText reports whether an error text says the connection was never
// made: nothing reached the server.
func refusedText(msg string) bool {
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "Error while dialing") ||
		strings.Contains(msg, "upstream unavailable: cannot connect")
}

func refusalKind(msg string) string {
	if strings.Contains(msg, "connection refused") {
		return "connection refused"
	}
	return msg
}

// httpCall makes a request and classifies it: any response is accepted
// and must have status 200 and a body check passes.
func httpCall(client *http.Client, method, url, body string, check func(string) bool) func(context.Context) (outcome, string) {
	return func(ctx context.Context) (outcome, string) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(ctx, method, url, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				return refused, "HTTP: connection refused"
			}
			// No response: the server closed the connection before reading
			// the request (a keep-alive connection closed by the stop).
			msg := err.Error()
			return refused, "HTTP: no response: " + msg[strings.LastIndex(msg, ": ")+2:]
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return failed, fmt.Sprintf("%s %s: %d, reading the body: %v", method, url, resp.StatusCode, err)
		}
		got := compactJSON(string(data))
		if resp.StatusCode != 200 || !check(got) {
			return failed, fmt.Sprintf("%s %s: %d %s", method, url, resp.StatusCode, got)
		}
		return succeeded, ""
	}
}

// readiness polls url until stopped and tells whether it saw NOT_SERVING,
// and when the last poll that saw the server ready was sent.
type readiness struct {
	sawNotServing atomic.Bool
	lastReadySent atomic.Int64 // UnixNano
	stop          chan struct{}
	done          chan struct{}
}

func pollReadiness(url string) *readiness {
	r := &readiness{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	go func() {
		defer close(r.done)
		defer client.CloseIdleConnections()
		for {
			select {
			case <-r.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			sent := time.Now()
			resp, err := client.Get(url)
			if err != nil {
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				r.lastReadySent.Store(sent.UnixNano())
			case 503:
				r.sawNotServing.Store(true)
			}
		}
	}()
	return r
}

func (r *readiness) end() { close(r.stop); <-r.done }

// sendTermAfter sends SIGTERM to p once the load has made n requests.
func sendTermAfter(t *testing.T, p *testutil.Process, c *tally, n int64) {
	t.Helper()
	for c.sent.Load() < n {
		if c.failed.Load() > 0 || c.refused.Load() > 0 {
			t.Fatalf("before SIGTERM: %v; %v %v", c, c.failures, c.refusals)
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// checkDrain asserts the figures of a drain and logs them.
func checkDrain(t *testing.T, what string, c *tally, r *readiness) {
	t.Helper()
	t.Logf("%s: %v; refusals: %v", what, c, c.refusals)
	if c.failed.Load() != 0 {
		t.Errorf("%s: %d accepted requests failed: %v", what, c.failed.Load(), c.failures)
	}
	if c.succeeded.Load() == 0 || c.refused.Load() == 0 {
		t.Errorf("%s: the load did not span the stop: %v", what, c)
	}
	if r != nil && !c.firstRefusal.IsZero() && r.lastReadySent.Load() > c.firstRefusal.UnixNano() {
		t.Errorf("%s: /readyz answered ready to a probe sent after a connection was refused", what)
	}
}

// TestDrainUnderLoad drives the echo server (this binary re-executed under
// goms.Main) over gRPC and HTTP, with long server streams open, and
// sends SIGTERM: readiness flips, accepted requests all succeed, new
// connections are refused, the streams finish, and the process exits 0.
func TestDrainUnderLoad(t *testing.T) {
	admin := testutil.FreeAddr(t)
	p := startProc(t, os.Args[0], "gateway", "-admin-addr", admin, "-shutdown-grace", "20s")
	conns := []*grpc.ClientConn{dialGRPC(t, p.GRPCAddr), dialGRPC(t, p.GRPCAddr)}
	base := "http://" + p.HTTPAddr
	var calls []call
	for i, conn := range conns {
		client := echo.NewEchoServiceClient(conn)
		calls = append(calls, call{fmt.Sprintf("gRPC Echo %d", i), func(ctx context.Context) (outcome, string) {
			resp, err := client.Echo(ctx, &echo.EchoRequest{Message: "x", DelayMs: 10})
			if err == nil && resp.GetMessage() != "x" {
				return failed, "wrong answer " + resp.GetMessage()
			}
			return grpcOutcome(err)
		}})
		calls = append(calls, call{fmt.Sprintf("gRPC Expand %d", i), func(ctx context.Context) (outcome, string) {
			return grpcOutcome(expandAll(ctx, client, "a b c", 5))
		}})
	}
	for i := range 2 {
		client := &http.Client{Transport: &http.Transport{}}
		t.Cleanup(client.CloseIdleConnections)
		calls = append(calls,
			call{fmt.Sprintf("HTTP GET %d", i), httpCall(client, "GET", base+"/v1/echo/y?delayMs=10", "", equals(`{"message":"y"}`))},
			call{fmt.Sprintf("HTTP POST %d", i), httpCall(client, "POST", base+"/v1/echo", `{"message":"z","delayMs":10}`, equals(`{"message":"z"}`))},
			call{fmt.Sprintf("HTTP stream %d", i), httpCall(client, "GET", base+"/v1/expand/a%20b?delayMs=5", "",
				equals(`{"result":{"message":"a"}}`+"\n"+`{"result":{"message":"b"}}`+"\n"))},
		)
	}
	r := pollReadiness("http://" + admin + "/readyz")
	var c tally
	wait := load(12, 5000, calls, &c)
	// Long streams, open when the stop begins: they get the grace period.
	long := longStreams(t, conns[0], base)
	time.Sleep(50 * time.Millisecond) // let the long streams start
	sendTermAfter(t, p, &c, 1000)
	wait()
	if err := long(); err != nil {
		t.Errorf("long stream open during the stop: %v", err)
	}
	code := p.Wait(t, 30*time.Second)
	r.end()
	checkDrain(t, "echo gateway", &c, r)
	if !r.sawNotServing.Load() {
		t.Error("/readyz never answered 503 during the drain")
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0; output:\n%s", code, p.Out)
	}
}

func equals(want string) func(string) bool { return func(got string) bool { return got == want } }

// expandAll reads a whole Expand stream and checks its words.
func expandAll(ctx context.Context, client echo.EchoServiceClient, words string, delay int32) error {
	st, err := client.Expand(ctx, &echo.EchoRequest{Message: words, DelayMs: delay})
	if err != nil {
		return err
	}
	var got []string
	for {
		resp, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		got = append(got, resp.GetMessage())
	}
	if !slices.Equal(got, strings.Fields(words)) {
		return status.Errorf(codes.DataLoss, "streamed %q, want %q", got, words)
	}
	return nil
}

// longStreams opens a gRPC and an HTTP server stream of about 1.5 s each;
// the function returned waits for both and reports the first failure.
func longStreams(t *testing.T, conn *grpc.ClientConn, base string) func() error {
	words := "one two three four five six"
	errs := make(chan error, 2)
	go func() {
		errs <- expandAll(context.Background(), echo.NewEchoServiceClient(conn), words, 250)
	}()
	go func() {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		var want strings.Builder
		for _, w := range strings.Fields(words) {
			want.WriteString(`{"result":{"message":"` + w + `"}}` + "\n")
		}
		o, detail := httpCall(client, "GET", base+"/v1/expand/"+strings.ReplaceAll(words, " ", "%20")+"?delayMs=250", "", equals(want.String()))(context.Background())
		if o != succeeded {
			errs <- fmt.Errorf("HTTP stream: %s", detail)
			return
		}
		errs <- nil
	}()
	return func() error { return errors.Join(<-errs, <-errs) }
}

// shopCalls are the example's calls, over gRPC on conn and over HTTP at
// base. The checks hold whatever the example's products and prices are.
func shopCalls(conn *grpc.ClientConn, base string) []call {
	var calls []call
	if conn != nil {
		catalog := catalogv1.NewCatalogServiceClient(conn)
		orders := ordersv1.NewOrderServiceClient(conn)
		calls = append(calls,
			call{"gRPC GetProduct", func(ctx context.Context) (outcome, string) {
				resp, err := catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Id: "tea"})
				if err == nil && resp.GetProduct().GetPriceCents() <= 0 {
					return failed, "wrong price"
				}
				return grpcOutcome(err)
			}},
			call{"gRPC CreateOrder", func(ctx context.Context) (outcome, string) {
				resp, err := orders.CreateOrder(ctx, &ordersv1.CreateOrderRequest{Items: []*ordersv1.Item{{ProductId: "tea", Quantity: 2}}})
				if err == nil && resp.GetOrder().GetTotalCents() <= 0 {
					return failed, "wrong total"
				}
				return grpcOutcome(err)
			}},
			call{"gRPC ListProducts", func(ctx context.Context) (outcome, string) {
				st, err := catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{})
				n := 0
				for err == nil {
					_, err = st.Recv()
					n++
				}
				if err == io.EOF {
					if n < 2 {
						return failed, "streamed no products"
					}
					err = nil
				}
				return grpcOutcome(err)
			}},
		)
	}
	client := &http.Client{Transport: &http.Transport{}}
	hasTotal := func(s string) bool { return strings.Contains(s, `"totalCents":"`) }
	calls = append(calls,
		call{"HTTP GetProduct", httpCall(client, "GET", base+"/v1/products/tea", "", func(s string) bool { return strings.Contains(s, `"id":"tea"`) })},
		call{"HTTP CreateOrder", httpCall(client, "POST", base+"/v1/orders", `{"items":[{"productId":"tea","quantity":2}]}`, hasTotal)},
		call{"HTTP ListProducts", httpCall(client, "GET", base+"/v1/products", "", func(s string) bool { return strings.Count(s, `{"result":`) >= 1 })},
	)
	return calls
}

// TestDrainExample drains the example shop in gateway mode under load.
func TestDrainExample(t *testing.T) {
	admin := testutil.FreeAddr(t)
	p := startProc(t, shopBin(t), "gateway", "-admin-addr", admin, "-shutdown-grace", "20s")
	calls := shopCalls(dialGRPC(t, p.GRPCAddr), "http://"+p.HTTPAddr)
	r := pollReadiness("http://" + admin + "/readyz")
	var c tally
	wait := load(8, 5000, calls, &c)
	sendTermAfter(t, p, &c, 1000)
	wait()
	code := p.Wait(t, 30*time.Second)
	r.end()
	checkDrain(t, "shop gateway", &c, r)
	if code != 0 {
		t.Errorf("exit status %d, want 0; output:\n%s", code, p.Out)
	}
}

// TestDrainBehindHTTPMode drains a gRPC-only shop while an HTTP-only shop
// in front of it is under load. Accepted means accepted by the backend:
// the front answers the requests the backend refuses with 503 UNAVAILABLE
// naming the refused connection.
func TestDrainBehindHTTPMode(t *testing.T) {
	backend := startProc(t, shopBin(t), "grpc", "-shutdown-grace", "20s")
	front := startProc(t, shopBin(t), "http", "-upstream", backend.GRPCAddr, "-client-call-timeout", "5s")
	var calls []call
	for _, cl := range shopCalls(nil, "http://"+front.HTTPAddr) {
		do := cl.do
		calls = append(calls, call{cl.name, func(ctx context.Context) (outcome, string) {
			o, detail := do(ctx)
			if o == failed && strings.Contains(detail, `: 503 {"code":14,`) && refusedText(detail) {
				return refused, "front: 503 UNAVAILABLE: " + refusalKind(detail)
			}
			return o, detail
		}})
	}
	var c tally
	wait := load(8, 5000, calls, &c)
	sendTermAfter(t, backend, &c, 1000)
	wait()
	code := backend.Wait(t, 30*time.Second)
	checkDrain(t, "shop http mode, backend drained", &c, nil)
	if code != 0 {
		t.Errorf("backend exit status %d, want 0; output:\n%s", code, backend.Out)
	}
	// The front stays up and says why it cannot answer.
	got := rawHTTP(t, front.HTTPAddr, get("/v1/products/tea"), false)
	if got.status != 503 || !strings.Contains(got.body, `"code":14`) {
		t.Errorf("front with its upstream gone: %d %s", got.status, got.body)
	}
}

// TestDrainOwnStreams sends SIGTERM while a client holds a health Watch
// stream and a reflection stream open: both streams end with Unavailable
// (the watcher told NOT_SERVING first), and the process exits 0. Before
// issue 14's fix it waited out the grace (10 s here), cut the streams off
// and exited 1.
func TestDrainOwnStreams(t *testing.T) {
	p := startProc(t, os.Args[0], "gateway", "-shutdown-grace", "10s")
	conn := dialGRPC(t, p.GRPCAddr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := testutil.OpenOwnStreams(ctx, t, conn, "")
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	streams.CheckEndedOnStop(t)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit status %d, want 0; output:\n%s", code, p.Out)
	}
}
