// Command goms is the GoMs set-up of the size comparison (scripts/size.sh):
// the echo service registered with goms.Main and GoMs's defaults, so gRPC
// (health and reflection included) on -grpc-addr and the HTTP gateway
// (with /healthz, /readyz and /metrics) on -http-addr, Prometheus metrics,
// slog logging and recovery on every call, and the configuration code
// goms.Main carries. Tracing (otelgoms, otlp) and etcd discovery are opt-in
// packages this binary does not import.
package main

import (
	"context"

	"github.com/goms-io/goms"
	echov1 "github.com/goms-io/goms/bench/size/gen/goms/echov1"
)

type echo struct {
	echov1.UnimplementedEchoServiceServer
}

func (echo) Echo(_ context.Context, req *echov1.EchoRequest) (*echov1.EchoResponse, error) {
	return &echov1.EchoResponse{Message: req.GetMessage()}, nil
}

func main() {
	goms.Main(func(s *goms.Server) error {
		echov1.RegisterEchoService(s, echo{})
		return nil
	})
}
