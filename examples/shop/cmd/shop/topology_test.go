package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	stockv1 "github.com/goms-io/goms/examples/shop/gen/stock/v1"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The shop is a chain of three services: an HTTP or gRPC call to the
// order service (A) prices items with the catalog (B), which reads units in
// stock from the stock service (C). The tests below run the same binary in
// three topologies and check the same calls against each, then check what
// happens when B is missing, lost or one of its replicas dies.

const (
	ordersSvc  = ordersv1.OrderServiceName
	catalogSvc = catalogv1.CatalogServiceName
	stockSvc   = stockv1.StockServiceName
)

// split is the shop run as one process per service, each in grpc mode
// hosting one service (-serve) with -targets naming the next, and a fourth
// process in http mode as the HTTP edge: edge → orders → catalog → stock.
type split struct {
	stock, orders, edge *testutil.Process
	catalogs            []*testutil.Process // replicas
}

// startCatalog starts a catalog process on grpcAddr ("127.0.0.1:0" for a
// free port) that reads stock at stockAddr.
func startCatalog(t *testing.T, grpcAddr, stockAddr string) *testutil.Process {
	return startShop(t, "grpc", "-serve", catalogSvc, "-grpc-addr", grpcAddr, "-targets", stockSvc+"="+stockAddr, "-log-level", "debug")
}

// startSplit starts the split topology with the given number of catalog
// replicas, which the order service and the edge reach through one static
// list target ("addr1,addr2": round-robin). It returns once the edge is
// ready and the order service has reached the catalog.
func startSplit(t *testing.T, catalogReplicas int) *split {
	t.Helper()
	// The services log at debug: the tests count their call lines.
	s := &split{stock: startShop(t, "grpc", "-serve", stockSvc, "-log-level", "debug")}
	var addrs []string
	for range catalogReplicas {
		c := startCatalog(t, "127.0.0.1:0", s.stock.GRPCAddr)
		s.catalogs = append(s.catalogs, c)
		addrs = append(addrs, c.GRPCAddr)
	}
	catalogTarget := catalogSvc + "=" + strings.Join(addrs, ",")
	s.orders = startShop(t, "grpc", "-serve", ordersSvc, "-targets", catalogTarget, "-log-level", "debug")
	// The edge forwards the order service's routes to -upstream and the
	// catalog's to its target; the stock service has no HTTP routes.
	s.edge = startShop(t, "http", "-upstream", s.orders.GRPCAddr, "-targets", catalogTarget)
	waitReady(t, s.edge.HTTPAddr)
	eventually(t, 30*time.Second, func() error {
		if !strings.Contains(s.orders.Out.String(), `msg="dependency reachable" dependency="`+catalogSvc+" at ") {
			return errors.New("the order service has not reached the catalog")
		}
		return nil
	})
	return s
}

// edge is where the shared assertions reach the split topology; gRPC calls
// to the catalog go to its first replica.
func (s *split) edges() edge {
	return edge{http: s.edge.HTTPAddr, orders: s.orders.GRPCAddr, catalog: s.catalogs[0].GRPCAddr, stock: s.stock.GRPCAddr}
}

// TestTopologies runs the same assertions (gRPC with a plain grpc-go
// client, HTTP/JSON with net/http and curl, a stream and errors) against
// the shop as one process, as one process per service behind an HTTP edge
// process, and the same with two catalog replicas.
func TestTopologies(t *testing.T) {
	t.Run("one-process", func(t *testing.T) {
		p := startShop(t, "gateway", "-log-level", "debug") // call lines are DEBUG
		waitReady(t, p.HTTPAddr)
		checkShop(t, sameAddr(p.GRPCAddr, p.HTTPAddr))
		for _, svc := range []string{ordersSvc, catalogSvc, stockSvc} {
			if !strings.Contains(p.Out.String(), "grpc.method=/"+svc+"/") {
				t.Errorf("no call to %s logged", svc)
			}
		}
		if strings.Contains(p.Out.String(), "dependency") {
			t.Errorf("one process dialled a dependency:\n%s", p.Out)
		}
	})
	t.Run("three-processes", func(t *testing.T) {
		s := startSplit(t, 1)
		checkShop(t, s.edges())
		// The order service's calls crossed the processes.
		for _, p := range []*testutil.Process{s.orders, s.catalogs[0], s.stock} {
			if strings.Count(p.Out.String(), "msg=call") < 3 {
				t.Errorf("process %s logged fewer than 3 calls:\n%s", p.GRPCAddr, p.Out)
			}
		}
	})
	t.Run("three-processes-two-catalogs", func(t *testing.T) {
		s := startSplit(t, 2)
		checkShop(t, s.edges())
		// Both replicas serve the order service's calls.
		orders := ordersv1.NewOrderServiceClient(dial(t, s.orders.GRPCAddr))
		before := []int{getProducts(s.catalogs[0]), getProducts(s.catalogs[1])}
		eventually(t, 30*time.Second, func() error {
			if _, err := orders.QuoteOrder(ctx(t), quote("tea")); err != nil {
				return err
			}
			for i, c := range s.catalogs {
				if getProducts(c) == before[i] {
					return fmt.Errorf("catalog replica %d (%s) got no GetProduct call from the order service", i, c.GRPCAddr)
				}
			}
			return nil
		})
	})
}

