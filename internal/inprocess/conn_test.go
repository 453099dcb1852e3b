package inprocess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The tests below run the same calls over a Conn and over a real
// grpc.Server on a loopback socket, and check that both behave alike.

const (
	// behaviorKey is the metadata key that selects what testService does.
	behaviorKey = "x-behavior"
	// testTimeout bounds every test call so that a bug fails a test rather
	// than hanging it; no test depends on it expiring.
	testTimeout = 10 * time.Second
)

// callerKey is a context key set by callers; handlers must not see it.
type callerKey struct{}

// interceptorKey is a context key set by server interceptors for handlers.
type interceptorKey struct{}

// testService implements grpc_testing.TestService. What a call does is chosen
// by the behaviorKey metadata.
type testService struct {
	testpb.UnimplementedTestServiceServer

	// calls counts handler invocations.
	calls atomic.Int32
	// started receives a value when a handler starts waiting for its
	// context; ended then receives the context's error.
	started chan struct{}
	ended   chan error

	mu sync.Mutex
	// proceed is closed by tests to let a "send-header-wait" handler go on.
	proceed chan struct{}
	// lastReq and lastResp are the last request and response of UnaryCall,
	// as the handler saw and returned them.
	lastReq  *testpb.SimpleRequest
	lastResp *testpb.SimpleResponse
	// inputs are the requests StreamingInputCall received.
	inputs []*testpb.StreamingInputCallRequest
	// inspected is what the last "inspect" call saw.
	inspected *inspection
}

// newTestService returns a testService ready for use.
func newTestService() *testService {
	return &testService{
		started: make(chan struct{}, 16),
		ended:   make(chan error, 16),
		proceed: make(chan struct{}),
	}
}

// inspection is what a handler saw of its context.
type inspection struct {
	ctx          context.Context
	md           metadata.MD
	hasOutgoing  bool
	callerValue  any
	peerAddr     string
	peerLocal    string
	peerNetwork  string
	method       string
	hasDeadline  bool
	setHeaderErr error
}

// behavior returns the behaviour the caller asked for.
func behavior(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, behaviorKey); len(v) > 0 {
		return v[0]
	}
	return ""
}

// withBehavior returns ctx asking testService for behaviour b.
func withBehavior(ctx context.Context, b string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, behaviorKey, b)
}

// inspect records what ctx holds.
func (s *testService) inspect(ctx context.Context) {
	in := &inspection{ctx: ctx}
	in.md, _ = metadata.FromIncomingContext(ctx)
	_, in.hasOutgoing = metadata.FromOutgoingContext(ctx)
	in.callerValue = ctx.Value(callerKey{})
	if p, ok := peer.FromContext(ctx); ok {
		in.peerAddr = p.Addr.String()
		in.peerLocal = p.LocalAddr.String()
		in.peerNetwork = p.Addr.Network()
	}
	in.method, _ = grpc.Method(ctx)
	_, in.hasDeadline = ctx.Deadline()
	in.setHeaderErr = grpc.SetHeader(ctx, metadata.Pairs("x-inspected", "yes"))
	s.mu.Lock()
	s.inspected = in
	s.mu.Unlock()
}

// lastInspection returns what the last "inspect" call saw.
func (s *testService) lastInspection() *inspection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inspected
}

// block waits until ctx is done and returns its error.
func (s *testService) block(ctx context.Context) error {
	s.started <- struct{}{}
	<-ctx.Done()
	s.ended <- ctx.Err()
	return ctx.Err()
}

// proceedCh returns the channel a "send-header-wait" handler waits on.
func (s *testService) proceedCh() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proceed
}

// resetProceed replaces the channel a "send-header-wait" handler waits on.
func (s *testService) resetProceed() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proceed = make(chan struct{})
	return s.proceed
}

// EmptyCall counts the call and returns an empty message.
func (s *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	s.calls.Add(1)
	return &testpb.Empty{}, nil
}

// UnaryCall echoes the request's payload, with header x-header (from the
// x-req metadata) and trailer x-trailer, unless a behaviour says otherwise.
func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.lastReq = req
	s.mu.Unlock()
	if err := grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t")); err != nil {
		return nil, err
	}
	md, _ := metadata.FromIncomingContext(ctx)
	header := metadata.Pairs("x-header", "h-"+strings.Join(md.Get("x-req"), ","))
	resp := &testpb.SimpleResponse{Payload: proto.Clone(req.GetPayload()).(*testpb.Payload)}

	switch behavior(ctx) {
	case "send-header":
		if err := grpc.SendHeader(ctx, header); err != nil {
			return nil, err
		}
		// Once the header is sent, it can neither be sent again nor
		// changed, but the trailer can.
		resp.Username = fmt.Sprintf("%v,%v,%v",
			status.Code(grpc.SendHeader(ctx, nil)),
			status.Code(grpc.SetHeader(ctx, metadata.Pairs("x-late", "1"))),
			status.Code(grpc.SetTrailer(ctx, metadata.Pairs("x-trailer2", "t2"))))
	case "trailers-only":
	default:
		if err := grpc.SetHeader(ctx, header); err != nil {
			return nil, err
		}
	}

	switch behavior(ctx) {
	case "inspect":
		s.inspect(ctx)
	case "block":
		return nil, s.block(ctx)
	case "plain-error":
		return nil, errors.New("boom")
	case "deadline-error":
		return nil, context.DeadlineExceeded
	case "canceled-error":
		return nil, fmt.Errorf("wrapped: %w", context.Canceled)
	case "details":
		st, err := status.New(codes.FailedPrecondition, "with details").WithDetails(&testpb.Payload{Body: []byte("detail")})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	case "nil-response":
		return nil, nil
	case "panic":
		panic("unary boom")
	case "ctx-value":
		v, _ := ctx.Value(interceptorKey{}).(string)
		resp.Payload = &testpb.Payload{Body: []byte(v)}
	}
	if st := req.GetResponseStatus(); st.GetCode() != 0 {
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	s.mu.Lock()
	s.lastResp = resp
	s.mu.Unlock()
	return resp, nil
}

// StreamingOutputCall sends one response per response parameter, of the
// requested size, reusing a single message, then returns the requested status.
func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	s.calls.Add(1)
	ctx := stream.Context()
	stream.SetTrailer(metadata.Pairs("x-trailer", "t"))
	switch behavior(ctx) {
	case "inspect":
		s.inspect(ctx)
	case "block":
		return s.block(ctx)
	case "panic":
		panic("stream boom")
	case "trailers-only":
	case "send-header-wait":
		if err := stream.SendHeader(metadata.Pairs("x-header", "early")); err != nil {
			return err
		}
		select {
		case <-s.proceedCh():
		case <-ctx.Done():
			return ctx.Err()
		}
	default:
		if err := stream.SetHeader(metadata.Pairs("x-header", "h")); err != nil {
			return err
		}
	}
	resp := &testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{}}
	for i, p := range req.GetResponseParameters() {
		resp.Payload.Body = bytes.Repeat([]byte{byte('a' + i)}, int(p.GetSize()))
		if err := stream.Send(resp); err != nil {
			return err
		}
		// The message was copied: changing it now must not change what
		// the client receives.
		for j := range resp.Payload.Body {
			resp.Payload.Body[j] = '!'
		}
	}
	if st := req.GetResponseStatus(); st.GetCode() != 0 {
		return status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return nil
}

