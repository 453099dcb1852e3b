package connect_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/rules"
	"github.com/goms-io/goms/test/connect/gen/fixtures/echo/echoconnect"
	"github.com/goms-io/goms/test/connect/gen/fixtures/rules/rulesconnect"
	"google.golang.org/protobuf/proto"
)

// earlyServer serves the fixtures in gateway mode, uncounted, with no
// read timeout to end a body early.
func earlyServer(t *testing.T) string {
	t.Helper()
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.HTTP.ReadTimeout = 0
	s := goms.New(cfg, quiet())
	echo.RegisterEchoService(s, &echotest.Server{})
	rules.RegisterRulesService(s, diffRules{})
	start(t, s)
	return "http://" + s.HTTPAddr()
}

// TestEarlyAnswerClosesHTTP1 checks the time bound on what the server
// reads of a client stream's HTTP/1 body after its answer is ready: a
// client that keeps its body open but sends nothing more gets the answer
// once the server stops waiting (internal/gateway's maxDrainTime), with
// Connection: close, since the rest of the body is left on the
// connection. Without the bound the server would wait for the body's end
// (here never: the test hangs).
func TestEarlyAnswerClosesHTTP1(t *testing.T) {
	base := earlyServer(t)
	msg, err := proto.Marshal(&rules.PlaceRequest{Sku: "X"})
	if err != nil {
		t.Fatal(err)
	}
	frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	frame = append(frame, msg...)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write(frame) }() // the body stays open
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/fixtures.rules.RulesService/PlaceMany", pr)
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !resp.Close {
		t.Errorf("an answer before the body's end keeps the HTTP/1 connection (no Connection: close); body %q", body)
	}
}

// TestEarlyAnswerThenCall alternates client streams answered early (a
// message breaks a rule while the client is still sending) with unary
// calls over HTTP/1.1, with connect-go's client in gRPC-Web and Connect:
// every early answer must reach the client (the server reads the rest of
// the body before it answers, so it never closes a connection the client
// is still writing to, which could reset it and lose the answer), the
// call after it must succeed, and the connection must stay in use: the
// client dials once.
func TestEarlyAnswerThenCall(t *testing.T) {
	base := earlyServer(t)
	var dials atomic.Int64
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	hc := &http.Client{Transport: tr}
	const n = 200
	const tail = 50 // messages sent after the one that breaks the rule
	for _, p := range []struct {
		name string
		opts []connect.ClientOption
	}{{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}}, {"connect", nil}} {
		rc := rulesconnect.NewRulesServiceClient(hc, base, p.opts...)
		ec := echoconnect.NewEchoServiceClient(hc, base, p.opts...)
		lost := 0
		for i := range n {
			st := rc.PlaceMany(context.Background())
			_ = st.Send(&rules.PlaceRequest{Sku: "SKU1", Quantity: 1})
			_ = st.Send(&rules.PlaceRequest{Sku: "X"})
			for range tail {
				_ = st.Send(&rules.PlaceRequest{Sku: "SKU1", Quantity: 1})
			}
			if _, err := st.CloseAndReceive(); connect.CodeOf(err) != connect.CodeInvalidArgument {
				lost++
				t.Errorf("%s %d: PlaceMany: %v, want invalid_argument", p.name, i, err)
			}
			if _, err := ec.Echo(context.Background(), connect.NewRequest(&echo.EchoRequest{Message: "hi"})); err != nil {
				t.Fatalf("%s %d: Echo after PlaceMany: %v", p.name, i, err)
			}
		}
		if lost > 0 {
			t.Errorf("%s: %d of %d early answers lost, want 0", p.name, lost, n)
		}
	}
	if d := dials.Load(); d != 1 {
		t.Errorf("%d connections for %d early answers and as many calls, want 1: an early answer closed its connection", d, 2*n)
	}
}

// TestEarlyAnswerEndlessBody checks the byte bound on what the server
// reads of a client stream's HTTP/1 body after its answer is ready: a
// client that keeps sending (chunk after chunk of valid messages) after
// a message that broke a rule must have its connection closed once the
// server has read its bound (internal/gateway's maxDrainBytes, 256 KiB),
// long before it has sent 32 MiB (what the server could have read past
// its bound is what the two sockets' buffers hold, a few MiB). The
// answer, if it arrives (the close may reset the connection under it),
// must be the rule's INVALID_ARGUMENT with Connection: close.
func TestEarlyAnswerEndlessBody(t *testing.T) {
	base := earlyServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b))), b...)
	}
	chunk := func(b []byte) []byte { return append(append(fmt.Appendf(nil, "%x\r\n", len(b)), b...), "\r\n"...) }
	head := "POST /fixtures.rules.RulesService/PlaceMany HTTP/1.1\r\nHost: goms\r\n" +
		"Content-Type: application/grpc-web+proto\r\nTransfer-Encoding: chunked\r\n\r\n"
	first := append([]byte(head), chunk(append(frame(&rules.PlaceRequest{Sku: "SKU1", Quantity: 1}), frame(&rules.PlaceRequest{Sku: "X"})...))...)
	var more []byte
	for len(more) < 64<<10 {
		more = append(more, frame(&rules.PlaceRequest{Sku: "SKU1", Quantity: 1})...)
	}
	more = chunk(more)
	const limit = 32 << 20
	type result struct {
		sent int
		err  error
	}
	wrote := make(chan result, 1)
	go func() {
		n, err := conn.Write(first)
		for err == nil && n < limit {
			var m int
			m, err = conn.Write(more)
			n += m
		}
		wrote <- result{n, err}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !resp.Close {
			t.Errorf("answer without Connection: close to a client that kept sending; body %q", body)
		}
		if !bytes.Contains(body, []byte("grpc-status: 3\r\n")) {
			t.Errorf("answer %q, want grpc-status 3 (INVALID_ARGUMENT) in its trailers", body)
		}
	} else {
		t.Logf("no answer (the connection was reset under it): %v", err)
	}
	r := <-wrote
	if r.err == nil {
		t.Fatalf("the client sent %d bytes and the connection is still open, want it closed past the server's bound", r.sent)
	}
	t.Logf("the client sent %d bytes before the server closed the connection: %v", r.sent, r.err)
}
