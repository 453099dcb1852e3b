package setup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/examples/shop"
	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	stockv1 "github.com/goms-io/goms/examples/shop/gen/stock/v1"
	"google.golang.org/grpc"
)

// ChainImpl names a deployment of the example shop's three-service chain:
// a QuoteOrder call to the order service asks the catalog service for the
// price, which asks the stock service for the units in stock.
type ChainImpl string

// The deployments of the chain. OneBinary and Split run in the calling
// process, every server a goms.Server with goms's defaults
// (logger discarded, as in startGoMs); Processes runs the example's
// binary. All listen on loopback.
const (
	// OneBinary is one GoMs server in gateway mode hosting the three
	// services: the order service calls the catalog, and the catalog the
	// stock, through the server's in-process connection.
	OneBinary ChainImpl = "one-binary"
	// Split is one GoMs server in grpc mode per service (serve), each
	// calling the next over a loopback gRPC connection to its target, plus
	// a GoMs server in http mode as the HTTP edge (upstream: the order
	// service; the catalog's routes to its target): the deployment as
	// three processes, run in one.
	Split ChainImpl = "split"
	// OneProcess is OneBinary as a process of the example's binary
	// (examples/shop/cmd/shop, built by StartChain), so that the client
	// is in another process, as with Processes. Its calls are not logged
	// (-log-level warn), like the discarded logs of the others.
	OneProcess ChainImpl = "one-process"
	// Processes is Split as four processes of the example's binary: one
	// per service, and the HTTP edge.
	Processes ChainImpl = "processes"
)

// ChainImpls lists the deployments of the chain.
var ChainImpls = []ChainImpl{OneBinary, Split, OneProcess, Processes}

// Chain is a running deployment of the chain.
type Chain struct {
	// GRPCAddr is the gRPC address of the server hosting the order service.
	GRPCAddr string
	// HTTPAddr is the address of the HTTP edge.
	HTTPAddr string
	// Local is the in-process connection of the server hosting the order
	// service; nil for Processes.
	Local grpc.ClientConnInterface

	stops []func() error
}

// StartChain starts impl on free loopback ports. Close stops it.
func StartChain(impl ChainImpl) (*Chain, error) {
	c := &Chain{}
	var err error
	switch impl {
	case OneBinary:
		var s *goms.Server
		if s, err = c.start(goms.ModeGateway, nil, nil, ""); err == nil {
			c.GRPCAddr, c.HTTPAddr, c.Local = s.GRPCAddr(), s.HTTPAddr(), s.LocalConn()
		}
	case Split:
		err = c.startSplit()
	case OneProcess:
		err = c.startProcesses(func(addrs []string) ([][]string, string, string) {
			return [][]string{{"-mode", "gateway", "-grpc-addr", addrs[0], "-http-addr", addrs[1]}}, addrs[0], addrs[1]
		})
	case Processes:
		err = c.startProcesses(func(addrs []string) ([][]string, string, string) {
			stock, catalog, orders, edge := addrs[0], addrs[1], addrs[2], addrs[3]
			return [][]string{
				{"-mode", "grpc", "-grpc-addr", stock, "-serve", stockv1.StockServiceName},
				{"-mode", "grpc", "-grpc-addr", catalog, "-serve", catalogv1.CatalogServiceName,
					"-targets", stockv1.StockServiceName + "=" + stock},
				{"-mode", "grpc", "-grpc-addr", orders, "-serve", ordersv1.OrderServiceName,
					"-targets", catalogv1.CatalogServiceName + "=" + catalog},
				{"-mode", "http", "-http-addr", edge, "-upstream", orders,
					"-targets", catalogv1.CatalogServiceName + "=" + catalog},
			}, orders, edge
		})
	default:
		err = fmt.Errorf("unknown chain impl %q", impl)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("start chain %s: %w", impl, err)
	}
	return c, nil
}