// getProducts counts the GetProduct calls a catalog process logged.
func getProducts(p *testutil.Process) int {
	return strings.Count(p.Out.String(), "grpc.method=/"+catalogSvc+"/GetProduct grpc.code=OK")
}

// quote is a QuoteOrder request for one unit of product.
func quote(product string) *ordersv1.QuoteOrderRequest {
	return &ordersv1.QuoteOrderRequest{Items: []*ordersv1.Item{{ProductId: product, Quantity: 1}}}
}

// TestDependencyDownAtStart starts the order service with the catalog's
// target on a port nobody listens on: it is not ready and says which
// dependency it waits for, until the catalog starts there.
func TestDependencyDownAtStart(t *testing.T) {
	stock := startShop(t, "grpc", "-serve", stockSvc)
	catalogAddr := testutil.FreeAddr(t)
	// Gateway mode, so that /readyz answers on the HTTP address.
	orders := startShop(t, "gateway", "-serve", ordersSvc, "-targets", catalogSvc+"="+catalogAddr,
		"-client-connect-timeout", "1s")
	want := `{"status":"NOT_SERVING","waiting_for":["` + catalogSvc + `"]}` // the address is in the log
	// Right after "serving HTTP" the server may not have marked itself
	// started yet ({"status":"NOT_SERVING"} without waiting_for).
	eventually(t, 30*time.Second, func() error {
		code, body := readyz(t, orders.HTTPAddr)
		if code != http.StatusServiceUnavailable || body != want {
			return fmt.Errorf("/readyz = %d %s, want 503 %s", code, body, want)
		}
		return nil
	})
	// After client.connect_timeout the server logs the dependency, and
	// stays not ready.
	eventually(t, 30*time.Second, func() error {
		if !strings.Contains(orders.Out.String(), `msg="dependency not reachable; not ready" dependency="`+catalogSvc+" at "+catalogAddr+`"`) {
			return errors.New("no error logged for the missing catalog")
		}
		return nil
	})
	if code, body := readyz(t, orders.HTTPAddr); code != http.StatusServiceUnavailable || body != want {
		t.Fatalf("/readyz after the connect timeout = %d %s, want 503 %s", code, body, want)
	}
	client := ordersv1.NewOrderServiceClient(dial(t, orders.GRPCAddr))
	if _, err := client.QuoteOrder(ctx(t), quote("tea")); status.Code(err) != codes.Unavailable {
		t.Fatalf("QuoteOrder without the catalog: %v, want Unavailable", err)
	}

	startCatalog(t, catalogAddr, stock.GRPCAddr)
	waitReady(t, orders.HTTPAddr)
	if resp, err := client.QuoteOrder(ctx(t), quote("tea")); err != nil || resp.GetTotalCents() != 450 {
		t.Fatalf("QuoteOrder once the catalog runs: %v, %v", resp, err)
	}
}

