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
	"strconv"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/types"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// typesImpl answers Put with its request.
type typesImpl struct {
	types.UnimplementedTypesServiceServer
}

func (typesImpl) Put(_ context.Context, req *types.PutRequest) (*types.PutRequest, error) {
	return req, nil
}

// register adds the test services to s.
func register(s *goms.Server, impl *echotest.Server) {
	echo.RegisterEchoService(s, impl)
	types.RegisterTypesService(s, typesImpl{})
}

// serve starts an in-process server for cfg (free ports unless cfg names
// them) with the test services until the test ends.
func serve(t testing.TB, cfg goms.Config, impl *echotest.Server, opts ...goms.Option) *goms.Server {
	t.Helper()
	if cfg.GRPC.Addr == goms.DefaultConfig().GRPC.Addr {
		cfg.GRPC.Addr = "127.0.0.1:0"
	}
	if cfg.HTTP.Addr == goms.DefaultConfig().HTTP.Addr {
		cfg.HTTP.Addr = "127.0.0.1:0"
	}
	if impl == nil {
		impl = &echotest.Server{}
	}
	s := goms.New(cfg, append([]goms.Option{goms.WithLogger(discardLogger())}, opts...)...)
	register(s, impl)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(t, s) })
	return s
}

func stopServer(t testing.TB, s *goms.Server) {
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
// GOMS_TEST_SERVE set (the echo and types services under goms.Main), and
// the example shop, built by the first test that needs it (shopBin).

// shopBin returns the example shop's binary (testutil.Binary), removed by
// TestMain.
func shopBin(t testing.TB) string { return testutil.Binary(t, "../examples/shop/cmd/shop") }

func TestMain(m *testing.M) {
	if os.Getenv("GOMS_TEST_SERVE") != "" {
		if n, err := strconv.ParseUint(os.Getenv(noFileEnv), 10, 64); err == nil {
			if err := setNoFile(n); err != nil {
				fmt.Fprintln(os.Stderr, "setting the open-file limit:", err)
				os.Exit(1)
			}
		}
		goms.Main(func(s *goms.Server) error {
			register(s, &echotest.Server{})
			return nil
		})
		return
	}
	testutil.Main(m)
}

// syncBuffer is testutil.SyncBuffer.
type syncBuffer = testutil.SyncBuffer

// startProc starts bin (os.Args[0] for the echo server) in mode on free
// ports and waits until it serves what mode serves. The test's end kills
// it if it still runs.
func startProc(t testing.TB, bin, mode string, args ...string) *testutil.Process {
	t.Helper()
	var env []string
	if bin == os.Args[0] {
		env = []string{"GOMS_TEST_SERVE=1"}
	}
	p := testutil.StartProcess(t, bin, env, mode, args...)
	t.Cleanup(p.Kill)
	return p
}
