// Command connect is the connect-go + vanguard set-up of the size
// comparison (scripts/size.sh): the echo service as a connect-go handler
// (protoc-gen-connect-go), wrapped by a vanguard Transcoder that also
// serves it as REST from the same google.api.http rule, plus the gRPC
// health (connectrpc.com/grpchealth, the echo service reported SERVING)
// and reflection (connectrpc.com/grpcreflect, v1 and v1alpha) services.
// One listener, -addr: gRPC (h2c), gRPC-Web, Connect and HTTP/JSON. No
// metrics, no interceptors, no configuration loading; SIGINT or SIGTERM
// stops it gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/vanguard"
	echov1 "github.com/goms-io/goms/bench/size/gen/connect/echov1"
	"github.com/goms-io/goms/bench/size/gen/connect/echov1/echov1connect"
)

type echo struct {
	echov1connect.UnimplementedEchoServiceHandler
}

func (echo) Echo(_ context.Context, req *connect.Request[echov1.EchoRequest]) (*connect.Response[echov1.EchoResponse], error) {
	return connect.NewResponse(&echov1.EchoResponse{Message: req.Msg.GetMessage()}), nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address: gRPC (h2c), gRPC-Web, Connect and HTTP/JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Health and reflection go to a plain mux: vanguard transcodes only
	// the services it is given.
	mux := http.NewServeMux()
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(echov1connect.EchoServiceName)))
	reflector := grpcreflect.NewStaticReflector(echov1connect.EchoServiceName, grpchealth.HealthV1ServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	transcoder, err := vanguard.NewTranscoder(
		[]*vanguard.Service{vanguard.NewService(echov1connect.NewEchoServiceHandler(echo{}))},
		vanguard.WithUnknownHandler(mux),
	)
	if err != nil {
		log.Fatal(err)
	}

	srv := &http.Server{Addr: *addr, Handler: transcoder, ReadHeaderTimeout: 10 * time.Second, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true) // gRPC without TLS
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	<-ctx.Done()
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
}