// StreamingInputCall returns the total size of the payloads it receives.
func (s *testService) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	s.calls.Add(1)
	ctx := stream.Context()
	stream.SetTrailer(metadata.Pairs("x-trailer", "t"))
	var sum int
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.inputs = append(s.inputs, req)
		s.mu.Unlock()
		sum += len(req.GetPayload().GetBody())
		if behavior(ctx) == "early-error" {
			return status.Error(codes.Aborted, "early")
		}
	}
	if behavior(ctx) == "no-response" {
		return nil
	}
	return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
}

// FullDuplexCall answers each request as it arrives, with one response per
// response parameter, and fails with a request's status if it has one.
func (s *testService) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	s.calls.Add(1)
	ctx := stream.Context()
	stream.SetTrailer(metadata.Pairs("x-trailer", "t"))
	switch behavior(ctx) {
	case "inspect":
		s.inspect(ctx)
	case "panic":
		panic("bidi boom")
	}
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if st := req.GetResponseStatus(); st.GetCode() != 0 {
			return status.Error(codes.Code(st.GetCode()), st.GetMessage())
		}
		for _, p := range req.GetResponseParameters() {
			body := bytes.Repeat([]byte{'x'}, int(p.GetSize()))
			if v, ok := ctx.Value(interceptorKey{}).(string); ok {
				body = []byte(v)
			}
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: body}}); err != nil {
				return err
			}
		}
		if behavior(ctx) == "block-after-first" {
			return s.block(ctx)
		}
	}
}

// HalfDuplexCall receives all requests, then answers them in order.
func (s *testService) HalfDuplexCall(stream testpb.TestService_HalfDuplexCallServer) error {
	s.calls.Add(1)
	var reqs []*testpb.StreamingOutputCallRequest
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		reqs = append(reqs, req)
	}
	for _, req := range reqs {
		for _, p := range req.GetResponseParameters() {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// testConn is a connection to a test service.
type testConn struct {
	name string
	cc   grpc.ClientConnInterface
}

// newTestConns serves svc behind the given interceptors both in process and
// on a loopback grpc.Server, and returns a connection to each. Everything is
// shut down when the test ends.
func newTestConns(tb testing.TB, svc testpb.TestServiceServer, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) []testConn {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.WaitForHandlers(true),
	)
	srv.RegisterService(&testpb.TestService_ServiceDesc, svc)
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cc.Close()
		srv.Stop()
		<-served
	})
	local := []Service{{Desc: &testpb.TestService_ServiceDesc, Impl: svc}}
	return []testConn{
		{name: "inprocess", cc: New(local, unary, stream)},
		{name: "loopback", cc: cc},
	}
}

// verifyNoLeaks makes the test fail if goroutines it started are still
// running when it ends. It must be called first, so that the check runs after
// all other cleanups.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// testContext returns a context bounding a test call.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// forEachConn runs f as a subtest for each connection, and fails if the
// results of the in-process and loopback connections differ.
func forEachConn[R any](t *testing.T, conns []testConn, f func(t *testing.T, cc grpc.ClientConnInterface) R) {
	t.Helper()
	results := make(map[string]R, len(conns))
	for _, c := range conns {
		t.Run(c.name, func(t *testing.T) {
			results[c.name] = f(t, c.cc)
		})
	}
	if got, want := results["inprocess"], results["loopback"]; !reflect.DeepEqual(got, want) {
		t.Errorf("in-process and loopback differ:\ninprocess: %+v\nloopback:  %+v", got, want)
	}
}

// mdOf returns md as a plain map, nil if it is empty, for comparisons.
func mdOf(md metadata.MD) map[string][]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string][]string, len(md))
	for k, v := range md {
		out[k] = slices.Clone(v)
	}
	return out
}

// rpcResult is what a caller observes of an RPC.
type rpcResult struct {
	Code     codes.Code
	Message  string
	Header   map[string][]string
	Trailer  map[string][]string
	Body     string
	Username string
}

// resultOf returns what a caller observes of an RPC that returned resp and
// err with the given header and trailer.
func resultOf(err error, header, trailer metadata.MD, body []byte, username string) rpcResult {
	st := status.Convert(err)
	return rpcResult{
		Code:     st.Code(),
		Message:  st.Message(),
		Header:   mdOf(header),
		Trailer:  mdOf(trailer),
		Body:     string(body),
		Username: username,
	}
}

// wantStatus fails the test if err does not carry a status with code and,
// unless msg is empty, message msg.
func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v (%T) carries no status", err, err)
	}
	if st.Code() != code || (msg != "" && st.Message() != msg) {
		t.Fatalf("got status %v %q, want %v %q", st.Code(), st.Message(), code, msg)
	}
}

// TestInProcessUnary checks a successful unary call, with its header and
// trailer.
func TestInProcessUnary(t *testing.T) {
	verifyNoLeaks(t)
	conns := newTestConns(t, newTestService(), nil, nil)
	forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
		ctx := metadata.AppendToOutgoingContext(testContext(t), "x-req", "r1")
		var header, trailer metadata.MD
		resp, err := testpb.NewTestServiceClient(cc).UnaryCall(ctx,
			&testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello")}},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(resp.GetPayload().GetBody()); got != "hello" {
			t.Errorf("got body %q, want %q", got, "hello")
		}
		if got, want := mdOf(header), map[string][]string{"x-header": {"h-r1"}, "content-type": {"application/grpc"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("got header %v, want %v", got, want)
		}
		if got, want := mdOf(trailer), map[string][]string{"x-trailer": {"t"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("got trailer %v, want %v", got, want)
		}
		if _, err := testpb.NewTestServiceClient(cc).EmptyCall(ctx, &testpb.Empty{}); err != nil {
			t.Fatal(err)
		}
		return resultOf(err, header, trailer, resp.GetPayload().GetBody(), resp.GetUsername())
	})
}

// TestInProcessUnaryErrors checks how handler errors reach the caller, with the
// header and trailer sent along.
func TestInProcessUnaryErrors(t *testing.T) {
	verifyNoLeaks(t)
	conns := newTestConns(t, newTestService(), nil, nil)
	for _, tc := range []struct {
		name     string
		behavior string
		status   *testpb.EchoStatus
		code     codes.Code
		msg      string
	}{
		{name: "status", status: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "nope"}, code: codes.NotFound, msg: "nope"},
		{name: "plain error", behavior: "plain-error", code: codes.Unknown, msg: "boom"},
		{name: "bare deadline error", behavior: "deadline-error", code: codes.DeadlineExceeded, msg: "context deadline exceeded"},
		{name: "wrapped canceled error", behavior: "canceled-error", code: codes.Canceled, msg: "wrapped: context canceled"},
		{name: "details", behavior: "details", code: codes.FailedPrecondition, msg: "with details"},
		{name: "trailers only", behavior: "trailers-only", status: &testpb.EchoStatus{Code: int32(codes.Aborted), Message: "no header"}, code: codes.Aborted, msg: "no header"},
		{name: "header sent before error", behavior: "send-header", status: &testpb.EchoStatus{Code: int32(codes.Aborted), Message: "after header"}, code: codes.Aborted, msg: "after header"},
		{name: "header sent", behavior: "send-header", code: codes.OK},
		{name: "nil response", behavior: "nil-response", code: codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
				ctx := withBehavior(testContext(t), tc.behavior)
				var header, trailer metadata.MD
				resp, err := testpb.NewTestServiceClient(cc).UnaryCall(ctx,
					&testpb.SimpleRequest{ResponseStatus: tc.status},
					grpc.Header(&header), grpc.Trailer(&trailer))
				if tc.code == codes.OK {
					if err != nil {
						t.Fatal(err)
					}
				} else {
					wantStatus(t, err, tc.code, tc.msg)
				}
				if tc.behavior == "details" {
					details := status.Convert(err).Details()
					if len(details) != 1 || string(details[0].(*testpb.Payload).GetBody()) != "detail" {
						t.Errorf("got details %v, want the payload detail", details)
					}
				}
				return resultOf(err, header, trailer, resp.GetPayload().GetBody(), resp.GetUsername())
			})
		})
	}
}

