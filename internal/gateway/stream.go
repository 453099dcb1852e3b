package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The edge's stream encoder writes the responses of server-streaming (and
// bidi) routes in place of grpc-gateway's runtime.ForwardResponseStream,
// which costs most of a stream's CPU: it wraps each message in a map
// {"result": msg} and encodes that through encoding/json, which calls
// protojson and then re-scans its output. [ForwardStream] appends each
// message's JSON to one buffer the stream reuses ([appendMessageJSON]:
// protojson's output without its allocations, for plain messages), and
// writes it in one Write and one Flush.
//
// Two wire formats, chosen by the request's Accept header:
//
//   - Newline-delimited JSON (the default), as grpc-gateway writes it: a
//     {"result": msg} line per message; an error ends the stream with the
//     flat google.rpc.Status line of the error contract, and before the
//     first message it also sets the HTTP status of its code.
//   - Server-Sent Events (Accept: text/event-stream, as a browser's
//     EventSource sends): a 200 with Content-Type text/event-stream at
//     once, then per message an event "id: <n>" with "data: <JSON of the
//     message>" on one line, n counting the messages 1, 2, … or, when the
//     request resumes a stream with a numeric Last-Event-ID k, k+1, k+2,
//     … (a service that honours last-event-id sends what follows the
//     k-th message, so that ids stay positions); ": keep-alive"
//     comments every [Options.SSEKeepAlive] the stream is quiet; an error
//     ends the stream with "event: error" whose data is the
//     google.rpc.Status JSON of the error contract. A client resuming the
//     stream sends Last-Event-ID, which the handler gets as the metadata
//     key last-event-id (see [incomingHeader]).
//
// Only GoMs's own mux uses the encoder (see [ForwardStream]); the mux's
// ForwardResponseRewriter, and a stream error handler or outgoing header
// matcher given in [Options.MuxOptions], are grpc-gateway's private
// fields and do not apply to streams: the edge's own do.

// streamEncoder is what the edge's streams share: set on the edge's
// marshaler, so that [ForwardStream] finds it from the marshaler a
// request's route hands it.
type streamEncoder struct {
	log       *slog.Logger
	keepAlive time.Duration
}

// lastEventIDKey is the metadata key a request's Last-Event-ID header
// reaches the service under.
const lastEventIDKey = "last-event-id"

