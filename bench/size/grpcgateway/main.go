// Command grpcgateway is the raw grpc-go + grpc-gateway set-up of the size
// comparison (scripts/size.sh), what a hand-written server closest to
// GoMs's defaults links: a grpc.Server on -grpc-addr with the echo service,
// the standard health service (the echo service reported SERVING) and
// reflection; a grpc-gateway ServeMux on -http-addr routing the echo
// service's HTTP rule through RegisterEchoServiceHandlerClient and a
// loopback connection to the gRPC server. No metrics, no interceptors, no
// configuration loading; SIGINT or SIGTERM stops both servers gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	echov1 "github.com/goms-io/goms/bench/size/gen/grpc/echov1"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

type echo struct {
	echov1.UnimplementedEchoServiceServer
}

func (echo) Echo(_ context.Context, req *echov1.EchoRequest) (*echov1.EchoResponse, error) {
	return &echov1.EchoResponse{Message: req.GetMessage()}, nil
}

func main() {
	grpcAddr := flag.String("grpc-addr", "127.0.0.1:42001", "gRPC listen address")
	httpAddr := flag.String("http-addr", "127.0.0.1:8080", "HTTP listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	grpcSrv := grpc.NewServer()
	echov1.RegisterEchoServiceServer(grpcSrv, echo{})
	hs := health.NewServer()
	hs.SetServingStatus(echov1.EchoService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(grpcSrv, hs)
	reflection.Register(grpcSrv)
	grpcLis, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		if err := grpcSrv.Serve(grpcLis); err != nil {
			log.Fatal(err)
		}
	}()

	conn, err := grpc.NewClient(grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	mux := runtime.NewServeMux()
	if err := echov1.RegisterEchoServiceHandlerClient(ctx, mux, echov1.NewEchoServiceClient(conn)); err != nil {
		log.Fatal(err)
	}
	httpSrv := &http.Server{Addr: *httpAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := httpSrv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	<-ctx.Done()
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	httpSrv.Shutdown(sctx)
	hs.Shutdown()
	grpcSrv.GracefulStop()
}