// TestInProcessUnknownMethod checks calls to methods and services that are not
// registered or not implemented.
func TestInProcessUnknownMethod(t *testing.T) {
	verifyNoLeaks(t)
	conns := newTestConns(t, newTestService(), nil, nil)
	for _, tc := range []struct {
		method string
		msg    string
	}{
		{"/grpc.testing.TestService/Nope", "unknown method Nope for service grpc.testing.TestService"},
		{"/nope.Service/Call", "unknown service nope.Service"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []rpcResult {
				ctx := testContext(t)
				var header, trailer metadata.MD
				err := cc.Invoke(ctx, tc.method, &testpb.Empty{}, &testpb.Empty{}, grpc.Header(&header), grpc.Trailer(&trailer))
				wantStatus(t, err, codes.Unimplemented, tc.msg)
				unary := resultOf(err, header, trailer, nil, "")

				stream, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, tc.method)
				if err != nil {
					t.Fatal(err)
				}
				h, err := stream.Header()
				if err != nil {
					t.Fatal(err)
				}
				err = stream.RecvMsg(&testpb.Empty{})
				wantStatus(t, err, codes.Unimplemented, tc.msg)
				return []rpcResult{unary, resultOf(err, h, stream.Trailer(), nil, "")}
			})
		})
	}
	t.Run("unimplemented method", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			var trailer metadata.MD
			_, err := testpb.NewTestServiceClient(cc).UnimplementedCall(testContext(t), &testpb.Empty{}, grpc.Trailer(&trailer))
			wantStatus(t, err, codes.Unimplemented, "method UnimplementedCall not implemented")
			return resultOf(err, nil, trailer, nil, "")
		})
	})
	t.Run("unimplemented service client", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			_, err := testpb.NewUnimplementedServiceClient(cc).UnimplementedCall(testContext(t), &testpb.Empty{})
			wantStatus(t, err, codes.Unimplemented, "unknown service grpc.testing.UnimplementedService")
			return resultOf(err, nil, nil, nil, "")
		})
	})
}

// contextView is what the tests compare of a handler's context.
type contextView struct {
	MD          map[string][]string
	HasOutgoing bool
	CallerValue any
	Method      string
	HasDeadline bool
	SetHeader   codes.Code
	Header      map[string][]string
	DoneAfter   bool
}

// TestInProcessHandlerContext checks what handlers see in their context:
// metadata, peer, method, deadline, and none of the caller's values.
func TestInProcessHandlerContext(t *testing.T) {
	verifyNoLeaks(t)
	svc := newTestService()
	conns := newTestConns(t, svc, nil, nil)
	// callerContext returns a context with a value, a deadline and metadata
	// set in the ways callers set it.
	callerContext := func(t *testing.T) context.Context {
		ctx := context.WithValue(testContext(t), callerKey{}, "caller value")
		ctx = metadata.NewOutgoingContext(ctx, metadata.MD{
			"x-a":     {"1"},
			"x-b-bin": {"\x00\x01"},
			// Reserved keys are not transmitted.
			"grpc-timeout": {"1S"},
			"te":           {"x"},
		})
		return metadata.AppendToOutgoingContext(withBehavior(ctx, "inspect"), "x-a", "2", "X-C", "3")
	}
	// view checks and returns what the handler saw.
	view := func(t *testing.T, cc grpc.ClientConnInterface, header metadata.MD) contextView {
		in := svc.lastInspection()
		if in == nil {
			t.Fatal("handler did not run")
		}
		if !strings.HasPrefix(in.md.Get("user-agent")[0], "grpc-go/") {
			t.Errorf("got user-agent %q, want grpc-go/...", in.md.Get("user-agent"))
		}
		if len(in.md.Get(":authority")) != 1 || in.peerAddr == "" || in.peerLocal == "" {
			t.Errorf("got :authority %q, peer %q, local %q; want them set", in.md.Get(":authority"), in.peerAddr, in.peerLocal)
		}
		if _, ok := cc.(*Conn); ok {
			if got := in.md.Get(":authority"); got[0] != "grpc.testing.TestService" {
				t.Errorf("got :authority %q, want the service name", got)
			}
			if in.peerAddr != "inprocess" || in.peerLocal != "inprocess" || in.peerNetwork != "inprocess" {
				t.Errorf("got peer %q/%q/%q, want inprocess", in.peerNetwork, in.peerAddr, in.peerLocal)
			}
		}
		md := mdOf(in.md)
		// The server-specific values checked above vary; the loopback
		// client also advertises the compressors it knows.
		for _, k := range []string{":authority", "user-agent", "grpc-accept-encoding"} {
			delete(md, k)
		}
		return contextView{
			MD:          md,
			HasOutgoing: in.hasOutgoing,
			CallerValue: in.callerValue,
			Method:      in.method,
			HasDeadline: in.hasDeadline,
			SetHeader:   status.Code(in.setHeaderErr),
			Header:      mdOf(header),
			DoneAfter:   in.ctx.Err() != nil,
		}
	}
	want := map[string][]string{
		"x-a":          {"1", "2"},
		"x-b-bin":      {"\x00\x01"},
		"x-c":          {"3"},
		"x-behavior":   {"inspect"},
		"content-type": {"application/grpc"},
	}

	t.Run("unary", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) contextView {
			var header metadata.MD
			if _, err := testpb.NewTestServiceClient(cc).UnaryCall(callerContext(t), &testpb.SimpleRequest{}, grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			v := view(t, cc, header)
			if !reflect.DeepEqual(v.MD, want) || v.HasOutgoing || v.CallerValue != nil ||
				v.Method != "/grpc.testing.TestService/UnaryCall" || !v.HasDeadline || v.SetHeader != codes.OK || !v.DoneAfter {
				t.Errorf("handler saw %+v", v)
			}
			return v
		})
	})
	t.Run("bidi", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) contextView {
			stream, err := testpb.NewTestServiceClient(cc).FullDuplexCall(callerContext(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != io.EOF {
				t.Fatalf("got %v, want io.EOF", err)
			}
			header, err := stream.Header()
			if err != nil {
				t.Fatal(err)
			}
			v := view(t, cc, header)
			if !reflect.DeepEqual(v.MD, want) || v.HasOutgoing || v.CallerValue != nil ||
				v.Method != "/grpc.testing.TestService/FullDuplexCall" || !v.HasDeadline || !v.DoneAfter {
				t.Errorf("handler saw %+v", v)
			}
			return v
		})
	})
	t.Run("peer call option", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) bool {
			var p peer.Peer
			if _, err := testpb.NewTestServiceClient(cc).EmptyCall(testContext(t), &testpb.Empty{}, grpc.Peer(&p)); err != nil {
				t.Fatal(err)
			}
			return p.Addr != nil && p.Addr.String() != ""
		})
	})
}