// incomingHeader passes grpc-gateway's default incoming headers on as
// metadata, and Last-Event-ID, which a browser's EventSource sends when it
// reconnects, as last-event-id, so that a server stream can resume after
// the last event the client received.
func incomingHeader(key string) (string, bool) {
	if strings.EqualFold(key, "Last-Event-Id") {
		return lastEventIDKey, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// ForwardStream writes the messages recv returns as the HTTP response of a
// server stream, as NDJSON or as Server-Sent Events (see the package's
// stream encoder). It has the signature of runtime.ForwardResponseStream,
// which code generated for GoMs replaces with it; on a mux that is not
// the edge's (its marshaler is not the edge's), it is
// runtime.ForwardResponseStream.
func ForwardStream(ctx context.Context, mux *runtime.ServeMux, marshaler runtime.Marshaler, w http.ResponseWriter, req *http.Request, recv func() (proto.Message, error), opts ...func(context.Context, http.ResponseWriter, proto.Message) error) {
	m, ok := marshaler.(gatewayMarshaler)
	md, mdOK := runtime.ServerMetadataFromContext(ctx)
	if !ok || m.stream == nil || !mdOK {
		runtime.ForwardResponseStream(ctx, mux, marshaler, w, req, recv, opts...)
		return
	}
	for k, vs := range md.HeaderMD {
		if h, ok := outgoingHeader(k); ok {
			for _, v := range vs {
				w.Header().Add(h, v)
			}
		}
	}
	s := stream{
		ctx: ctx, m: m, w: w, flush: flusher(w),
		opts: opts, buf: make([]byte, 0, 512),
	}
	if ws := wsWriterOf(w); ws != nil {
		if err := s.options(nil); err != nil {
			runtime.HTTPError(ctx, mux, marshaler, w, req, err)
			return
		}
		s.websocket(ws, recv)
		return
	}
	if wantsSSE(req) {
		s.lastEventID = req.Header.Get("Last-Event-ID")
		s.sse(recv)
		return
	}
	w.Header().Set("Transfer-Encoding", "chunked")
	if err := s.options(nil); err != nil {
		runtime.HTTPError(ctx, mux, marshaler, w, req, err)
		return
	}
	s.ndjson(recv)
}

// sseKey marks the context of a request that accepts text/event-stream
// (see [guard]).
type sseKey struct{}

// sseStream is a server stream a client asked for as Server-Sent Events.
// Its Header does not wait for the service's header metadata:
// grpc-gateway's generated code calls it before it hands the stream to
// [ForwardStream], and a service sends its header with its first message
// (unless it calls grpc.SendHeader), so the SSE response, its keep-alives
// included, could not start before the first message. The response
// therefore carries none of the service's header metadata (which an
// EventSource cannot read anyway); everything else is the stream's.
type sseStream struct {
	grpc.ClientStream
}

// Header returns no metadata, at once.
func (sseStream) Header() (metadata.MD, error) { return nil, nil }

// wantsSSE reports whether req accepts text/event-stream.
func wantsSSE(req *http.Request) bool {
	for _, v := range req.Header.Values("Accept") {
		if !strings.Contains(v, "event-stream") {
			continue
		}
		for r := range strings.SplitSeq(v, ",") {
			if t, _, err := mime.ParseMediaType(r); err == nil && t == "text/event-stream" {
				return true
			}
		}
	}
	return false
}

// flusher returns what flushes w: what http.ResponseController's Flush
// finds, walking w's Unwrap chain to the first writer with a FlushError
// or a Flush method, found once for a stream rather than per message.
func flusher(w http.ResponseWriter) func() error {
	for {
		switch t := w.(type) {
		case interface{ FlushError() error }:
			return t.FlushError
		case http.Flusher:
			return func() error { t.Flush(); return nil }
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return func() error { return fmt.Errorf("%T: %w", w, http.ErrNotSupported) }
		}
	}
}

// stream is one response being written.
type stream struct {
	ctx context.Context
	m   gatewayMarshaler
	w   http.ResponseWriter
	// flush flushes w (see [flusher]).
	flush func() error
	opts  []func(context.Context, http.ResponseWriter, proto.Message) error
	buf   []byte // reused for every message
	enc   encoderMemo

	lastEventID string // the request's Last-Event-ID header
}

// options runs the mux's forward-response options on msg (nil: once
// before the first message), as runtime.ForwardResponseStream does.
func (s *stream) options(msg proto.Message) error {
	for _, opt := range s.opts {
		if err := opt(s.ctx, s.w, msg); err != nil {
			return fmt.Errorf("error handling ForwardResponseOptions: %w", err)
		}
	}
	return nil
}

// status returns the status an error of the stream ends it with: the
// edge's stream error handler's (see [streamErrorHandler]).
func (s *stream) status(err error) *status.Status {
	return streamErrorHandler(s.m.stream.log)(s.ctx, err)
}

// body returns what a message's JSON is made of: the message itself, or
// the field a binding's response_body names (generated code wraps the
// message in a type with XXX_ResponseBody).
func body(msg proto.Message) any {
	if rb, ok := msg.(interface{ XXX_ResponseBody() any }); ok {
		return rb.XXX_ResponseBody()
	}
	return msg
}

// appendJSON appends v's JSON to s.buf: protojson for a message, the
// marshaler's for anything else (a repeated response_body field).
func (s *stream) appendJSON(v any) error {
	if msg, ok := v.(proto.Message); ok {
		b, err := appendMessageJSONMemo(s.buf, msg, s.m.json.MarshalOptions, &s.enc)
		if err == nil {
			s.buf = b
		}
		return err
	}
	b, err := s.m.Marshal(v)
	s.buf = append(s.buf, b...)
	return err
}

// ndjson writes the stream as newline-delimited JSON. Each message is
// flushed once no other waits: at once, unless the call's stream (the
// in-process connection's, see [bufferedStream]) already holds the next.
func (s *stream) ndjson(recv func() (proto.Message, error)) {
	var pending bufferedStream
	if slot, _ := s.ctx.Value(bodySlotKey{}).(*bodySlot); slot != nil {
		// Taken out: an HTTP/1 connection's slot outlives the request.
		pending, slot.pending = slot.pending, nil
	}
	wrote := false
	fail := func(err error) {
		st := s.status(err)
		if !wrote {
			s.w.Header().Set("Content-Type", s.m.ContentType(st.Proto()))
			s.w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
		}
		b, err := s.m.json.MarshalOptions.MarshalAppend(s.buf[:0], st.Proto())
		if err != nil {
			return
		}
		_, _ = s.w.Write(append(b, '\n'))
	}
	for {
		msg, err := s.next(recv)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			fail(err)
			return
		}
		if !wrote {
			s.w.Header().Set("Content-Type", s.m.ContentType(msg))
		}
		s.buf = s.buf[:0]
		if hb, ok := msg.(*httpbody.HttpBody); ok {
			s.buf = append(s.buf, hb.GetData()...)
		} else {
			s.buf = append(s.buf, `{"result":`...)
			if err := s.appendJSON(body(msg)); err != nil {
				fail(err)
				return
			}
			s.buf = append(s.buf, '}')
		}
		s.buf = append(s.buf, '\n')
		if _, err := s.w.Write(s.buf); err != nil {
			return
		}
		wrote = true
		if pending != nil && pending.Buffered() > 0 {
			// The next message is already here: it goes out in the
			// same flush (a write of its own, a packet of its own and
			// a read for the client each, otherwise). A message is
			// never held back waiting for one that has not come.
			continue
		}
		if err := s.flush(); err != nil {
			return
		}
	}
}

// next returns the stream's next message, after the forward response
// options have seen it: io.EOF at the end, the error that ends the stream
// otherwise (a nil message is an Internal error).
func (s *stream) next(recv func() (proto.Message, error)) (proto.Message, error) {
	msg, err := recv()
	if err != nil {
		return nil, err
	}
	if err := s.options(msg); err != nil {
		return nil, err
	}
	if msg == nil {
		return nil, status.Error(codes.Internal, "empty response")
	}
	return msg, nil
}

// websocket writes the stream on the WebSocket of ws: each message's JSON
// (the message itself, as a unary answer's body) as one text message
// (an HttpBody's bytes as one binary message), and an error as the close
// code of its status; the rest of the socket's life is ws's (see
// [websockets]). The messages go straight to the socket: no NDJSON line
// for ws to parse back.
func (s *stream) websocket(ws *wsWriter, recv func() (proto.Message, error)) {
	wrote := false
	for {
		msg, err := s.next(recv)
		if errors.Is(err, io.EOF) {
			return
		}
		typ := websocket.MessageText
		if err == nil {
			s.buf = s.buf[:0]
			if hb, ok := msg.(*httpbody.HttpBody); ok {
				s.buf, typ = append(s.buf, hb.GetData()...), websocket.MessageBinary
			} else {
				err = s.appendJSON(body(msg))
			}
		}
		if err != nil {
			st := s.status(err)
			if !wrote {
				s.w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
			}
			ws.closeStatus(st.Code(), st.Message())
			return
		}
		if ws.message(typ, s.buf) != nil {
			return
		}
		wrote = true
	}
}

// sse writes the stream as Server-Sent Events.
func (s *stream) sse(recv func() (proto.Message, error)) {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if err := s.options(nil); err != nil {
		s.w.WriteHeader(http.StatusOK)
		s.sseError(err)
		return
	}
	s.w.WriteHeader(http.StatusOK)
	if s.flush() != nil {
		return
	}
	// The keep-alive comments come from a goroutine of their own while
	// recv waits; mu orders its writes with the events'.
	var mu sync.Mutex
	done, sent := false, false
	if d := s.m.stream.keepAlive; d > 0 {
		t := time.NewTicker(d)
		stop := make(chan struct{})
		go func() {
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				mu.Lock()
				switch {
				case done:
				case sent:
					sent = false // an event went out in this interval
				default:
					if _, err := io.WriteString(s.w, ": keep-alive\n\n"); err == nil {
						_ = s.flush()
					}
				}
				mu.Unlock()
			}
		}()
		// Once this returns, the goroutine writes nothing more: it sees
		// done under mu.
		defer func() {
			mu.Lock()
			done = true
			mu.Unlock()
			close(stop)
		}()
	}
	// Ids count the messages as the client sees the stream: a resumed
	// request goes on from the id it sends back (see [incomingHeader]).
	id, _ := strconv.ParseUint(s.lastEventID, 10, 64)
	for {
		msg, err := s.next(recv)
		if errors.Is(err, io.EOF) {
			return
		}
		if err == nil {
			id++
			err = s.appendEvent(id, msg)
		}
		mu.Lock()
		if err != nil {
			s.sseError(err)
			mu.Unlock()
			return
		}
		sent = true
		_, err = s.w.Write(s.buf)
		if err == nil {
			err = s.flush()
		}
		mu.Unlock()
		if err != nil {
			return
		}
	}
}

