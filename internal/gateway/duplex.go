package gateway

import (
	"context"
	"net/http"
	"time"

	"google.golang.org/grpc"
)

// gatewayConn is the connection the HTTP gateway calls services through.
// It makes two things of a bidirectional stream's request body work as
// they do over gRPC:
//
//   - Full duplex over HTTP/1: net/http reads what is left of an HTTP/1
//     request body, and closes it, before the answer starts, so a client
//     that waits for one answer before it sends its next message would
//     wait forever. The stream's request is made full duplex
//     (http.ResponseController.EnableFullDuplex; HTTP/2 always is).
//   - A malformed message: grpc-gateway reports a body it cannot decode
//     for a unary or client-streaming call, but for a bidirectional
//     stream it only logs it and half-closes the stream, so the handler
//     would take a malformed body for a clean end and the client get 200.
//     The stream ends instead, as when a network client goes away (the
//     handler sees Canceled), and the error handlers answer with the
//     decoding error.
//
// A server stream a client asked for as Server-Sent Events does not wait
// for the service's header metadata (see [sseStream]).
//
// It also caps the deadline of unary calls at maxUnary (see
// [Options.MaxUnaryTimeout]); streams keep theirs. And it holds every
// message to the gRPC message limits, maxRecv for requests and maxSend for
// responses (see msgsize.go).
type gatewayConn struct {
	grpc.ClientConnInterface
	maxUnary         time.Duration
	maxRecv, maxSend int
}

func (c gatewayConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if err := checkSize(args, c.maxRecv, tooLargeToReceive); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && c.maxUnary > 0 && time.Until(d) > c.maxUnary {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.maxUnary)
		defer cancel()
	}
	if err := c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...); err != nil {
		return err
	}
	return checkSize(reply, c.maxSend, tooLargeToSend)
}

func (c gatewayConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := c.newStream(ctx, desc, method, opts...)
	if err == nil && desc.ServerStreams && !desc.ClientStreams {
		// For the stream encoder, which flushes only once no message
		// waits (see [stream.ndjson]).
		if slot, _ := ctx.Value(bodySlotKey{}).(*bodySlot); slot != nil {
			slot.pending, _ = cs.(bufferedStream)
		}
	}
	return cs, err
}

// bufferedStream is a stream that tells how many messages it received
// and RecvMsg has not returned yet: the in-process connection's, and the
// wrappers that pass its Buffered on (the gateway's, the telemetry's).
type bufferedStream interface {
	Buffered() int
}

func (c gatewayConn) newStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	sized := c.maxRecv > 0 || c.maxSend > 0
	if desc.ServerStreams && !desc.ClientStreams && ctx.Value(sseKey{}) != nil {
		if !sized {
			cs, err := c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
			if err != nil {
				return nil, err
			}
			return sseStream{cs}, nil
		}
		ctx, cancel := context.WithCancel(ctx)
		cs, err := c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		return sseStream{&sizedStream{ClientStream: cs, maxRecv: c.maxRecv, maxSend: c.maxSend, cancel: cancel}}, nil
	}
	b := requestBodyOf(ctx)
	duplex := b != nil && desc.ClientStreams && desc.ServerStreams
	if !duplex && !sized {
		return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	}
	if duplex {
		// Fails for HTTP/2, which needs nothing, and for a writer a user's
		// middleware wrapped without Unwrap: then HTTP/1 stays half duplex.
		_ = http.NewResponseController(b.w).EnableFullDuplex()
	}
	// cancel ends the stream early (a failed body, a message over a
	// limit); otherwise the request's end does, as its context's.
	ctx, cancel := context.WithCancel(ctx)
	cs, err := c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	if err != nil {
		cancel()
		return nil, err
	}
	if !duplex { // then sized
		return &sizedStream{ClientStream: cs, maxRecv: c.maxRecv, maxSend: c.maxSend, cancel: cancel}, nil
	}
	if sized {
		cs = &sizedStream{ClientStream: cs, maxRecv: c.maxRecv, maxSend: c.maxSend, cancel: cancel}
	}
	b.endCall = cancel // the request's end cancels ctx too
	return &bodyStream{ClientStream: cs, body: b}, nil
}

// bodyStream is a bidirectional stream fed by a request body. Once the
// body has failed, the stream is cancelled and CloseSend, which
// grpc-gateway calls next, does not half-close it: the half-close could
// reach the handler first (a remote server's is cancelled asynchronously)
// and end it as if the input had ended cleanly.
type bodyStream struct {
	grpc.ClientStream
	body *requestBody
}

func (s *bodyStream) CloseSend() error {
	if s.body.failed.Load() != nil {
		return nil
	}
	return s.ClientStream.CloseSend()
}