// TestInProcessInvalidMetadata checks that metadata grpc-go refuses to send is
// refused.
func TestInProcessInvalidMetadata(t *testing.T) {
	verifyNoLeaks(t)
	conns := newTestConns(t, newTestService(), nil, nil)
	forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []rpcResult {
		ctx := metadata.AppendToOutgoingContext(testContext(t), "x-bad", "new\nline")
		_, err := testpb.NewTestServiceClient(cc).EmptyCall(ctx, &testpb.Empty{})
		wantStatus(t, err, codes.Internal, "")
		unary := resultOf(err, nil, nil, nil, "")
		_, err = testpb.NewTestServiceClient(cc).FullDuplexCall(ctx)
		wantStatus(t, err, codes.Internal, "")
		return []rpcResult{unary, resultOf(err, nil, nil, nil, "")}
	})
}

// checkExpired checks the error of a call whose deadline expired, and returns
// its code. In process, the message is that of context.DeadlineExceeded. Over
// the network, it depends on whether the client's or the server's timer
// expires first.
func checkExpired(t *testing.T, cc grpc.ClientConnInterface, err error) codes.Code {
	t.Helper()
	if _, ok := cc.(*Conn); ok {
		if st := status.Convert(err); st.Code() != codes.DeadlineExceeded || st.Message() != context.DeadlineExceeded.Error() {
			t.Errorf("got status %v %q, want DeadlineExceeded %q", st.Code(), st.Message(), context.DeadlineExceeded.Error())
		}
	}
	if code := status.Code(err); code != codes.DeadlineExceeded {
		t.Errorf("got code %v, want DeadlineExceeded", code)
	}
	return status.Code(err)
}

// checkExpiredHandler checks the error a handler's context reported when
// the caller's deadline expired. In process it is always DeadlineExceeded.
// Over the network, the server's timer (started when the request arrived)
// races with the client's, whose expiry cancels the stream, so the handler
// may see Canceled instead.
func checkExpiredHandler(t *testing.T, cc grpc.ClientConnInterface, err error) {
	t.Helper()
	if _, ok := cc.(*Conn); ok {
		if err != context.DeadlineExceeded {
			t.Errorf("handler saw %v, want %v", err, context.DeadlineExceeded)
		}
	} else if err != context.DeadlineExceeded && err != context.Canceled {
		t.Errorf("handler saw %v, want a context error", err)
	}
}

// TestInProcessDeadline checks calls whose deadline expires, during or before
// the call.
func TestInProcessDeadline(t *testing.T) {
	verifyNoLeaks(t)
	svc := newTestService()
	conns := newTestConns(t, svc, nil, nil)
	t.Run("unary expires", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) codes.Code {
			ctx, cancel := context.WithTimeout(withBehavior(testContext(t), "block"), 20*time.Millisecond)
			defer cancel()
			_, err := testpb.NewTestServiceClient(cc).UnaryCall(ctx, &testpb.SimpleRequest{})
			checkExpiredHandler(t, cc, <-svc.ended)
			<-svc.started
			return checkExpired(t, cc, err)
		})
	})
	t.Run("server stream expires", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) codes.Code {
			ctx, cancel := context.WithTimeout(withBehavior(testContext(t), "block"), 20*time.Millisecond)
			defer cancel()
			stream, err := testpb.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			checkExpiredHandler(t, cc, <-svc.ended)
			<-svc.started
			return checkExpired(t, cc, err)
		})
	})
	for _, tc := range []struct {
		name string
		ctx  func() context.Context
		code codes.Code
	}{
		{"already expired", func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, codes.DeadlineExceeded},
		{"already canceled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, codes.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []rpcResult {
				client := testpb.NewTestServiceClient(cc)
				before := svc.calls.Load()
				_, err := client.UnaryCall(tc.ctx(), &testpb.SimpleRequest{})
				wantStatus(t, err, tc.code, "")
				unary := resultOf(err, nil, nil, nil, "")
				var streamErr error
				if stream, err := client.FullDuplexCall(tc.ctx()); err != nil {
					streamErr = err
				} else {
					_, streamErr = stream.Recv()
				}
				wantStatus(t, streamErr, tc.code, "")
				if n := svc.calls.Load() - before; n != 0 {
					t.Errorf("%d handlers ran, want none", n)
				}
				return []rpcResult{unary, resultOf(streamErr, nil, nil, nil, "")}
			})
		})
	}
}

// TestInProcessCancel checks calls cancelled by the caller while the handler
// runs.
func TestInProcessCancel(t *testing.T) {
	verifyNoLeaks(t)
	svc := newTestService()
	conns := newTestConns(t, svc, nil, nil)
	t.Run("unary", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []rpcResult {
			ctx, cancel := context.WithCancel(withBehavior(testContext(t), "block"))
			defer cancel()
			go func() {
				<-svc.started
				cancel()
			}()
			_, err := testpb.NewTestServiceClient(cc).UnaryCall(ctx, &testpb.SimpleRequest{})
			wantStatus(t, err, codes.Canceled, "context canceled")
			handlerErr := <-svc.ended
			if handlerErr != context.Canceled {
				t.Errorf("handler saw %v, want %v", handlerErr, context.Canceled)
			}
			return []rpcResult{resultOf(err, nil, nil, nil, ""), resultOf(handlerErr, nil, nil, nil, "")}
		})
	})
	t.Run("bidi mid-stream", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []rpcResult {
			ctx, cancel := context.WithCancel(withBehavior(testContext(t), "block-after-first"))
			defer cancel()
			stream, err := testpb.NewTestServiceClient(cc).FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			req := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 3}}}
			if err := stream.Send(req); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			<-svc.started
			cancel()
			_, recvErr := stream.Recv()
			wantStatus(t, recvErr, codes.Canceled, "context canceled")
			handlerErr := <-svc.ended
			if handlerErr != context.Canceled {
				t.Errorf("handler saw %v, want %v", handlerErr, context.Canceled)
			}
			// Like grpc-go, SendMsg reports that the stream ended with
			// io.EOF; RecvMsg keeps returning the status.
			sendErr := stream.Send(req)
			if sendErr != io.EOF {
				t.Errorf("Send after cancel: got %v, want io.EOF", sendErr)
			}
			_, recvErr2 := stream.Recv()
			wantStatus(t, recvErr2, codes.Canceled, "context canceled")
			return []rpcResult{resultOf(recvErr, nil, nil, nil, ""), resultOf(handlerErr, nil, nil, nil, ""), resultOf(recvErr2, nil, stream.Trailer(), nil, "")}
		})
	})
	t.Run("server stream abandoned by canceling", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			ctx, cancel := context.WithCancel(withBehavior(testContext(t), "block"))
			stream, err := testpb.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			<-svc.started
			cancel()
			handlerErr := <-svc.ended
			if _, err := stream.Header(); err != nil {
				t.Errorf("Header: got %v, want nil", err)
			}
			return resultOf(handlerErr, nil, nil, nil, "")
		})
	})
}