// appendEvent makes s.buf the event of message msg, the id-th.
func (s *stream) appendEvent(id uint64, msg proto.Message) error {
	s.buf = append(s.buf[:0], "id: "...)
	s.buf = strconv.AppendUint(s.buf, id, 10)
	if hb, ok := msg.(*httpbody.HttpBody); ok {
		// Raw bytes may hold newlines: one data line per line.
		for line := range strings.Lines(string(hb.GetData())) {
			s.buf = append(s.buf, "\ndata: "...)
			s.buf = append(s.buf, strings.TrimRight(line, "\r\n")...)
		}
	} else {
		s.buf = append(s.buf, "\ndata: "...)
		if err := s.appendJSON(body(msg)); err != nil {
			return err
		}
	}
	s.buf = append(s.buf, "\n\n"...)
	return nil
}

// sseError writes the event that ends a stream with err: "event: error"
// and the google.rpc.Status JSON of the error contract.
func (s *stream) sseError(err error) {
	st := s.status(err)
	b := append(s.buf[:0], "event: error\ndata: "...)
	b, err = s.m.json.MarshalOptions.MarshalAppend(b, st.Proto())
	if err != nil {
		return
	}
	if _, err := s.w.Write(append(b, "\n\n"...)); err == nil {
		_ = s.flush()
	}
}
