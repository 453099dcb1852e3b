package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goms-io/goms/internal/testutil"
	"github.com/goms-io/goms/runtime"
	"github.com/goms-io/goms/testdata/echo"
	"github.com/goms-io/goms/testdata/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// echoImpl implements the echo test service. Message "panic" panics;
// DelayMs delays each answer and stops early when the call is cancelled.
type echoImpl struct {
	echo.UnimplementedEchoServiceServer
	entered   chan string   // when set, receives each message as a handler starts
	cancelled atomic.Int64  // handlers that saw their context end
	maxDelay  time.Duration // when set, caps DelayMs
}

func (s *echoImpl) answer(ctx context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	if s.entered != nil {
		select {
		case s.entered <- req.GetMessage():
		default:
		}
	}
	if req.GetMessage() == "panic" {
		panic("echo asked to panic")
	}
	if d := time.Duration(req.GetDelayMs()) * time.Millisecond; d > 0 {
		if s.maxDelay > 0 {
			d = min(d, s.maxDelay)
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			s.cancelled.Add(1)
			return nil, ctx.Err()
		}
	}
	return &echo.EchoResponse{Message: req.GetMessage()}, nil
}

func (s *echoImpl) Echo(ctx context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	return s.answer(ctx, req)
}

func (s *echoImpl) EchoBody(ctx context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	return s.answer(ctx, req)
}

func (s *echoImpl) Expand(req *echo.EchoRequest, stream grpc.ServerStreamingServer[echo.EchoResponse]) error {
	for _, word := range strings.Fields(req.GetMessage()) {
		resp, err := s.answer(stream.Context(), &echo.EchoRequest{Message: word, DelayMs: req.GetDelayMs()})
		if err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	return nil
}

func (s *echoImpl) Collect(stream grpc.ClientStreamingServer[echo.EchoRequest, echo.EchoResponse]) error {
	var words []string
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&echo.EchoResponse{Message: strings.Join(words, " ")})
		}
		if err != nil {
			return err
		}
		words = append(words, req.GetMessage())
	}
}

func (s *echoImpl) Chat(stream grpc.BidiStreamingServer[echo.EchoRequest, echo.EchoResponse]) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&echo.EchoResponse{Message: "re: " + req.GetMessage()}); err != nil {
			return err
		}
	}
}

// typesImpl answers Put with its request.
type typesImpl struct {
	types.UnimplementedTypesServiceServer
}

func (typesImpl) Put(_ context.Context, req *types.PutRequest) (*types.PutRequest, error) {
	return req, nil
}

// register adds the test services to s.
func register(s *runtime.Server, impl *echoImpl) {
	echo.RegisterEchoService(s, impl)
	types.RegisterTypesService(s, typesImpl{})
}

// serve starts an in-process server for cfg (free ports unless cfg names
// them) with the test services until the test ends.
func serve(t testing.TB, cfg runtime.Config, impl *echoImpl, opts ...runtime.Option) *runtime.Server {
	t.Helper()
	if cfg.GRPCAddr == runtime.DefaultConfig().GRPCAddr {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	if cfg.HTTPAddr == runtime.DefaultConfig().HTTPAddr {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if impl == nil {
		impl = &echoImpl{}
	}
	s := runtime.New(cfg, append([]runtime.Option{runtime.WithLogger(discardLogger())}, opts...)...)
	register(s, impl)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(t, s) })
	return s
}

func stopServer(t testing.TB, s *runtime.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// compactJSON is testutil.CompactJSON.
var compactJSON = testutil.CompactJSON

// errorBody is the JSON error contract's body for code and message.
func errorBody(code int, message string) string {
	msg, _ := json.Marshal(message)
	return fmt.Sprintf(`{"code":%d,"message":%s,"details":[]}`, code, msg)
}

// isErrorBody reports whether body is a google.rpc.Status JSON object.
func isErrorBody(body string) bool {
	var st struct {
		Code    *int             `json:"code"`
		Message *string          `json:"message"`
		Details *json.RawMessage `json:"details"`
	}
	return json.Unmarshal([]byte(body), &st) == nil && st.Code != nil && st.Message != nil && st.Details != nil
}

// rawResult is what a raw HTTP exchange gave: a status and body, or the
// connection's end without a response.
type rawResult struct {
	status int
	body   string
	header http.Header
	err    error // set when no response came
}

// rawHTTP writes req as is on a new connection to addr and reads one
// response (or the connection's end).
func rawHTTP(t testing.TB, addr string, req []byte, halfClose bool) rawResult {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() { // the server may answer before reading it all
		conn.Write(req)
		if halfClose {
			conn.(*net.TCPConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return rawResult{err: err}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return rawResult{status: resp.StatusCode, body: compactJSON(string(data)), header: resp.Header}
}

func dialGRPC(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// The process tests run real processes: this test binary re-executed with
// GOMS_TEST_SERVE set (the echo and types services under runtime.Main), and
// the example shop, built once by TestMain.

var shopBin string

func TestMain(m *testing.M) {
	if os.Getenv("GOMS_TEST_SERVE") != "" {
		runtime.Main(func(s *runtime.Server) error {
			register(s, &echoImpl{})
			return nil
		})
		return
	}
	dir, err := os.MkdirTemp("", "goms-reliability")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shopBin = filepath.Join(dir, "shop")
	build := exec.Command("go", append(append([]string{"build", "-o", shopBin}, raceFlags...), "../examples/shop/cmd/shop")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build shop:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running server process.
type proc struct {
	cmd                           *exec.Cmd
	out                           *syncBuffer
	grpcAddr, httpAddr, adminAddr string
	done                          chan struct{}
}

// syncBuffer is testutil.SyncBuffer.
type syncBuffer = testutil.SyncBuffer

var servingLine = regexp.MustCompile(`msg="serving (gRPC|HTTP)" addr=(\S+)`)

// startProc starts bin (os.Args[0] for the echo server) with args on free
// ports and waits until it serves what mode serves. The test's end kills
// it if it still runs.
func startProc(t testing.TB, bin, mode string, args ...string) *proc {
	t.Helper()
	args = append([]string{"-mode", mode, "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0"}, args...)
	p := &proc{cmd: exec.Command(bin, args...), out: new(syncBuffer), done: make(chan struct{})}
	if bin == os.Args[0] {
		p.cmd.Env = append(os.Environ(), "GOMS_TEST_SERVE=1")
	}
	pr, pw := io.Pipe()
	p.cmd.Stderr = io.MultiWriter(p.out, pw)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); pw.Close(); close(p.done) }()
	needGRPC, needHTTP := mode != "http", mode != "grpc"
	lines := bufio.NewScanner(pr)
	deadline := time.AfterFunc(30*time.Second, func() { p.cmd.Process.Kill() })
	defer deadline.Stop()
	for (needGRPC && p.grpcAddr == "") || (needHTTP && p.httpAddr == "") {
		if !lines.Scan() {
			t.Fatalf("%s %v exited before serving; output:\n%s", bin, args, p.out)
		}
		if m := servingLine.FindStringSubmatch(lines.Text()); m != nil {
			if m[1] == "gRPC" {
				p.grpcAddr = m[2]
			} else {
				p.httpAddr = m[2]
			}
		}
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to exit and returns its exit status.
func (p *proc) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("process did not exit within 30s; output:\n%s", p.out)
	}
	return p.cmd.ProcessState.ExitCode()
}

// freeAddr returns a loopback address nothing listens on (just closed).
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