// TestDependencyLost stops the catalog under a running chain: calls through
// the order service fail with Unavailable (HTTP 503 at the edge) and
// succeed again once the catalog is back on the same address.
func TestDependencyLost(t *testing.T) {
	s := startSplit(t, 1)
	orders := ordersv1.NewOrderServiceClient(dial(t, s.orders.GRPCAddr))
	if _, err := orders.QuoteOrder(ctx(t), quote("tea")); err != nil {
		t.Fatal(err)
	}
	if code, body := postQuote(t, s.edge.HTTPAddr); code != http.StatusOK {
		t.Fatalf("POST /v1/orders:quote = %d %s", code, body)
	}

	catalogAddr := s.catalogs[0].GRPCAddr
	if err := s.catalogs[0].Stop(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err := orders.QuoteOrder(ctx(t), quote("tea"))
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("QuoteOrder with the catalog stopped: %v, want Unavailable", err)
		}
		code, body := postQuote(t, s.edge.HTTPAddr)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"code":14`) {
			t.Fatalf("POST /v1/orders:quote with the catalog stopped = %d %s, want 503, code 14", code, body)
		}
	}

	startCatalog(t, catalogAddr, s.stock.GRPCAddr)
	var unexpected []error
	eventually(t, 60*time.Second, func() error {
		_, err := orders.QuoteOrder(ctx(t), quote("tea"))
		if err != nil && status.Code(err) != codes.Unavailable {
			unexpected = append(unexpected, err)
		}
		return err
	})
	if len(unexpected) > 0 {
		t.Errorf("while the catalog came back, calls failed with other codes than Unavailable: %v", unexpected)
	}
	if code, body := postQuote(t, s.edge.HTTPAddr); code != http.StatusOK || !strings.Contains(body, `"totalCents":"450"`) {
		t.Fatalf("POST /v1/orders:quote after the catalog's return = %d %s", code, body)
	}
}

// TestReplicaKilledUnderLoad kills (SIGKILL) one of two catalog replicas
// while concurrent clients make idempotent calls through the order
// service: none of them fails, since the order service retries the
// catalog's NO_SIDE_EFFECTS methods on UNAVAILABLE and round-robin moves to
// the other replica.
func TestReplicaKilledUnderLoad(t *testing.T) {
	const (
		workers  = 8
		calls    = 1500 // in all
		killedAt = 300  // calls completed when the replica is killed
	)
	s := startSplit(t, 2)
	orders := ordersv1.NewOrderServiceClient(dial(t, s.orders.GRPCAddr))
	victim, survivor := s.catalogs[0], s.catalogs[1]
	// Wait until the order service sends calls to both replicas.
	before := []int{getProducts(victim), getProducts(survivor)}
	eventually(t, 30*time.Second, func() error {
		if _, err := orders.QuoteOrder(ctx(t), quote("tea")); err != nil {
			return err
		}
		if getProducts(victim) == before[0] || getProducts(survivor) == before[1] {
			return errors.New("the order service does not call both catalog replicas yet")
		}
		return nil
	})

	var tickets, sent, succeeded, failed atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for tickets.Add(1) <= calls {
				sent.Add(1)
				callCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				resp, err := orders.QuoteOrder(callCtx, quote("coffee"))
				cancel()
				if err == nil && resp.GetTotalCents() != 890 {
					err = fmt.Errorf("QuoteOrder(coffee) total %d, want 890", resp.GetTotalCents())
				}
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if len(errs) < 5 {
						errs = append(errs, err)
					}
					mu.Unlock()
					continue
				}
				succeeded.Add(1)
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for succeeded.Load()+failed.Load() < killedAt && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	doneAtKill := succeeded.Load() + failed.Load()
	survivorAtKill := getProducts(survivor)
	victim.Kill()
	wg.Wait()

	t.Logf("calls: sent %d, succeeded %d, failed %d; replica killed after %d completed calls",
		sent.Load(), succeeded.Load(), failed.Load(), doneAtKill)
	if failed.Load() != 0 || succeeded.Load() != calls || sent.Load() != calls {
		t.Fatalf("sent %d, succeeded %d, failed %d; want %d succeeded, none failed; first errors: %v",
			sent.Load(), succeeded.Load(), failed.Load(), calls, errs)
	}
	if doneAtKill < killedAt || doneAtKill >= calls {
		t.Fatalf("the replica was killed after %d completed calls, want between %d and %d", doneAtKill, killedAt, calls)
	}
	// The survivor took the load: it logged (the log reaches the test
	// through a pipe, hence the wait) about every call made after the kill.
	want := calls - int(doneAtKill) - 2*workers
	eventually(t, 10*time.Second, func() error {
		if got := getProducts(survivor) - survivorAtKill; got < want {
			return fmt.Errorf("the surviving replica served %d calls after the kill, want at least %d", got, want)
		}
		return nil
	})
}

// readyz returns the status and the trimmed body of GET /readyz at addr.
func readyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	code, body := testutil.Get(t, "http://"+addr+"/readyz")
	return code, strings.TrimSpace(body)
}

// postQuote asks the HTTP edge at addr for the price of one tea.
func postQuote(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v1/orders:quote", "application/json",
		strings.NewReader(`{"items":[{"productId":"tea","quantity":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(compactJSON(body))
}

// waitReady waits until GET /readyz at addr answers 200.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		if code, body := readyz(t, addr); code != http.StatusOK {
			return fmt.Errorf("/readyz at %s = %d %s", addr, code, body)
		}
		return nil
	})
}

// eventually calls f every 20ms until it returns nil, and fails t with its
// last error if that takes longer than timeout.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
