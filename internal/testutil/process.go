package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// Process is a server process: a program that runs goms.Main, started
// by StartProcess.
type Process struct {
	// Cmd is the process's command.
	Cmd *exec.Cmd
	// Out holds what the process has written to its standard error (its
	// log) so far.
	Out *SyncBuffer
	// GRPCAddr and HTTPAddr are the addresses it serves gRPC and HTTP on,
	// "" for what its mode does not serve.
	GRPCAddr, HTTPAddr string
	// Done is closed once the process has exited and Cmd.ProcessState is
	// set.
	Done chan struct{}
}

// servingLine matches the line goms.Main's server logs for each address
// it serves.
var servingLine = regexp.MustCompile(`msg="serving (gRPC|HTTP)" addr=(\S+)`)

// StartProcess starts bin, a program that runs goms.Main, with the
// flags -mode mode, -grpc-addr 127.0.0.1:0 and -http-addr 127.0.0.1:0
// (free ports) before args, and with env added to the test's environment.
// It waits until the process's log says it serves what mode serves (gRPC
// in mode grpc, HTTP in mode http, both in mode gateway) and fails t if
// the process exits first or takes more than 30 s (then it kills it). What
// becomes of the process at the test's end is the caller's choice (see
// Kill and Stop).
func StartProcess(t testing.TB, bin string, env []string, mode string, args ...string) *Process {
	t.Helper()
	args = append([]string{"-mode", mode, "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0"}, args...)
	p := &Process{Cmd: exec.Command(bin, args...), Out: new(SyncBuffer), Done: make(chan struct{})}
	if len(env) > 0 {
		p.Cmd.Env = append(os.Environ(), env...)
	}
	pr, pw := io.Pipe()
	p.Cmd.Stderr = io.MultiWriter(p.Out, pw)
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Cmd.Wait(); pw.Close(); close(p.Done) }()
	needGRPC, needHTTP := mode != "http", mode != "grpc"
	lines := bufio.NewScanner(pr)
	deadline := time.AfterFunc(30*time.Second, func() { p.Cmd.Process.Kill() })
	defer deadline.Stop()
	for (needGRPC && p.GRPCAddr == "") || (needHTTP && p.HTTPAddr == "") {
		if !lines.Scan() {
			go io.Copy(io.Discard, pr)
			p.Kill()
			t.Fatalf("%s %v exited before serving; output:\n%s", bin, args, p.Out)
		}
		if m := servingLine.FindStringSubmatch(lines.Text()); m != nil {
			if m[1] == "gRPC" {
				p.GRPCAddr = m[2]
			} else {
				p.HTTPAddr = m[2]
			}
		}
	}
	go io.Copy(io.Discard, pr)
	return p
}

// Kill kills the process, if it still runs, and waits for it to exit.
func (p *Process) Kill() {
	p.Cmd.Process.Kill()
	<-p.Done
}

// Stop sends the process SIGTERM and waits up to 30 s for it to exit with
// status 0. If it runs longer, Stop kills it.
func (p *Process) Stop() error {
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if !p.exited(30 * time.Second) {
		return errors.New("did not exit within 30s of SIGTERM")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("exit status %d after SIGTERM", code)
	}
	return nil
}

// Wait waits up to limit for the process to exit and returns its exit
// status. If it runs longer, Wait kills it and fails t.
func (p *Process) Wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	if !p.exited(limit) {
		t.Fatalf("process did not exit within %v; output:\n%s", limit, p.Out)
	}
	return p.Cmd.ProcessState.ExitCode()
}

// exited waits up to limit for the process to exit and reports whether it
// did; if not, it kills it.
func (p *Process) exited(limit time.Duration) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.Done:
		return true
	case <-timer.C:
		p.Kill()
		return false
	}
}

// FreeAddr returns a loopback address with a port nobody listens on: free
// when FreeAddr returns, for the test to bind shortly after.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Get fetches url with http.Get and returns the response's status code and
// body. It fails t when no response comes.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