// TestInProcessCancelThenCloseSend: a client that cancels and then
// half-closes is gone, not done: its handler's Recv reports Canceled, never
// a clean end of input (io.EOF). Over the network the outcome is a race
// (grpc-go's client sends the cancellation from another goroutine, so a
// CloseSend right after cancel often reaches the server first); in process
// the cancellation always wins. The HTTP gateway relies on it: it
// half-closes a bidi stream whose HTTP body turned out malformed right
// after failing the call.
func TestInProcessCancelThenCloseSend(t *testing.T) {
	verifyNoLeaks(t)
	handlerErr := make(chan error, 1)
	record := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		err := handler(srv, ss)
		handlerErr <- err
		return err
	}
	cc := newTestConns(t, newTestService(), nil, []grpc.StreamServerInterceptor{record})[0]
	if cc.name != "inprocess" {
		t.Fatalf("first test conn is %s, want inprocess", cc.name)
	}
	for range 20 {
		ctx, cancel := context.WithCancel(testContext(t))
		stream, err := testpb.NewTestServiceClient(cc.cc).FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 3}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		_ = stream.CloseSend()
		wantStatus(t, <-handlerErr, codes.Canceled, "context canceled")
	}
}

// streamResult is what a caller observes of a stream.
type streamResult struct {
	Header   map[string][]string
	Messages []string
	End      rpcResult
}

// TestInProcessServerStreaming checks server-streaming calls: messages, header,
// trailer and final status.
func TestInProcessServerStreaming(t *testing.T) {
	verifyNoLeaks(t)
	svc := newTestService()
	conns := newTestConns(t, svc, nil, nil)
	params := []*testpb.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}}
	for _, tc := range []struct {
		name     string
		behavior string
		status   *testpb.EchoStatus
		params   []*testpb.ResponseParameters
	}{
		{name: "ok", params: params},
		{name: "no messages", params: nil},
		{name: "error after messages", params: params, status: &testpb.EchoStatus{Code: int32(codes.DataLoss), Message: "lost"}},
		{name: "trailers only", behavior: "trailers-only", status: &testpb.EchoStatus{Code: int32(codes.DataLoss), Message: "lost"}},
		{name: "header before messages", behavior: "send-header-wait", params: params},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) streamResult {
				proceed := svc.resetProceed()
				var optHeader, optTrailer metadata.MD
				stream, err := testpb.NewTestServiceClient(cc).StreamingOutputCall(withBehavior(testContext(t), tc.behavior),
					&testpb.StreamingOutputCallRequest{ResponseParameters: tc.params, ResponseStatus: tc.status},
					grpc.Header(&optHeader), grpc.Trailer(&optTrailer))
				if err != nil {
					t.Fatal(err)
				}
				// With "send-header-wait", the handler sends nothing more
				// until the header was received.
				header, err := stream.Header()
				if err != nil {
					t.Fatal(err)
				}
				close(proceed)
				var res streamResult
				res.Header = mdOf(header)
				for {
					resp, err := stream.Recv()
					if err != nil {
						res.End = resultOf(err, nil, stream.Trailer(), nil, "")
						if !reflect.DeepEqual(mdOf(optHeader), res.Header) || !reflect.DeepEqual(mdOf(optTrailer), res.End.Trailer) {
							t.Errorf("call options got header %v trailer %v, want %v %v", optHeader, optTrailer, res.Header, res.End.Trailer)
						}
						break
					}
					res.Messages = append(res.Messages, string(resp.GetPayload().GetBody()))
				}
				// The handler reuses one message and overwrites it after
				// each Send.
				want := []string{"a", "bb", "ccc"}[:len(tc.params)]
				if !slices.Equal(res.Messages, want) {
					t.Errorf("got messages %q, want %q", res.Messages, want)
				}
				return res
			})
		})
	}
}

// TestInProcessClientStreaming checks client-streaming calls, including a
// handler that returns while the client is still sending.
func TestInProcessClientStreaming(t *testing.T) {
	verifyNoLeaks(t)
	svc := newTestService()
	conns := newTestConns(t, svc, nil, nil)
	t.Run("ok", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []string {
			svc.mu.Lock()
			svc.inputs = nil
			svc.mu.Unlock()
			stream, err := testpb.NewTestServiceClient(cc).StreamingInputCall(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			// One message, reused: the server must see each value sent.
			req := &testpb.StreamingInputCallRequest{Payload: &testpb.Payload{}}
			for _, body := range []string{"a", "bb", "ccc"} {
				req.Payload.Body = []byte(body)
				if err := stream.Send(req); err != nil {
					t.Fatal(err)
				}
				req.Payload.Body[0] = '!'
			}
			resp, err := stream.CloseAndRecv()
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetAggregatedPayloadSize() != 6 {
				t.Errorf("got size %d, want 6", resp.GetAggregatedPayloadSize())
			}
			if got := mdOf(stream.Trailer()); !reflect.DeepEqual(got, map[string][]string{"x-trailer": {"t"}}) {
				t.Errorf("got trailer %v", got)
			}
			svc.mu.Lock()
			defer svc.mu.Unlock()
			var got []string
			for _, in := range svc.inputs {
				got = append(got, string(in.GetPayload().GetBody()))
			}
			if want := []string{"a", "bb", "ccc"}; !slices.Equal(got, want) {
				t.Errorf("server received %q, want %q", got, want)
			}
			return got
		})
	})
	t.Run("no response", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			stream, err := testpb.NewTestServiceClient(cc).StreamingInputCall(withBehavior(testContext(t), "no-response"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = stream.CloseAndRecv()
			wantStatus(t, err, codes.Internal, "cardinality violation: received no response message from non-server-streaming RPC")
			return resultOf(err, nil, stream.Trailer(), nil, "")
		})
	})
	t.Run("server returns while client sends", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			stream, err := testpb.NewTestServiceClient(cc).StreamingInputCall(withBehavior(testContext(t), "early-error"))
			if err != nil {
				t.Fatal(err)
			}
			req := &testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: []byte("x")}}
			// SendMsg succeeds until the client learns that the server
			// finished, then returns io.EOF; the status comes from RecvMsg.
			for {
				if err := stream.Send(req); err != nil {
					if err != io.EOF {
						t.Fatalf("Send: got %v, want io.EOF", err)
					}
					break
				}
			}
			_, err = stream.CloseAndRecv()
			wantStatus(t, err, codes.Aborted, "early")
			return resultOf(err, nil, stream.Trailer(), nil, "")
		})
	})
}