func (c *Chain) startSplit() error {
	stock, err := c.start(goms.ModeGRPC, []string{stockv1.StockServiceName}, nil, "")
	if err != nil {
		return err
	}
	catalog, err := c.start(goms.ModeGRPC, []string{catalogv1.CatalogServiceName},
		map[string]string{stockv1.StockServiceName: stock.GRPCAddr()}, "")
	if err != nil {
		return err
	}
	orders, err := c.start(goms.ModeGRPC, []string{ordersv1.OrderServiceName},
		map[string]string{catalogv1.CatalogServiceName: catalog.GRPCAddr()}, "")
	if err != nil {
		return err
	}
	edge, err := c.start(goms.ModeHTTP, nil,
		map[string]string{catalogv1.CatalogServiceName: catalog.GRPCAddr()}, orders.GRPCAddr())
	if err != nil {
		return err
	}
	c.GRPCAddr, c.HTTPAddr, c.Local = orders.GRPCAddr(), edge.HTTPAddr(), orders.LocalConn()
	return nil
}

// start starts a GoMs server with the shop's services registered
// (shop.Register), hosting serve (empty: all) and calling the others at
// targets.
func (c *Chain) start(mode goms.Mode, serve []string, targets map[string]string, upstream string) (*goms.Server, error) {
	cfg := goms.DefaultConfig()
	cfg.Mode = mode
	cfg.GRPC.Addr, cfg.HTTP.Addr = LoopbackAddrs.GRPC, LoopbackAddrs.HTTP
	cfg.Serve, cfg.Targets, cfg.Upstream = serve, targets, upstream
	cfg.ShutdownGrace = time.Second
	srv := goms.New(cfg, goms.WithLogger(slog.New(slog.DiscardHandler)))
	if err := shop.Register(srv); err != nil {
		return nil, err
	}
	if err := srv.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("%s server (serve %s): %w", mode, strings.Join(serve, ","), err)
	}
	c.stops = append(c.stops, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		return srv.Stop(ctx)
	})
	return srv, nil
}

// Close stops the chain's servers, the last started first.
func (c *Chain) Close() error {
	var errs []error
	for i := len(c.stops) - 1; i >= 0; i-- {
		errs = append(errs, c.stops[i]())
	}
	c.stops = nil
	return errors.Join(errs...)
}

// startProcesses builds the example's binary and starts it once per
// argument list that deployment returns for free loopback addresses (four
// to use as it likes), each process with an admin address of its own
// whose /readyz tells when it serves. deployment also says where the
// order service and the HTTP edge are.
func (c *Chain) startProcesses(deployment func(addrs []string) (args [][]string, grpcAddr, httpAddr string)) error {
	dir, err := os.MkdirTemp("", "goms-chain")
	if err != nil {
		return err
	}
	c.stops = append(c.stops, func() error { return os.RemoveAll(dir) })
	bin := filepath.Join(dir, "shop")
	// The example is built in the library's own module (the replace
	// target of this one), whose go.sum covers what the example links
	// (goms/mcp among it) and this module's does not.
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/goms-io/goms").Output()
	if err != nil {
		return fmt.Errorf("go list -m github.com/goms-io/goms: %v", err)
	}
	if out, err := exec.Command("go", "-C", strings.TrimSpace(string(root)), "build", "-o", bin, "./examples/shop/cmd/shop").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	addrs, err := freePorts(8)
	if err != nil {
		return err
	}
	procs, grpcAddr, httpAddr := deployment(addrs[:4])
	for i, args := range procs {
		admin := addrs[4+i]
		cmd := exec.Command(bin, append(args, "-admin-addr", admin, "-log-level", "warn", "-shutdown-grace", "1s")...)
		logPath := filepath.Join(dir, fmt.Sprintf("shop-%d.log", i))
		log, err := os.Create(logPath)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = log, log
		err = cmd.Start()
		log.Close() // the process has its own descriptor
		if err != nil {
			return err
		}
		failed := func(err error) error {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("shop %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		// Stopped before the log directory is removed (stops run last first).
		c.stops = append(c.stops, func() error {
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				return failed(err)
			}
			return nil
		})
		if err := waitReady(admin); err != nil {
			return failed(err)
		}
	}
	c.GRPCAddr, c.HTTPAddr = grpcAddr, httpAddr
	return nil
}

// freePorts returns n loopback addresses with ports that were free.
func freePorts(n int) ([]string, error) {
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// waitReady waits up to 30 s for /readyz at admin to answer 200.
func waitReady(admin string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within 30s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
