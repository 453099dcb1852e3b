package testutil

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The process tests run this test binary, re-executed with
// TESTUTIL_FAKE_SERVER set to an exit status, as a stand-in for a server:
// it logs the serving lines of its mode, then exits with that status on
// SIGTERM.

func TestMain(m *testing.M) {
	if code := os.Getenv("TESTUTIL_FAKE_SERVER"); code != "" {
		fakeServer(code)
		return
	}
	Main(m)
}

func fakeServer(code string) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fs := flag.NewFlagSet("fake", flag.ExitOnError)
	mode := fs.String("mode", "gateway", "")
	grpcAddr := fs.String("grpc-addr", "", "")
	httpAddr := fs.String("http-addr", "", "")
	fs.Parse(os.Args[1:])
	fmt.Fprintln(os.Stderr, `level=INFO msg=starting`)
	if *mode != "http" {
		fmt.Fprintf(os.Stderr, "level=INFO msg=\"serving gRPC\" addr=%s\n", strings.Replace(*grpcAddr, ":0", ":1001", 1))
	}
	if *mode != "grpc" {
		fmt.Fprintf(os.Stderr, "level=INFO msg=\"serving HTTP\" addr=%s\n", strings.Replace(*httpAddr, ":0", ":1002", 1))
	}
	<-term
	n, _ := strconv.Atoi(code)
	os.Exit(n)
}

func TestStartProcess(t *testing.T) {
	for _, tc := range []struct{ mode, grpcAddr, httpAddr string }{
		{"gateway", "127.0.0.1:1001", "127.0.0.1:1002"},
		{"grpc", "127.0.0.1:1001", ""},
		{"http", "", "127.0.0.1:1002"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p := StartProcess(t, os.Args[0], []string{"TESTUTIL_FAKE_SERVER=0"}, tc.mode)
			t.Cleanup(p.Kill)
			if p.GRPCAddr != tc.grpcAddr || p.HTTPAddr != tc.httpAddr {
				t.Errorf("addresses %q and %q, want %q and %q", p.GRPCAddr, p.HTTPAddr, tc.grpcAddr, tc.httpAddr)
			}
			if err := p.Stop(); err != nil {
				t.Errorf("Stop: %v; output:\n%s", err, p.Out)
			}
			if code := p.Wait(t, time.Second); code != 0 {
				t.Errorf("Wait after Stop: exit status %d, want 0", code)
			}
			if !strings.Contains(p.Out.String(), "msg=starting") {
				t.Errorf("output lacks the first line:\n%s", p.Out)
			}
		})
	}
}

func TestProcessStopStatus(t *testing.T) {
	p := StartProcess(t, os.Args[0], []string{"TESTUTIL_FAKE_SERVER=3"}, "gateway")
	t.Cleanup(p.Kill)
	if err := p.Stop(); err == nil || err.Error() != "exit status 3 after SIGTERM" {
		t.Errorf("Stop: %v, want exit status 3", err)
	}
}

func TestProcessKill(t *testing.T) {
	p := StartProcess(t, os.Args[0], []string{"TESTUTIL_FAKE_SERVER=0"}, "gateway")
	p.Kill()
	if code := p.Wait(t, time.Second); code != -1 {
		t.Errorf("exit status %d after Kill, want -1 (killed)", code)
	}
}