// TestInProcessBidi checks bidirectional streams, with messages in flight in
// both directions.
func TestInProcessBidi(t *testing.T) {
	verifyNoLeaks(t)
	conns := newTestConns(t, newTestService(), nil, nil)
	one := []*testpb.ResponseParameters{{Size: 2}}
	t.Run("send two before reading", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) streamResult {
			stream, err := testpb.NewTestServiceClient(cc).FullDuplexCall(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			var res streamResult
			for round := 0; round < 3; round++ {
				for i := 0; i < 2; i++ {
					if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: one}); err != nil {
						t.Fatal(err)
					}
				}
				for i := 0; i < 2; i++ {
					resp, err := stream.Recv()
					if err != nil {
						t.Fatal(err)
					}
					res.Messages = append(res.Messages, string(resp.GetPayload().GetBody()))
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			if err != io.EOF {
				t.Fatalf("got %v, want io.EOF", err)
			}
			header, _ := stream.Header()
			res.Header = mdOf(header)
			res.End = resultOf(err, nil, stream.Trailer(), nil, "")
			return res
		})
	})
	t.Run("many messages in flight", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) int {
			stream, err := testpb.NewTestServiceClient(cc).FullDuplexCall(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			const n = 500 // well beyond the buffer
			errc := make(chan error, 1)
			go func() {
				for i := 0; i < n; i++ {
					if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: one}); err != nil {
						errc <- err
						return
					}
				}
				errc <- stream.CloseSend()
			}()
			got := 0
			for {
				if _, err := stream.Recv(); err != nil {
					if err != io.EOF {
						t.Fatal(err)
					}
					break
				}
				got++
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			return got
		})
	})
	t.Run("error mid-stream", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) streamResult {
			stream, err := testpb.NewTestServiceClient(cc).FullDuplexCall(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			var res streamResult
			if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: one}); err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			res.Messages = append(res.Messages, string(resp.GetPayload().GetBody()))
			if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.ResourceExhausted), Message: "full"}}); err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			wantStatus(t, err, codes.ResourceExhausted, "full")
			res.End = resultOf(err, nil, stream.Trailer(), nil, "")
			return res
		})
	})
	t.Run("half duplex", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) int {
			stream, err := testpb.NewTestServiceClient(cc).HalfDuplexCall(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: one}); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				if _, err := stream.Recv(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != 3 {
				t.Errorf("got %d responses, want 3", n)
			}
			return n
		})
	})
}

// TestInProcessStreamMisuse checks the errors of streams used in ways gRPC
// does not allow.
func TestInProcessStreamMisuse(t *testing.T) {
	verifyNoLeaks(t)
	conns := newTestConns(t, newTestService(), nil, nil)
	t.Run("send after close", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			stream, err := testpb.NewTestServiceClient(cc).FullDuplexCall(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatalf("second CloseSend: %v", err)
			}
			err = stream.Send(&testpb.StreamingOutputCallRequest{})
			wantStatus(t, err, codes.Internal, "SendMsg called after CloseSend")
			return resultOf(err, nil, nil, nil, "")
		})
	})
	t.Run("no request for server stream", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			stream, err := cc.NewStream(testContext(t), &testpb.TestService_ServiceDesc.Streams[0], testpb.TestService_StreamingOutputCall_FullMethodName)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			err = stream.RecvMsg(&testpb.StreamingOutputCallResponse{})
			wantStatus(t, err, codes.Internal, "cardinality violation: received no request message from non-client-streaming RPC")
			return resultOf(err, nil, nil, nil, "")
		})
	})
	t.Run("not proto messages", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []rpcResult {
			ctx := testContext(t)
			method := testpb.TestService_EmptyCall_FullMethodName
			argErr := cc.Invoke(ctx, method, "not a message", &testpb.Empty{})
			wantStatus(t, argErr, codes.Internal, "grpc: error while marshaling: proto: failed to marshal, message is string, want proto.Message")
			var reply string
			// The reply is a *string.
			replyErr := cc.Invoke(ctx, method, &testpb.Empty{}, &reply)
			wantStatus(t, replyErr, codes.Internal, "grpc: failed to unmarshal the received message: failed to unmarshal, message is *string, want proto.Message")

			stream, err := testpb.NewTestServiceClient(cc).FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sendErr := stream.SendMsg(42)
			wantStatus(t, sendErr, codes.Internal, "grpc: error while marshaling: proto: failed to marshal, message is int, want proto.Message")
			return []rpcResult{resultOf(argErr, nil, nil, nil, ""), resultOf(replyErr, nil, nil, nil, ""), resultOf(sendErr, nil, nil, nil, "")}
		})
	})
}

// TestInProcessMixedKinds checks a streaming method called as unary and a unary
// method called as a stream, both of which grpc-go supports.
func TestInProcessMixedKinds(t *testing.T) {
	verifyNoLeaks(t)
	conns := newTestConns(t, newTestService(), nil, nil)
	t.Run("invoke streaming method", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			var resp testpb.StreamingOutputCallResponse
			var trailer metadata.MD
			err := cc.Invoke(testContext(t), testpb.TestService_FullDuplexCall_FullMethodName,
				&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 4}}}, &resp, grpc.Trailer(&trailer))
			if err != nil {
				t.Fatal(err)
			}
			return resultOf(err, nil, trailer, resp.GetPayload().GetBody(), "")
		})
	})
	t.Run("stream to unary method", func(t *testing.T) {
		forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) rpcResult {
			ctx := metadata.AppendToOutgoingContext(testContext(t), "x-req", "s")
			stream, err := cc.NewStream(ctx, &grpc.StreamDesc{}, testpb.TestService_UnaryCall_FullMethodName)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.SendMsg(&testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("via stream")}}); err != nil {
				t.Fatal(err)
			}
			var resp testpb.SimpleResponse
			if err := stream.RecvMsg(&resp); err != nil {
				t.Fatal(err)
			}
			if err := stream.RecvMsg(&resp); err != io.EOF {
				t.Fatalf("second RecvMsg: got %v, want io.EOF", err)
			}
			header, _ := stream.Header()
			return resultOf(nil, header, stream.Trailer(), resp.GetPayload().GetBody(), "")
		})
	})
}

// TestInProcessCopySemantics checks that caller and handler never share
// messages in unary calls; the streaming tests check it for streams.
func TestInProcessCopySemantics(t *testing.T) {
	verifyNoLeaks(t)
	svc := newTestService()
	conns := newTestConns(t, svc, nil, nil)
	forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []string {
		req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("request")}}
		resp, err := testpb.NewTestServiceClient(cc).UnaryCall(testContext(t), req)
		if err != nil {
			t.Fatal(err)
		}
		svc.mu.Lock()
		defer svc.mu.Unlock()
		if svc.lastReq == req || svc.lastResp == resp {
			t.Fatal("caller and handler share a message")
		}
		// Each side changes its messages after the call; the other must not
		// see it.
		req.Payload.Body[0] = '!'
		svc.lastResp.Payload.Body[0] = '?'
		got := []string{string(svc.lastReq.GetPayload().GetBody()), string(resp.GetPayload().GetBody())}
		if want := []string{"request", "request"}; !slices.Equal(got, want) {
			t.Errorf("after changes, handler's request and caller's response are %q, want %q", got, want)
		}
		return got
	})
}

