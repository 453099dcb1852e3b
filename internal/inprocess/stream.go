package inprocess

import (
	"context"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// stream is the state an in-process stream shares between its client side
// (client) and its server side (server), which runs the handler on its own
// goroutine. Messages travel through buffered channels, deep-copied by the
// sender so the sender may reuse its message as soon as SendMsg returns.
type stream struct {
	// serverTransportStream holds the header and trailer; it is the
	// grpc.ServerTransportStream of the handler's context.
	serverTransportStream

	conn *Conn
	// m is the method, or nil if it is unknown.
	m *registeredMethod
	// desc is the client's description of the stream.
	desc *grpc.StreamDesc
	opts callOptions

	// ctx is the client's context, cancelled when the client side ends.
	ctx    context.Context
	cancel context.CancelFunc
	// unlinkClose stops [Conn.Close] from cancelling ctx, once the
	// handler has returned.
	unlinkClose func() bool

	// incoming holds the handler's values for the gateway's conn.
	incoming lazyIncoming
	// hctx is the handler's context, cancelled when the RPC ends.
	hctx                  context.Context
	cancelHandler         context.CancelFunc
	stopCancelPropagation func() bool

	// requests carries messages from the client to the server; it is closed
	// when the client half-closes the stream.
	requests chan proto.Message
	// responses carries messages from the server to the client.
	responses chan proto.Message
	// finished is closed when the server side ended; status is set before.
	finished chan struct{}
	status   *status.Status

	// sentLast reports whether the client half-closed the stream. It is
	// only used by the goroutine calling SendMsg and CloseSend.
	sentLast bool
	// receivedFirst reports whether the client received a message. It is
	// only used by the goroutine calling the client's RecvMsg.
	receivedFirst bool
	// serverReceivedFirst reports whether the server received a message. It
	// is only used by the goroutine calling the server's RecvMsg.
	serverReceivedFirst bool

	clientMu sync.Mutex
	// clientErr is the error the client side ended with, io.EOF for
	// success, or nil while it has not ended.
	clientErr error
	// clientSawEnd reports whether the client side ended by receiving the
	// server's status, which makes the trailer available.
	clientSawEnd bool

	client clientStream
	server serverStream

	// responseMoves and requestMoves move the messages the client's and
	// the server's RecvMsg take into their callers' (see [moveMemo]).
	responseMoves, requestMoves moveMemo
}

// serve runs the handler and ends the RPC with its result.
func (s *stream) serve() {
	err := s.runHandler()
	// Unlink from the client's context first: ending the RPC cancels the
	// handler's context anyway, and the client's context is cancelled once
	// the client sees the end.
	if s.stopCancelPropagation != nil {
		s.stopCancelPropagation()
	}
	s.unlinkClose()
	s.end(err)
}

// runHandler runs the handler of s.m through the interceptors. A unary method
// runs as grpc-go's server runs it on a stream: through the unary
// interceptors, reading the request with RecvMsg and sending the response
// with SendMsg.
func (s *stream) runHandler() error {
	m := s.m
	if m.unary != nil {
		reply, err := m.unary(m.impl, s.hctx, s.server.RecvMsg, s.conn.unaryInt)
		if err != nil {
			return err
		}
		return s.server.SendMsg(reply)
	}
	if s.conn.streamInt == nil {
		return m.desc.Handler(m.impl, &s.server)
	}
	info := &grpc.StreamServerInfo{
		FullMethod:     s.method,
		IsClientStream: m.desc.ClientStreams,
		IsServerStream: m.desc.ServerStreams,
	}
	return s.conn.streamInt(m.impl, &s.server, info, m.desc.Handler)
}

// end ends the server side of the RPC with the status of err, normalised as
// grpc-go's server does, and cancels the handler's context. Only the first
// call has an effect: like grpc-go's server, a failure of the server's
// SendMsg or RecvMsg ends the RPC at once, and what the handler returns then
// no longer matters.
func (s *stream) end(err error) {
	st := handlerStatus(err)
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.endLocked()
	s.status = st
	s.mu.Unlock()
	// As in grpc-go, the handler's context is done before the client can
	// see the end of the RPC.
	if s.cancelHandler != nil {
		s.cancelHandler()
	}
	close(s.finished)
}

// endClient ends the client side of the stream with err, unless it ended
// already, and returns the error it ended with. sawEnd reports whether err
// comes from the server's status. Ending the client side sets the header,
// trailer and peer call options and cancels the client's context, which
// cancels the handler's context if the handler has not returned.
func (s *stream) endClient(err error, sawEnd bool) error {
	s.clientMu.Lock()
	if s.clientErr != nil {
		err = s.clientErr
		s.clientMu.Unlock()
		return err
	}
	s.clientErr = err
	s.clientSawEnd = sawEnd
	s.clientMu.Unlock()

	if h := s.opts.header; h != nil {
		*h = nil
		select {
		case <-s.headerSentCh:
			*h = s.responseHeader()
		default:
		}
	}
	if t := s.opts.trailer; t != nil {
		*t = nil
		if sawEnd {
			*t = s.responseTrailer(s.status)
		}
	}
	s.opts.setPeer(s.conn.peer)
	s.cancel()
	return err
}

// clientEnded returns the error the client side ended with, or nil.
func (s *stream) clientEnded() error {
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	return s.clientErr
}

// nextResponse returns the next message sent by the server. Once the server
// side ended and its messages were all received, it returns io.EOF or the
// status error, with sawEnd true; if the client's context is done first, it
// returns the context's status error.
func (s *stream) nextResponse() (msg proto.Message, sawEnd bool, err error) {
	if err := s.ctx.Err(); err != nil {
		return nil, false, status.FromContextError(err).Err()
	}
	// A message waiting: taken without the select below, which locks
	// every channel it waits on (the common case of a server stream,
	// whose handler runs ahead by up to streamBuffer messages).
	select {
	case msg := <-s.responses:
		return msg, false, nil
	default:
	}
	select {
	case msg := <-s.responses:
		return msg, false, nil
	case <-s.finished:
		// Messages sent before the server side ended come first.
		select {
		case msg := <-s.responses:
			return msg, false, nil
		default:
		}
		if s.status.Code() != codes.OK {
			return nil, true, s.status.Err()
		}
		if !s.desc.ServerStreams && !s.receivedFirst {
			return nil, true, errNoResponse
		}
		return nil, true, io.EOF
	case <-s.ctx.Done():
		return nil, false, status.FromContextError(s.ctx.Err()).Err()
	}
}

// nextRequest returns the next message sent by the client, io.EOF once the
// client half-closed the stream and all its messages were received, or the
// status error of the handler's context once it is done.
func (s *stream) nextRequest() (proto.Message, error) {
	if err := s.hctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	// A message waiting (or the half-close): taken without the select
	// below, which locks both channels.
	select {
	case msg, ok := <-s.requests:
		return s.request(msg, ok)
	default:
	}
	select {
	case msg, ok := <-s.requests:
		return s.request(msg, ok)
	case <-s.hctx.Done():
		return nil, status.FromContextError(s.hctx.Err()).Err()
	}
}

// request returns what nextRequest received from s.requests: msg, or
// (ok false: the channel is closed) the end of the client's messages.
func (s *stream) request(msg proto.Message, ok bool) (proto.Message, error) {
	if !ok {
		// A client that half-closed after its context ended is gone,
		// not done. The handler's context follows the client's
		// asynchronously, so check the client's: over the network the
		// outcome is a race, here the cancellation always wins.
		if err := s.ctx.Err(); err != nil {
			return nil, status.FromContextError(err).Err()
		}
		return nil, io.EOF
	}
	return msg, nil
}

// clientStream is the client side of an in-process stream. It implements
// grpc.ClientStream with the semantics of grpc-go's.
type clientStream struct {
	s *stream
}

// Header returns the header the server sent. It blocks until the header is
// sent, which happens when the handler calls SendHeader, sends its first
// message, or returns. It returns nil if the response is trailers-only or the
// stream ended before a header was received; like grpc-go, it never returns
// an error, which the caller gets from RecvMsg.
func (cs *clientStream) Header() (metadata.MD, error) {
	s := cs.s
	select {
	case <-s.headerSentCh:
	case <-s.ctx.Done():
		select {
		case <-s.headerSentCh:
		default:
			return nil, nil
		}
	}
	return s.responseHeader(), nil
}

// Trailer returns the trailer the server sent. It is only valid once RecvMsg
// returned a non-nil error; before, or if the stream ended on the client's
// side (for example because its context was cancelled), it returns nil.
func (cs *clientStream) Trailer() metadata.MD {
	s := cs.s
	s.clientMu.Lock()
	sawEnd := s.clientSawEnd
	s.clientMu.Unlock()
	if !sawEnd {
		return nil
	}
	return s.responseTrailer(s.status)
}

// Buffered returns how many messages the server sent that RecvMsg has not
// returned yet: a caller that writes each message on (the HTTP gateway)
// can leave its flush to the last of them.
func (cs *clientStream) Buffered() int {
	return len(cs.s.responses)
}

// CloseSend half-closes the stream: once the server received the messages
// sent before, its RecvMsg returns io.EOF. It always returns nil.
func (cs *clientStream) CloseSend() error {
	s := cs.s
	if !s.sentLast {
		s.sentLast = true
		close(s.requests)
	}
	return nil
}

// Context returns the stream's context, which is done when the stream ends
// on the client's side.
func (cs *clientStream) Context() context.Context {
	return cs.s.ctx
}

// SendMsg sends a deep copy of m to the server; m may be reused as soon as
// SendMsg returns. Like grpc-go, SendMsg returns io.EOF if the stream ended,
// including when the server finished or the context is done, and the status
// is then returned by RecvMsg. For RPCs whose client does not stream, SendMsg
// half-closes the stream after sending and returns nil instead of io.EOF.
func (cs *clientStream) SendMsg(m any) error {
	s := cs.s
	if s.sentLast {
		err := status.Error(codes.Internal, "SendMsg called after CloseSend")
		s.endClient(err, false)
		return err
	}
	if !s.desc.ClientStreams {
		s.sentLast = true
		defer close(s.requests)
	}
	src, ok := protoMessageOf(m)
	if !ok {
		err := marshalError(m)
		s.endClient(err, false)
		return err
	}
	err := s.sendRequest(proto.Clone(src))
	if err == io.EOF && !s.desc.ClientStreams {
		return nil
	}
	return err
}

// sendRequest queues msg for the server, or returns io.EOF if the stream
// ended, on either side, before it could be queued.
func (s *stream) sendRequest(msg proto.Message) error {
	if s.ctx.Err() != nil {
		return io.EOF
	}
	select {
	case <-s.finished:
		return io.EOF
	default:
	}
	// Room in the buffer: queued without the select below, which locks
	// every channel it waits on.
	select {
	case s.requests <- msg:
		return nil
	default:
	}
	select {
	case s.requests <- msg:
		return nil
	case <-s.finished:
		return io.EOF
	case <-s.ctx.Done():
		return io.EOF
	}
}

// RecvMsg receives the next message from the server into m, which is reset
// first. It returns io.EOF when the handler returned successfully after its
// last message, and the status error if it failed or the context is done.
// For RPCs whose server does not stream, RecvMsg waits, after the response,
// for the RPC to end and returns its status, as grpc-go does.
func (cs *clientStream) RecvMsg(m any) error {
	s := cs.s
	if err := s.clientEnded(); err != nil {
		return err
	}
	dst, ok := protoMessageOf(m)
	if !ok {
		return s.endClient(unmarshalError(m), false)
	}
	msg, sawEnd, err := s.nextResponse()
	if err != nil {
		return s.endClient(err, sawEnd)
	}
	if err := s.responseMoves.move(dst, msg); err != nil {
		return s.endClient(err, false)
	}
	s.receivedFirst = true
	if s.desc.ServerStreams {
		return nil
	}
	_, sawEnd, err = s.nextResponse()
	switch {
	case err == io.EOF:
		s.endClient(io.EOF, true)
		return nil
	case err == nil:
		err = status.Error(codes.Internal, "cardinality violation: expected <EOF> for non server-streaming RPCs, but received another message")
	}
	return s.endClient(err, sawEnd)
}

// serverStream is the server side of an in-process stream. It implements
// grpc.ServerStream with the semantics of grpc-go's.
type serverStream struct {
	s *stream
}

// Context returns the handler's context.
func (ss *serverStream) Context() context.Context {
	return ss.s.hctx
}

// SetHeader merges md into the header. It fails once the header was sent.
func (ss *serverStream) SetHeader(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	if err := validateMetadataMap(md); err != nil {
		return err
	}
	return ss.s.SetHeader(md)
}

// SendHeader merges md into the header and sends it. It may be called at most
// once, and not after the header was sent otherwise.
func (ss *serverStream) SendHeader(md metadata.MD) error {
	if err := validateMetadataMap(md); err != nil {
		return err
	}
	return ss.s.SendHeader(md)
}

// SetTrailer merges md into the trailer sent with the status. It has no
// effect once the RPC ended.
func (ss *serverStream) SetTrailer(md metadata.MD) {
	if md.Len() == 0 {
		return
	}
	ss.s.SetTrailer(md)
}

// SendMsg sends a deep copy of m to the client; m may be reused as soon as
// SendMsg returns. The first message sends the header. SendMsg fails with the
// context's status once the RPC ended, and a message that is not a protobuf
// message ends the RPC with codes.Internal.
func (ss *serverStream) SendMsg(m any) error {
	s := ss.s
	src, ok := protoMessageOf(m)
	if !ok {
		err := marshalError(m)
		s.end(err)
		return err
	}
	msg := proto.Clone(src)
	if err := s.sendHeaderForMessage(); err != nil {
		return err
	}
	// Room in the buffer and the RPC not ended: queued without the
	// select below, which locks both channels.
	if s.hctx.Err() == nil {
		select {
		case s.responses <- msg:
			return nil
		default:
		}
	}
	select {
	case s.responses <- msg:
		return nil
	case <-s.hctx.Done():
		return status.FromContextError(s.hctx.Err()).Err()
	}
}

// RecvMsg receives the next message from the client into m, which is reset
// first. It returns io.EOF once the client half-closed the stream and all its
// messages were received. For RPCs whose client does not stream, it checks,
// as grpc-go does, that exactly one message is sent. An error other than
// io.EOF ends the RPC with that status.
func (ss *serverStream) RecvMsg(m any) error {
	s := ss.s
	dst, ok := protoMessageOf(m)
	if !ok {
		err := unmarshalError(m)
		s.end(err)
		return err
	}
	msg, err := s.nextRequest()
	if err == io.EOF && !s.m.desc.ClientStreams && !s.serverReceivedFirst {
		err = status.Error(codes.Internal, "cardinality violation: received no request message from non-client-streaming RPC")
	}
	if err != nil {
		if err != io.EOF {
			s.end(err)
		}
		return err
	}
	if err := s.requestMoves.move(dst, msg); err != nil {
		s.end(err)
		return err
	}
	s.serverReceivedFirst = true
	if s.m.desc.ClientStreams {
		return nil
	}
	if _, err := s.nextRequest(); err != io.EOF {
		if err == nil {
			err = status.Error(codes.Internal, "cardinality violation: received multiple request messages for non-client-streaming RPC")
		}
		s.end(err)
		return err
	}
	return nil
}
