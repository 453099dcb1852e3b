// Package echotest implements the echo test service (testdata/echo) for
// the tests of several packages. Only tests import it, and only external
// test packages (runtime_test, not runtime's own tests): it imports
// testdata/echo, which imports runtime. Helpers that do not need the echo
// service belong in package testutil, which runtime's own tests import.
package echotest

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goms-io/goms/testdata/echo"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Server implements the echo test service. Echo and EchoBody answer with
// the request's message, Expand with one response per word of it, Collect
// with the messages it receives joined by spaces, and Chat with "re: "
// and each message. Some messages ask for more:
//
//   - "panic" panics with "echo asked to panic";
//   - "header" sends the response header x-served-by: echo;
//   - "details" fails with FailedPrecondition "stock too low" and an
//     ErrorInfo detail (reason STOCK_LOW, domain shop.example, metadata
//     sku=tea);
//   - an Echo message starting with "fwd" goes to Next, when it is set.
//
// DelayMs delays each answer (each word of Expand); when the call ends
// first, the handler returns the status of its context's error
// (DeadlineExceeded or Canceled) and counts it in Cancelled.
//
// The zero value is ready to use; a Server must not be copied.
type Server struct {
	echo.UnimplementedEchoServiceServer

	// Next, when set, receives the Echo calls whose message starts with
	// "fwd".
	Next echo.EchoServiceClient
	// Entered, when set, receives the message of each answer as its
	// handler starts, unless the channel is full.
	Entered chan string
	// MaxDelay, when positive, caps DelayMs.
	MaxDelay time.Duration
	// Cancelled counts the answers whose call ended during their delay.
	Cancelled atomic.Int64

	mu       sync.Mutex
	calls    int    // answers begun by calls with a peer
	lastPeer string // network of the last one's peer address
}

// answer is the answer to req, for Echo, EchoBody and each word of Expand.
func (s *Server) answer(ctx context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	if p, ok := peer.FromContext(ctx); ok {
		s.mu.Lock()
		s.calls++
		s.lastPeer = p.Addr.Network()
		s.mu.Unlock()
	}
	if s.Entered != nil {
		select {
		case s.Entered <- req.GetMessage():
		default:
		}
	}
	switch req.GetMessage() {
	case "panic":
		panic("echo asked to panic")
	case "header":
		if err := grpc.SetHeader(ctx, metadata.Pairs("x-served-by", "echo")); err != nil {
			return nil, err
		}
	case "details":
		st, _ := status.New(codes.FailedPrecondition, "stock too low").WithDetails(
			&errdetails.ErrorInfo{Reason: "STOCK_LOW", Domain: "shop.example", Metadata: map[string]string{"sku": "tea"}})
		return nil, st.Err()
	}
	if d := time.Duration(req.GetDelayMs()) * time.Millisecond; d > 0 {
		if s.MaxDelay > 0 {
			d = min(d, s.MaxDelay)
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			s.Cancelled.Add(1)
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return &echo.EchoResponse{Message: req.GetMessage()}, nil
}

// Calls returns how many answers calls with a peer have asked for: one
// per Echo or EchoBody call, one per word of Expand (Echo calls passed on
// to Next do not count).
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// LastPeer returns the network of the last caller's peer address ("tcp",
// or "inprocess" for a call that did not cross the network), or "" before
// any call.
func (s *Server) LastPeer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPeer
}

// Echo answers with the request's message, or passes the call on to Next
// (see [Server]).
func (s *Server) Echo(ctx context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	if s.Next != nil && strings.HasPrefix(req.GetMessage(), "fwd") {
		return s.Next.Echo(ctx, req)
	}
	return s.answer(ctx, req)
}

// EchoBody answers with the request's message.
func (s *Server) EchoBody(ctx context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	return s.answer(ctx, req)
}

// Expand answers each word of the request's message in turn, each with the
// request's DelayMs.
func (s *Server) Expand(req *echo.EchoRequest, stream grpc.ServerStreamingServer[echo.EchoResponse]) error {
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

// Collect answers with the messages it receives joined by spaces.
func (s *Server) Collect(stream grpc.ClientStreamingServer[echo.EchoRequest, echo.EchoResponse]) error {
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

// Chat answers each message it receives with "re: " and the message.
func (s *Server) Chat(stream grpc.BidiStreamingServer[echo.EchoRequest, echo.EchoResponse]) error {
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