// TestInProcessInterceptors checks the order of chained interceptors, what
// they are told, and that they can change the handler's context.
func TestInProcessInterceptors(t *testing.T) {
	verifyNoLeaks(t)
	svc := newTestService()
	var (
		mu     sync.Mutex
		events []string
	)
	record := func(format string, args ...any) {
		mu.Lock()
		events = append(events, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	takeEvents := func() []string {
		mu.Lock()
		defer mu.Unlock()
		e := events
		events = nil
		return e
	}
	unaryInt := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			record("%s %s server=%v", name, info.FullMethod, info.Server == any(svc))
			ctx = context.WithValue(ctx, interceptorKey{}, name)
			resp, err := handler(ctx, req)
			record("%s done", name)
			return resp, err
		}
	}
	streamInt := func(name string) grpc.StreamServerInterceptor {
		return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			record("%s %s client=%v server=%v", name, info.FullMethod, info.IsClientStream, info.IsServerStream)
			err := handler(srv, &valueServerStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), interceptorKey{}, name)})
			record("%s done", name)
			return err
		}
	}
	conns := newTestConns(t, svc,
		[]grpc.UnaryServerInterceptor{unaryInt("u1"), unaryInt("u2"), unaryInt("u3")},
		[]grpc.StreamServerInterceptor{streamInt("s1"), streamInt("s2")})
	forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []string {
		client := testpb.NewTestServiceClient(cc)
		resp, err := client.UnaryCall(withBehavior(testContext(t), "ctx-value"), &testpb.SimpleRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(resp.GetPayload().GetBody()); got != "u3" {
			t.Errorf("handler saw interceptor value %q, want %q", got, "u3")
		}
		stream, err := client.FullDuplexCall(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err != nil {
			t.Fatal(err)
		}
		sresp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(sresp.GetPayload().GetBody()); got != "s2" {
			t.Errorf("handler's stream context has interceptor value %q, want %q", got, "s2")
		}
		stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("got %v, want io.EOF", err)
		}
		got := takeEvents()
		want := []string{
			"u1 /grpc.testing.TestService/UnaryCall server=true",
			"u2 /grpc.testing.TestService/UnaryCall server=true",
			"u3 /grpc.testing.TestService/UnaryCall server=true",
			"u3 done", "u2 done", "u1 done",
			"s1 /grpc.testing.TestService/FullDuplexCall client=true server=true",
			"s2 /grpc.testing.TestService/FullDuplexCall client=true server=true",
			"s2 done", "s1 done",
		}
		if !slices.Equal(got, want) {
			t.Errorf("got events\n%q\nwant\n%q", got, want)
		}
		return got
	})
}

// valueServerStream is a grpc.ServerStream with a different context, as
// interceptors commonly make.
type valueServerStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the replaced context.
func (s *valueServerStream) Context() context.Context { return s.ctx }

// TestInProcessRecovery checks that a recovery interceptor turns panicking
// handlers into codes.Internal, and that the process survives.
func TestInProcessRecovery(t *testing.T) {
	verifyNoLeaks(t)
	recoverUnary := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = status.Errorf(codes.Internal, "panic: %v", r)
			}
		}()
		return handler(ctx, req)
	}
	recoverStream := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = status.Errorf(codes.Internal, "panic: %v", r)
			}
		}()
		return handler(srv, ss)
	}
	conns := newTestConns(t, newTestService(), []grpc.UnaryServerInterceptor{recoverUnary}, []grpc.StreamServerInterceptor{recoverStream})
	forEachConn(t, conns, func(t *testing.T, cc grpc.ClientConnInterface) []rpcResult {
		client := testpb.NewTestServiceClient(cc)
		ctx := withBehavior(testContext(t), "panic")
		_, unaryErr := client.UnaryCall(ctx, &testpb.SimpleRequest{})
		wantStatus(t, unaryErr, codes.Internal, "panic: unary boom")

		stream, err := client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, streamErr := stream.Recv()
		wantStatus(t, streamErr, codes.Internal, "panic: bidi boom")

		if _, err := client.EmptyCall(testContext(t), &testpb.Empty{}); err != nil {
			t.Fatalf("call after panics: %v", err)
		}
		return []rpcResult{resultOf(unaryErr, nil, nil, nil, ""), resultOf(streamErr, nil, stream.Trailer(), nil, "")}
	})
}

