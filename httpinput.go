package goms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// guardInput checks what can be checked of an HTTP request before the
// gateway routes it, and answers with the JSON error body:
//
//   - a path or query that is not valid UTF-8: 400, as a gRPC server would
//     refuse such string fields (the in-process connection does not
//     serialize, so nothing else would catch them);
//   - request line and headers over maxHeader bytes: 431;
//   - a declared body over maxBody bytes: 413 at once; a chunked one fails
//     when it crosses the limit.
//
// A request with a body gets a [requestBody], which the gateway's stream
// calls and error handlers find through the request's [bodySlot].
func guardInput(next http.Handler, maxBody, maxHeader int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var slot *bodySlot
		if r.ProtoMajor == 1 {
			if slot, _ = r.Context().Value(bodySlotKey{}).(*bodySlot); slot != nil {
				slot.body = nil // the connection's previous request is over
			}
		}
		if !validUTF8(r.URL) {
			writeError(w, r, http.StatusBadRequest,
				status.Error(codes.InvalidArgument, "request path or query is not valid UTF-8"))
			return
		}
		if headerSize(r) > maxHeader {
			writeError(w, r, http.StatusRequestHeaderFieldsTooLarge,
				status.Errorf(codes.ResourceExhausted, "request headers larger than %d bytes", maxHeader))
			return
		}
		if r.ContentLength > int64(maxBody) {
			writeError(w, r, http.StatusRequestEntityTooLarge, bodyTooLarge(maxBody))
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		body := &requestBody{ReadCloser: r.Body, length: r.ContentLength, max: maxBody}
		if r.ContentLength < 0 {
			// A body of declared length is within the limit (checked
			// above), and net/http (HTTP/2 too) never reads past its
			// length; one of unknown length is limited as it is read, and
			// can cross the limit while a stream's answer is under way:
			// grpc-gateway then picks the status from the gRPC code alone.
			body.ReadCloser = http.MaxBytesReader(w, r.Body, int64(maxBody))
			w = &inputStatusWriter{ResponseWriter: w, body: body}
		}
		if slot == nil {
			// HTTP/2: the connection serves other requests meanwhile.
			slot = new(bodySlot)
			r = r.WithContext(context.WithValue(r.Context(), bodySlotKey{}, slot))
		}
		body.w = w
		slot.body = body
		r.Body = body
		next.ServeHTTP(w, r)
	})
}

// bodySlot holds the [requestBody] of the request being served, for the
// code grpc-gateway calls with the request's context only: the stream
// calls of the gateway's connection ([gatewayConn]) and the error
// handlers. An HTTP/1 connection serves one request at a time, so one slot
// in the connection's context ([withBodySlot]) serves all its requests and
// costs nothing per request; an HTTP/2 request gets a slot of its own.
type bodySlot struct{ body *requestBody }

type bodySlotKey struct{}

// withBodySlot is the HTTP server's ConnContext: it gives each connection
// the slot its HTTP/1 requests use.
func withBodySlot(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, bodySlotKey{}, new(bodySlot))
}

// requestBodyOf returns the body of the request ctx serves, nil if it has
// none.
func requestBodyOf(ctx context.Context) *requestBody {
	if slot, _ := ctx.Value(bodySlotKey{}).(*bodySlot); slot != nil {
		return slot.body
	}
	return nil
}

// inputErrorOf returns the error the request ctx serves failed with
// because of its body, if any.
func inputErrorOf(ctx context.Context) *inputError {
	if b := requestBodyOf(ctx); b != nil {
		return b.failed.Load()
	}
	return nil
}

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
type gatewayConn struct{ grpc.ClientConnInterface }

func (c gatewayConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	b := requestBodyOf(ctx)
	if b == nil || !desc.ClientStreams || !desc.ServerStreams {
		return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	}
	// Fails for HTTP/2, which needs nothing, and for a writer a user's
	// middleware wrapped without Unwrap: then HTTP/1 stays half duplex.
	_ = http.NewResponseController(b.w).EnableFullDuplex()
	ctx, cancel := context.WithCancel(ctx)
	cs, err := c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	if err != nil {
		cancel()
		return nil, err
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

// headerHardLimit is the http.Server's MaxHeaderBytes for a configured
// limit: requests up to it reach [guardInput], which answers those over
// the limit with the JSON body; beyond it net/http answers 431 itself, in
// plain text, without reading the rest.
func headerHardLimit(maxHeader int) int { return 2 * maxHeader }

// headerSize approximates the bytes of r's request line and headers as
// they came over HTTP/1.1.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len("  \r\n") + len("Host: \r\n") + len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + len(": \r\n")
		}
	}
	return n
}

// validUTF8 reports whether u's decoded path and query are valid UTF-8.
func validUTF8(u *url.URL) bool {
	if !utf8.ValidString(u.Path) {
		return false
	}
	if strings.IndexByte(u.RawQuery, '%') < 0 {
		return utf8.ValidString(u.RawQuery)
	}
	q, err := url.QueryUnescape(u.RawQuery)
	return err != nil || utf8.ValidString(q) // malformed escapes: the gateway answers them
}

func bodyTooLarge(max int) error {
	return status.Errorf(codes.ResourceExhausted, "request body larger than %d bytes", max)
}

