package gateway

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Message limits. A call that comes in over HTTP obeys the gRPC message
// limits of the process that serves it, both ways, as the same call over
// gRPC does: a request message larger than [Options.MaxRecvMsgBytes] or a
// response message larger than [Options.MaxSendMsgBytes] fails with
// RESOURCE_EXHAUSTED (HTTP 429) and the texts grpc-go gives. Without this,
// an in-process call, which serializes nothing, would answer a message
// over gRPC refuses.

// tooLargeToReceive is grpc-go's error for a request message over limit.
func tooLargeToReceive(size, limit int) error {
	return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", size, limit)
}

// tooLargeToSend is grpc-go's error for a response message over limit.
func tooLargeToSend(size, limit int) error {
	return status.Errorf(codes.ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", size, limit)
}

// checkSize returns err(size, limit) when m's wire size is over limit
// (limit 0: none).
func checkSize(m any, limit int, err func(size, limit int) error) error {
	if limit <= 0 {
		return nil
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return nil
	}
	if n := proto.Size(pm); n > limit {
		return err(n, limit)
	}
	return nil
}

// sizedStream is a stream whose messages are held to the limits. A
// request message over the limit ends the stream, as grpc-go's server
// ends one whose client sent it: the stream is cancelled, and RecvMsg
// reports the limit instead of the cancellation.
type sizedStream struct {
	grpc.ClientStream
	maxRecv, maxSend int
	cancel           context.CancelFunc

	mu  sync.Mutex
	err error // the request message over the limit
}

func (s *sizedStream) SendMsg(m any) error {
	if err := checkSize(m, s.maxRecv, tooLargeToReceive); err != nil {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		s.cancel()
		return err
	}
	return s.ClientStream.SendMsg(m)
}

// Buffered passes on the wrapped stream's Buffered (see
// [bufferedStream]), 0 if it has none.
func (s *sizedStream) Buffered() int {
	if b, ok := s.ClientStream.(bufferedStream); ok {
		return b.Buffered()
	}
	return 0
}

func (s *sizedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	s.mu.Lock()
	over := s.err
	s.mu.Unlock()
	if over != nil && err != nil {
		return over
	}
	if err == nil {
		if err = checkSize(m, s.maxSend, tooLargeToSend); err != nil {
			s.cancel()
		}
	}
	return err
}