// TestInProcessRegistrationPanics checks that invalid registrations panic.
func TestInProcessRegistrationPanics(t *testing.T) {
	for _, tc := range []struct {
		name     string
		services []Service
	}{
		{"duplicate service", []Service{
			{Desc: &testpb.TestService_ServiceDesc, Impl: newTestService()},
			{Desc: &testpb.TestService_ServiceDesc, Impl: newTestService()},
		}},
		{"wrong implementation", []Service{
			{Desc: &testpb.TestService_ServiceDesc, Impl: struct{}{}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			New(tc.services, nil, nil)
		})
	}
}

// benchService is a minimal TestService for benchmarks.
type benchService struct {
	testpb.UnimplementedTestServiceServer
}

// UnaryCall echoes the request's payload.
func (benchService) UnaryCall(_ context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

// StreamingOutputCall sends one response per response parameter.
func (benchService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	resp := &testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{}}
	for _, p := range req.GetResponseParameters() {
		resp.Payload.Body = make([]byte, p.GetSize())
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkUnary measures a small unary call in process and over loopback.
func BenchmarkUnary(b *testing.B) {
	req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("0123456789abcdef")}}
	for _, c := range newTestConns(b, benchService{}, nil, nil) {
		b.Run(c.name, func(b *testing.B) {
			client := testpb.NewTestServiceClient(c.cc)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.UnaryCall(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkServerStream measures a server-streaming call of ten small
// messages in process and over loopback.
func BenchmarkServerStream(b *testing.B) {
	const messages = 10
	req := &testpb.StreamingOutputCallRequest{}
	for range messages {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: 16})
	}
	for _, c := range newTestConns(b, benchService{}, nil, nil) {
		b.Run(c.name, func(b *testing.B) {
			client := testpb.NewTestServiceClient(c.cc)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				stream, err := client.StreamingOutputCall(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					if _, err := stream.Recv(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != messages {
					b.Fatalf("got %d messages, want %d", n, messages)
				}
			}
		})
	}
}

// TestInProcessForGateway checks the gateway's view of a conn: response
// metadata without the content-type, nil when the handler set none, and
// otherwise what the conn gives.
func TestInProcessForGateway(t *testing.T) {
	verifyNoLeaks(t)
	conn := New([]Service{{Desc: &testpb.TestService_ServiceDesc, Impl: newTestService()}}, nil, nil).ForGateway()
	client := testpb.NewTestServiceClient(conn)
	req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello")}}
	for _, tc := range []struct {
		behavior        string
		header, trailer map[string][]string
		code            codes.Code
	}{
		{"", map[string][]string{"x-header": {"h-r1"}}, map[string][]string{"x-trailer": {"t"}}, codes.OK},
		{"trailers-only", nil, map[string][]string{"x-trailer": {"t"}}, codes.OK},
		{"details", map[string][]string{"x-header": {"h-r1"}}, nil, codes.FailedPrecondition},
	} {
		t.Run("behavior="+tc.behavior, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(withBehavior(testContext(t), tc.behavior), "x-req", "r1")
			var header, trailer metadata.MD
			_, err := client.UnaryCall(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
			if got := status.Code(err); got != tc.code {
				t.Fatalf("got %v (%v), want %v", got, err, tc.code)
			}
			if got := mdOf(header); !reflect.DeepEqual(got, tc.header) {
				t.Errorf("got header %v, want %v", got, tc.header)
			}
			if tc.code != codes.OK {
				// The status's details travel in the trailer, as over gRPC.
				if _, ok := trailer[grpcStatusDetailsKey]; !ok || trailer["x-trailer"] == nil {
					t.Errorf("got trailer %v, want x-trailer and %s", trailer, grpcStatusDetailsKey)
				}
				return
			}
			if got := mdOf(trailer); !reflect.DeepEqual(got, tc.trailer) {
				t.Errorf("got trailer %v, want %v", got, tc.trailer)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		header, trailer := metadata.MD{"stale": nil}, metadata.MD{"stale": nil}
		if _, err := client.EmptyCall(testContext(t), &testpb.Empty{}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
			t.Fatal(err)
		}
		if header != nil || trailer != nil {
			t.Errorf("got header %v and trailer %v, want nil maps", header, trailer)
		}
	})
	t.Run("stream", func(t *testing.T) {
		stream, err := client.StreamingOutputCall(testContext(t), &testpb.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("Recv: %v, want EOF", err)
		}
		header, err := stream.Header()
		if want := map[string][]string{"x-header": {"h"}}; err != nil || !reflect.DeepEqual(mdOf(header), want) {
			t.Errorf("Header: %v, %v; want %v without content-type", header, err, want)
		}
	})
}

// TestInProcessForGatewayContext checks that a handler called through the
// gateway's conn sees the context it sees through the conn itself: the
// same incoming metadata (built lazily), peer, method and no caller
// values, in unary and streaming calls.
func TestInProcessForGatewayContext(t *testing.T) {
	verifyNoLeaks(t)
	svc := newTestService()
	conn := New([]Service{{Desc: &testpb.TestService_ServiceDesc, Impl: svc}}, nil, nil)
	type view struct {
		MD                                   map[string][]string
		HasOutgoing                          bool
		CallerValue                          any
		PeerAddr, PeerLocal, PeerNet, Method string
		SetHeaderErr                         error
	}
	see := func(t *testing.T, cc grpc.ClientConnInterface, stream bool) view {
		ctx := context.WithValue(withBehavior(testContext(t), "inspect"), callerKey{}, "caller")
		ctx = metadata.AppendToOutgoingContext(ctx, "x-req", "r1", "grpc-status", "13", "te", "trailers")
		client := testpb.NewTestServiceClient(cc)
		if stream {
			s, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != io.EOF {
				t.Fatalf("Recv: %v, want EOF", err)
			}
		} else if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
		in := svc.lastInspection()
		return view{mdOf(in.md), in.hasOutgoing, in.callerValue, in.peerAddr, in.peerLocal, in.peerNetwork, in.method, in.setHeaderErr}
	}
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			want := see(t, conn, stream)
			if got := see(t, conn.ForGateway(), stream); !reflect.DeepEqual(got, want) {
				t.Errorf("through the gateway's conn the handler saw\n%+v\nthrough the conn\n%+v", got, want)
			}
			if want.MD["x-req"] == nil || want.MD["grpc-status"] != nil || want.MD[":authority"] == nil {
				t.Errorf("metadata %v: want x-req and :authority, without grpc-status", want.MD)
			}
		})
	}
}

// TestLazyIncoming checks that the gateway's handler values build the
// incoming metadata only when a lookup needs it.
func TestLazyIncoming(t *testing.T) {
	conn := New([]Service{{Desc: &testpb.TestService_ServiceDesc, Impl: newTestService()}}, nil, nil).ForGateway()
	m := conn.methods["/grpc.testing.TestService/UnaryCall"]
	caller := metadata.AppendToOutgoingContext(context.Background(), "x-req", "r1")
	var lazy lazyIncoming
	vals, err := conn.handlerValues(caller, m, &lazy)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := peer.FromContext(vals); !ok || p != conn.peer {
		t.Errorf("peer %v, %v; want the conn's", p, ok)
	}
	if lazy.incoming != nil {
		t.Error("looking up the peer built the incoming metadata")
	}
	md, _ := metadata.FromIncomingContext(vals)
	if got := md.Get("x-req"); len(got) != 1 || got[0] != "r1" {
		t.Errorf("incoming x-req %v, want [r1]", got)
	}
	if lazy.incoming == nil {
		t.Error("the incoming metadata was not kept")
	}
}

// TestInProcessClose checks Close: calls made after it fail with
// UNAVAILABLE, on the conn and on its ForGateway copy.
func TestInProcessClose(t *testing.T) {
	conn := New([]Service{{Desc: &testpb.TestService_ServiceDesc, Impl: newTestService()}}, nil, nil)
	gw := conn.ForGateway()
	conn.Close()
	for _, c := range []*Conn{conn, gw} {
		client := testpb.NewTestServiceClient(c)
		if _, err := client.EmptyCall(context.Background(), &testpb.Empty{}); status.Code(err) != codes.Unavailable {
			t.Errorf("unary call after Close: %v, want UNAVAILABLE", err)
		}
		if _, err := client.FullDuplexCall(context.Background()); status.Code(err) != codes.Unavailable {
			t.Errorf("stream after Close: %v, want UNAVAILABLE", err)
		}
	}
}

// TestVia checks that a conn from Via reports its network as the peer of
// its calls, unary and streaming, to handlers and interceptors, and that
// the conn it came from keeps "inprocess".
func TestVia(t *testing.T) {
	svc := newTestService()
	var seen []string
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, _ := peer.FromContext(ctx)
		seen = append(seen, "unary "+p.Addr.Network())
		return handler(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		p, _ := peer.FromContext(ss.Context())
		seen = append(seen, "stream "+p.Addr.Network())
		return handler(srv, ss)
	}
	conn := New([]Service{{Desc: &testpb.TestService_ServiceDesc, Impl: svc}}, []grpc.UnaryServerInterceptor{unary}, []grpc.StreamServerInterceptor{stream})
	for _, cc := range []*Conn{conn.Via("mcp"), conn} {
		client := testpb.NewTestServiceClient(cc)
		ctx := withBehavior(testContext(t), "inspect")
		if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
		if in := svc.lastInspection(); in.peerNetwork != in.peerAddr {
			t.Errorf("handler's peer %q/%q", in.peerNetwork, in.peerAddr)
		}
		s, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("Recv: %v, want EOF", err)
		}
	}
	want := []string{"unary mcp", "stream mcp", "unary inprocess", "stream inprocess"}
	if !slices.Equal(seen, want) {
		t.Errorf("interceptors saw peers %q, want %q", seen, want)
	}
}

// TestDecodeAfterReturn checks the pooled dec functions of unary handlers:
// each call decodes its own request, and a dec kept by a handler past its
// return fails instead of reading another call's request.
func TestDecodeAfterReturn(t *testing.T) {
	var kept []func(any) error
	desc := grpc.ServiceDesc{
		ServiceName: "test.Keep",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Call",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := new(testpb.SimpleRequest)
				if err := dec(in); err != nil {
					return nil, err
				}
				kept = append(kept, dec)
				return &testpb.SimpleResponse{Username: fmt.Sprint(in.GetResponseSize())}, nil
			},
		}},
	}
	conn := New([]Service{{Desc: &desc, Impl: struct{}{}}}, nil, nil)
	for i := int32(1); i <= 3; i++ {
		resp := new(testpb.SimpleResponse)
		if err := conn.Invoke(context.Background(), "/test.Keep/Call", &testpb.SimpleRequest{ResponseSize: i}, resp); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(i); resp.GetUsername() != want {
			t.Errorf("call %d: handler decoded request %s", i, resp.GetUsername())
		}
		for j, dec := range kept {
			if err := dec(new(testpb.SimpleRequest)); status.Code(err) != codes.Internal {
				t.Errorf("after call %d, dec of call %d: %v, want INTERNAL", i, j+1, err)
			}
		}
	}
}