// requestBody is a request body under [guardInput]: read through
// http.MaxBytesReader when its length is unknown, decoded by
// [requestBody.Decode], and able to fail its request with an
// [inputError].
type requestBody struct {
	io.ReadCloser
	length   int64 // Content-Length, -1 if unknown
	max      int
	exceeded bool // http.MaxBytesReader reported the limit

	// w answers the body's request. failed is the error the body failed
	// its request with; endCall ends the bidirectional stream the body
	// feeds, if any (see [gatewayConn]).
	w       http.ResponseWriter
	failed  atomic.Pointer[inputError]
	endCall context.CancelFunc

	// m is the marshaler whose NewDecoder returned the body, and dec
	// grpc-gateway's decoder, once Decode needs it.
	m   gatewayMarshaler
	dec runtime.Decoder
	// whole reports that the body held one message, already decoded.
	whole bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if _, ok := err.(*http.MaxBytesError); ok {
		b.exceeded = true
	}
	return n, err
}

// fail ends the request with the error of a body that could not be
// decoded.
func (b *requestBody) fail(err error) {
	ie := &inputError{status: http.StatusBadRequest, err: status.Error(codes.InvalidArgument, err.Error())}
	if b.exceeded {
		ie = &inputError{status: http.StatusRequestEntityTooLarge, err: bodyTooLarge(b.max)}
	}
	b.failed.Store(ie)
	if b.endCall != nil {
		b.endCall()
	}
}

// inputError is the answer the client gets when its request's body
// cannot be decoded.
type inputError struct {
	status int   // HTTP status
	err    error // a status error
}

func (e *inputError) Error() string { return e.err.Error() }

// Decode decodes the body's next message and fails the request when it
// does not decode.
func (b *requestBody) Decode(v any) error {
	err := b.decode(v)
	if err != nil && !errors.Is(err, io.EOF) {
		b.fail(err)
	}
	return err
}

// decode decodes the body's next message. grpc-gateway's decoder frames
// each message with encoding/json before protojson parses it: for a 64 KiB
// message that framing costs six times the parsing. Nearly every body is
// one message of known length, so the first call reads such a body whole
// and hands it to protojson; only if protojson refuses it (several
// messages, trailing data, bad input) does grpc-gateway's decoder go over
// the same bytes, so streams and error messages stay as grpc-gateway has
// them. A stream body with a Content-Length is thus read whole before its
// first message is sent on.
func (b *requestBody) decode(v any) error {
	if b.whole {
		return io.EOF
	}
	if b.dec != nil {
		return b.dec.Decode(v)
	}
	var r io.Reader = b
	if msg, ok := v.(proto.Message); ok && b.length > 0 {
		buf := make([]byte, b.length)
		n, err := io.ReadFull(b, buf)
		if err == nil && b.m.json.UnmarshalOptions.Unmarshal(buf, msg) == nil {
			b.whole = true
			return nil
		}
		proto.Reset(msg)
		if err == nil {
			// The whole body is in buf: the HTTP body is not read again,
			// since net/http closes it once the answer starts (HTTP/1),
			// which a stream's answer may do before the last message
			// is decoded.
			r = bytes.NewReader(buf)
		} else {
			r = io.MultiReader(bytes.NewReader(buf[:n]), b)
		}
	}
	b.dec = b.m.HTTPBodyMarshaler.NewDecoder(r)
	return b.dec.Decode(v)
}

// inputStatusWriter answers a request that failed its input (see
// [inputError]) with the input error's HTTP status, whoever writes the
// status line.
type inputStatusWriter struct {
	http.ResponseWriter
	body *requestBody
}

func (w *inputStatusWriter) WriteHeader(code int) {
	if ie := w.body.failed.Load(); ie != nil {
		code = ie.status
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *inputStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// plainErrorListener makes the answers net/http writes by itself, before
// any handler runs, to requests it cannot parse (a malformed request line,
// an invalid percent-encoding, an unsupported protocol version, headers
// over the http.Server's hard limit) follow the JSON error contract like
// every other HTTP error. net/http writes those as one canned plain-text
// response straight to the connection; plainErrorConn recognises it and
// writes the same status with the JSON body instead. Nothing else on the
// connection is touched: any other write passes through unread but for a
// prefix check. Over TLS the listener sits under the TLS layer, sees only
// ciphertext, and the answers stay plain text.
type plainErrorListener struct{ net.Listener }

func (l plainErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &plainErrorConn{Conn: c}, nil
}

// plainErrorConn is a connection of plainErrorListener.
type plainErrorConn struct{ net.Conn }

// cannedHeaders ends the header of net/http's canned answers.
const cannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *plainErrorConn) Write(p []byte) (int, error) {
	if b, ok := jsonCannedAnswer(p); ok {
		if _, err := c.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets net/http half-close the connection after a 431, as it
// does on a bare TCP connection, so that the client reads the answer.
func (c *plainErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// jsonCannedAnswer returns the JSON form of p if p is one of net/http's
// canned answers: "HTTP/1.1 <code> <text>" + cannedHeaders + "<code>
// <text>[: <detail>]". The JSON message is the detail if there is one,
// else the status text.
func jsonCannedAnswer(p []byte) ([]byte, bool) {
	if len(p) < 13 || !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) || (p[9] != '4' && p[9] != '5') {
		return nil, false
	}
	// Every response of the connection passes here: convert to a string
	// only what is one of the canned answers.
	l, b, ok := bytes.Cut(p[len("HTTP/1.1 "):], []byte(cannedHeaders))
	if !ok {
		return nil, false
	}
	line, body := string(l), string(b)
	code, err := strconv.Atoi(line[:3])
	if err != nil || !strings.HasPrefix(body, line[:3]+" ") {
		return nil, false
	}
	text := http.StatusText(code)
	msg := strings.TrimPrefix(body[4:], text)
	if msg, ok = strings.CutPrefix(msg, ": "); !ok || msg == "" {
		msg = text
	}
	js, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(status.New(CodeOf(code), msg).Proto())
	if err != nil {
		return nil, false
	}
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, text, len(js), js), true
}
