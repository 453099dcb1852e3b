package setup

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"github.com/goms-io/goms/bench/internal/gen/fixtures/echo/echoconnect"
	"github.com/goms-io/goms/internal/fixtures/echo"
)

// ConnectEchoService is EchoService for connect-go: the same answers, with
// connect-go's handler signatures.
type ConnectEchoService struct {
	echoconnect.UnimplementedEchoServiceHandler
}

// Echo returns the request's message.
func (ConnectEchoService) Echo(_ context.Context, req *connect.Request[echo.EchoRequest]) (*connect.Response[echo.EchoResponse], error) {
	return connect.NewResponse(&echo.EchoResponse{Message: req.Msg.GetMessage()}), nil
}

// EchoBody returns the request's message.
func (ConnectEchoService) EchoBody(_ context.Context, req *connect.Request[echo.EchoRequest]) (*connect.Response[echo.EchoResponse], error) {
	return connect.NewResponse(&echo.EchoResponse{Message: req.Msg.GetMessage()}), nil
}

// Expand sends one response per space-separated word of the message.
func (ConnectEchoService) Expand(_ context.Context, req *connect.Request[echo.EchoRequest], stream *connect.ServerStream[echo.EchoResponse]) error {
	for word := range strings.FieldsSeq(req.Msg.GetMessage()) {
		if err := stream.Send(&echo.EchoResponse{Message: word}); err != nil {
			return err
		}
	}
	return nil
}

// connectHandler returns the echo service as a connect-go handler with
// connect-go's defaults and no interceptors: it serves the Connect, gRPC
// and gRPC-Web protocols, with the proto and JSON codecs. The one
// change is compression, off: by default connect-go gzips every reply,
// however small, to a client that accepts gzip, and a grpc-go client
// accepts it as soon as its program links grpc's gzip codec (ghz, which
// make load drives, does); the other set-ups never compress a reply they
// were not asked to. With it off, every set-up does the same work.
func connectHandler() (string, http.Handler) {
	return echoconnect.NewEchoServiceHandler(ConnectEchoService{},
		connect.WithCompression("gzip", nil, nil))
}

// startConnect serves the echo service with connect-go: its handler on a
// net/http server that speaks HTTP/1.1 and HTTP/2 without TLS (h2c), on
// both addrs.GRPC and addrs.HTTP.
func (s *Server) startConnect(addrs Addrs) error {
	path, h := connectHandler()
	mux := http.NewServeMux()
	mux.Handle(path, h)
	var err error
	s.GRPCAddr, s.HTTPAddr, err = s.startH2C(addrs, mux)
	return err
}

// startVanguard serves the echo service with vanguard: its transcoder,
// with vanguard's defaults, in front of the connect-go handler of
// startConnect. REST requests (the google.api.http routes of the proto)
// are transcoded to a protocol the connect-go handler speaks; Connect,
// gRPC and gRPC-Web requests pass through. It listens like startConnect.
func (s *Server) startVanguard(addrs Addrs) error {
	transcoder, err := vanguard.NewTranscoder([]*vanguard.Service{vanguard.NewService(connectHandler())})
	if err != nil {
		return err
	}
	s.GRPCAddr, s.HTTPAddr, err = s.startH2C(addrs, transcoder)
	return err
}

// startH2C serves h on addrs.GRPC and addrs.HTTP with one net/http server
// with the settings of startHTTP, speaking HTTP/1.1 and HTTP/2 without
// TLS, and returns the addresses it listens on.
func (s *Server) startH2C(addrs Addrs, h http.Handler) (grpcAddr, httpAddr string, err error) {
	glis, err := net.Listen("tcp", addrs.GRPC)
	if err != nil {
		return "", "", err
	}
	hlis, err := net.Listen("tcp", addrs.HTTP)
	if err != nil {
		glis.Close()
		return "", "", err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, Protocols: &protocols}
	go srv.Serve(glis)
	go srv.Serve(hlis)
	s.stops = append(s.stops, srv.Close)
	return glis.Addr().String(), hlis.Addr().String(), nil
}
