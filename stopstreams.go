package goms

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// ownStreams are the long-lived streams GoMs serves itself: health Watch
// and reflection. They end when a stop begins, so that a client holding
// one open cannot make every graceful stop last its whole grace period.
var ownStreams = map[string]bool{
	healthpb.Health_Watch_FullMethodName:                             true,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// errStopping ends the streams of ownStreams when the server stops.
var errStopping = status.Error(codes.Unavailable, "server is stopping")

// endOnStop is the stream interceptor that ends the streams of ownStreams
// with errStopping once s.stopping is done (Stop has begun); other
// streams pass through. The handler runs in its own goroutine with a
// context cancelled at the stop: reflection's handler waits in Recv,
// which no context ends, and returns once grpc-go has finished the
// stream. A health watcher that last saw SERVING is sent NOT_SERVING
// before its stream ends.
func (s *Server) endOnStop(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !ownStreams[info.FullMethod] {
		return handler(srv, ss)
	}
	if s.stopping.Err() != nil {
		return errStopping
	}
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	w := &stopStream{ServerStream: ss, ctx: ctx}
	done := make(chan error, 1)
	go func() { done <- handler(srv, w) }()
	select {
	case err := <-done:
		return err
	case <-s.stopping.Done():
	}
	cancel()
	if info.FullMethod == healthpb.Health_Watch_FullMethodName {
		<-done // Watch returns once its context is done
		if w.last == healthpb.HealthCheckResponse_SERVING {
			ss.SendMsg(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING})
		}
	}
	return errStopping
}

// stopStream is a stream of ownStreams: its context ends at the stop, and
// it remembers the last health status sent.
type stopStream struct {
	grpc.ServerStream
	ctx  context.Context
	last healthpb.HealthCheckResponse_ServingStatus
}

func (w *stopStream) Context() context.Context { return w.ctx }

func (w *stopStream) SendMsg(m any) error {
	if r, ok := m.(*healthpb.HealthCheckResponse); ok {
		w.last = r.GetStatus()
	}
	return w.ServerStream.SendMsg(m)
}
