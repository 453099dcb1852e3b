package testutil

import (
	"context"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// OwnStreams are the long streams a GoMs server serves itself, opened by
// [OpenOwnStreams].
type OwnStreams struct {
	Watch      healthpb.Health_WatchClient
	Reflection reflectionpb.ServerReflection_ServerReflectionInfoClient
}

// OpenOwnStreams opens on conn a health Watch of service ("" for the
// server), answered SERVING, and a reflection stream, answered once. The
// test fails if either does not open.
func OpenOwnStreams(ctx context.Context, t testing.TB, conn grpc.ClientConnInterface, service string) OwnStreams {
	t.Helper()
	watch, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch answer: %v %v, want SERVING", r, err)
	}
	refl, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := refl.Recv(); err != nil {
		t.Fatalf("reflection: %v", err)
	}
	return OwnStreams{Watch: watch, Reflection: refl}
}

// CheckEndedOnStop fails t unless the Watch sees NOT_SERVING, then ends
// with UNAVAILABLE, and the reflection stream ends with UNAVAILABLE: what
// a graceful stop does to them.
func (s OwnStreams) CheckEndedOnStop(t testing.TB) {
	t.Helper()
	var last healthpb.HealthCheckResponse_ServingStatus
	for {
		r, err := s.Watch.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable || last != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Errorf("Watch ended with %v after %v, want Unavailable after NOT_SERVING", err, last)
			}
			break
		}
		last = r.GetStatus()
	}
	if _, err := s.Reflection.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("reflection stream ended with %v, want Unavailable", err)
	}
}

// WriteHeaderBlock opens HTTP/2 stream id with the header block, in one
// HEADERS frame and as many CONTINUATION frames as the default frame size
// (16 KiB) needs. endStream ends the request there.
func WriteHeaderBlock(fr *http2.Framer, id uint32, block []byte, endStream bool) error {
	const chunk = 16 << 10 // the default SETTINGS_MAX_FRAME_SIZE
	first := block[:min(chunk, len(block))]
	rest := block[len(first):]
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first,
		EndStream: endStream, EndHeaders: len(rest) == 0}); err != nil {
		return err
	}
	for len(rest) > 0 {
		n := min(chunk, len(rest))
		if err := fr.WriteContinuation(id, n == len(rest), rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}
