// Command benchserver serves the benchmark echo service in one of the
// set-ups of package bench (bench/internal/setup), for load tests
// (scripts/load.sh):
//
//	benchserver -impl goms -grpc-addr 127.0.0.1:0 -http-addr 127.0.0.1:0 -addr-file addrs
//
// Once serving, it writes "grpc=<addr> http=<addr>" (empty for what the
// set-up does not serve) to -addr-file, or to standard output, and serves
// until SIGINT or SIGTERM. With -cpuprofile it profiles from SIGUSR1 (sent
// once the load's warm-up is over) to the stop, and writes the profile
// then: where a set-up's CPU goes under load.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/goms-io/goms/bench/internal/setup"
)

func main() {
	impls := make([]string, len(setup.Impls))
	for i, impl := range setup.Impls {
		impls[i] = string(impl)
	}
	impl := flag.String("impl", string(setup.GoMs), "set-up to serve: "+strings.Join(impls, ", "))
	grpcAddr := flag.String("grpc-addr", "127.0.0.1:0", "gRPC listen address")
	httpAddr := flag.String("http-addr", "127.0.0.1:0", "HTTP listen address")
	addrFile := flag.String("addr-file", "", "file to write the listening addresses to once serving (default standard output)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile, from SIGUSR1 to the stop, to this file")
	flag.Parse()

	srv, err := setup.Start(setup.Impl(*impl), setup.Addrs{GRPC: *grpcAddr, HTTP: *httpAddr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(2)
	}
	line := fmt.Sprintf("grpc=%s http=%s\n", srv.GRPCAddr, srv.HTTPAddr)
	if *addrFile == "" {
		fmt.Print(line)
	} else if err := writeFileAtomic(*addrFile, line); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		srv.Close()
		os.Exit(1)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	profiling := false
	for s := <-sig; s == syscall.SIGUSR1; s = <-sig {
		if *cpuProfile == "" || profiling {
			continue
		}
		profiling = true
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchserver:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}

// writeFileAtomic writes data to name through a temporary file and a
// rename, so that a reader polling for name never sees it half written.
func writeFileAtomic(name, data string) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
