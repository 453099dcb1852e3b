package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// guard checks what can be checked of an HTTP request before the
// gateway routes it, and answers with the JSON error body:
//
//   - a path or query that is not valid UTF-8: 400, as a gRPC server would
//     refuse such string fields (the in-process connection does not
//     serialize, so nothing else would catch them);
//   - request line and headers over maxHeader bytes: 431;
//   - a declared body over maxBody bytes: 413 at once; a chunked one fails
//     when it crosses the limit;
//   - a body that is not declared JSON (Content-Type application/json or
//     application/*+json, parameters allowed): 415. Form, text/plain and
//     untyped bodies are what a browser sends cross-site without a CORS
//     preflight, so parsing them as JSON would let any page call the
//     service with the user's cookies.
//
// A request with a body gets a [requestBody], which the gateway's stream
// calls and error handlers find through the request's [bodySlot].
func guard(next http.Handler, maxBody, maxHeader int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var slot *bodySlot
		if r.ProtoMajor == 1 {
			if slot, _ = r.Context().Value(bodySlotKey{}).(*bodySlot); slot != nil {
				// The connection's previous request is over.
				slot.body, slot.pending = nil, nil
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
		if wantsSSE(r) {
			r = r.WithContext(context.WithValue(r.Context(), sseKey{}, true))
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		// ContentLength 0: no body (an HTTP/2 request's Body is never
		// http.NoBody, even when its HEADERS frame ends the stream).
		if r.ContentLength != 0 && !jsonContentType(headerValue(r.Header, "Content-Type")) {
			writeError(w, r, http.StatusUnsupportedMediaType, status.Error(codes.InvalidArgument,
				"request body must be JSON: Content-Type application/json"))
			return
		}
		body := &requestBody{ReadCloser: r.Body, length: r.ContentLength, max: maxBody}
		if _, ws := r.Body.(*wsBody); r.ContentLength < 0 && !ws {
			// A body of declared length is within the limit (checked
			// above), and net/http (HTTP/2 too) never reads past its
			// length; one of unknown length is limited as it is read. A
			// WebSocket's limit is per message (see [websockets]).
			body.ReadCloser = http.MaxBytesReader(w, r.Body, int64(maxBody))
		}
		// A body can fail (cross the limit, time out) while a stream's
		// answer is under way: grpc-gateway then picks the status from
		// the gRPC code alone.
		w = &inputStatusWriter{ResponseWriter: w, body: body}
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
// in the connection's context ([ConnContext]) serves all its requests and
// costs nothing per request; an HTTP/2 request gets a slot of its own.
//
// It also holds the server stream the request's call opened, when it tells
// how many of its messages wait ([gatewayConn] sets it), for the stream
// encoder.
type bodySlot struct {
	body    *requestBody
	pending bufferedStream
}

type bodySlotKey struct{}

// ConnContext is the http.Server's ConnContext for the edge: it gives each
// connection the slot its HTTP/1 requests use.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*plainErrorConn); ok {
		ctx = withFraming(ctx, &pc.framing)
	}
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
//
// When the call ended because its context was cancelled, that may be the
// body's own failure seen first: net/http cancels the request's context
// as soon as a read of the connection fails (a read timeout), before the
// read returns to the body's reader. The body's read then gets up to
// settleTimeout to return, so that its failure is the answer.
func inputErrorOf(ctx context.Context) *inputError {
	b := requestBodyOf(ctx)
	if b == nil {
		return nil
	}
	if ie := b.failed.Load(); ie != nil || ctx.Err() == nil {
		return ie
	}
	for deadline := time.Now().Add(settleTimeout); !b.reading.TryLock(); {
		if time.Now().After(deadline) {
			return b.failed.Load()
		}
		time.Sleep(settlePoll)
	}
	// fail reads what the reads wrote: it runs while no read does.
	if b.netErr != nil && b.failed.Load() == nil {
		b.fail(b.netErr)
	}
	b.reading.Unlock()
	return b.failed.Load()
}

// settleTimeout bounds the wait of [inputErrorOf] for a body read, which
// looks every settlePoll whether the read returned.
const (
	settleTimeout = 100 * time.Millisecond
	settlePoll    = time.Millisecond
)

// MaxHeaderBytes is the http.Server's MaxHeaderBytes for the edge's limit
// [Options.MaxHeaderBytes]: requests up to it reach the edge, which
// answers those over the limit with the JSON body; beyond it net/http
// answers 431 itself, without reading the rest ([Listener] makes that
// answer JSON too).
func MaxHeaderBytes(limit int) int { return 2 * limit }

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

// jsonContentType reports whether ct, a Content-Type header, declares
// JSON: application/json or application/<anything>+json, with any
// parameters.
func jsonContentType(ct string) bool {
	if ct == "application/json" {
		return true // the usual value, without mime.ParseMediaType's map
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	return ok && (sub == "json" || strings.HasSuffix(sub, "+json") && len(sub) > len("+json"))
}

// headerValue is h.Get(key) for a key in canonical form, without
// Get's canonicalization of key.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
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

// requestBody is a request body under [guard]: read through
// http.MaxBytesReader when its length is unknown, decoded by
// [requestBody.Decode], and able to fail its request with an
// [inputError].
type requestBody struct {
	io.ReadCloser
	length   int64 // Content-Length, -1 if unknown
	max      int
	exceeded bool      // http.MaxBytesReader reported the limit
	netErr   net.Error // the connection failed a read (timeout, reset)
	// reading is held during each read (see [inputErrorOf]): a mutex, not
	// a channel, since a read that succeeds is the common case.
	reading sync.Mutex

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
	b.reading.Lock()
	defer b.reading.Unlock()
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.readFailed(err)
	}
	return n, err
}

// WriteTo serves io.Copy(io.Discard, body), which grpc-gateway's request
// functions run after decoding: a body [requestBody.decode] read whole
// has nothing left (net/http reports the end with its last bytes), so
// the read that would find the end is left out.
func (b *requestBody) WriteTo(w io.Writer) (int64, error) {
	if b.whole {
		return 0, nil
	}
	return io.Copy(w, struct{ io.Reader }{b})
}

// readFailed notes why a read failed, for [requestBody.fail]. (Apart from
// Read, so that a read that succeeds allocates nothing for errors.As.)
func (b *requestBody) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		b.exceeded = true
	case errors.As(err, &ne):
		b.netErr = ne
	}
}

// fail ends the request with the error of a body that could not be
// decoded. A body that could not be read because of the connection (the
// read timeout, a reset) fails with a status naming the condition: the
// connection's error names addresses, which the answer does not carry.
func (b *requestBody) fail(err error) {
	ie := &inputError{status: http.StatusBadRequest, err: status.Error(codes.InvalidArgument, err.Error())}
	switch {
	case b.exceeded:
		ie = &inputError{status: http.StatusRequestEntityTooLarge, err: bodyTooLarge(b.max)}
	case b.netErr != nil && b.netErr.Timeout():
		ie = &inputError{status: http.StatusRequestTimeout, err: status.Error(codes.DeadlineExceeded, "request body not received in time")}
	case b.netErr != nil:
		ie = &inputError{status: http.StatusBadRequest, err: status.Error(codes.InvalidArgument, "request body could not be read")}
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
// and hands it to [decodePlainJSON], for the simplest bodies, else to
// protojson; only if protojson refuses it (several
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
		if err == nil {
			if decodePlainJSON(buf, msg) {
				b.whole = true
				return nil
			}
			proto.Reset(msg)
			if b.m.json.UnmarshalOptions.Unmarshal(buf, msg) == nil {
				b.whole = true
				return nil
			}
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
