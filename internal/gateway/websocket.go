package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// WebSocket. A browser cannot stream a request body with fetch, so client
// and bidirectional streams take a WebSocket (RFC 6455) on the route's own
// path: GET with Upgrade: websocket to a path that has a POST, PUT or
// PATCH route. The socket becomes the route's request body and response,
// and the call runs through the same edge as any HTTP request (input
// checks, the gateway's connection, interceptors, metrics), in-process in
// gateway mode and forwarded upstream in http mode:
//
//   - each text or binary message the client sends is one request
//     message, as JSON (one that is not ends the call with
//     INVALID_ARGUMENT); an empty message ends the client's side (the
//     half-close: WebSocket has none of its own), which a client stream
//     and a route of a unary method wait for before they answer; a
//     message over [Options.MaxBodyBytes] closes the socket with 1009;
//   - each response message is one text message, as JSON (the message
//     itself, as a unary answer's body);
//   - the end of the call closes the socket with 1000 for OK, or with
//     4000 + the gRPC code (4003 INVALID_ARGUMENT, 4005 NOT_FOUND, …) and
//     the status message as the reason, cut to the 123 bytes a close
//     frame holds;
//   - a cross-origin socket is accepted only from an origin the CORS
//     setting allows ([Options.CORSOrigins]; a browser sends cookies
//     with a WebSocket whatever the origin, so without that check any
//     page could call with them), else 403 with the JSON error body.
//
// Backpressure is the socket's: a request message is read when the call
// asks for the next one, and a response message is written before the
// next is taken from the call. WebSockets run over HTTP/1.1.

// wsCloseBase is added to a gRPC code to make the close code of a call
// that ended with that code (RFC 6455 leaves 4000–4999 to applications).
const wsCloseBase = 4000

// websockets serves WebSocket upgrades of the edge's routes with next,
// the edge's handler, and passes every other request to it.
func websockets(next http.Handler, probe *methodProbe, o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebSocket(r) {
			next.ServeHTTP(w, r)
			return
		}
		method := ""
		for _, m := range probe.allowed(r) {
			if m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch {
				method = m
				break
			}
		}
		if method == "" {
			writeError(w, r, http.StatusNotFound, status.Error(codes.NotFound, "no streaming route for a WebSocket at this path"))
			return
		}
		if !originAllowed(r, o.CORSOrigins) {
			writeError(w, r, http.StatusForbidden, status.Error(codes.PermissionDenied, "WebSocket origin not allowed"))
			return
		}
		// The server's read and write timeouts were set for a request;
		// the socket lives as long as its call.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
		if err != nil {
			return // Accept answered
		}
		defer conn.CloseNow()
		limit := int64(o.MaxBodyBytes)
		if limit <= 0 {
			limit = -1
		}
		conn.SetReadLimit(limit)

		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		call := r.Clone(ctx)
		call.Method = method
		call.Header = call.Header.Clone()
		for _, h := range []string{"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol"} {
			call.Header.Del(h)
		}
		call.Header.Set("Content-Type", "application/json")
		call.Header.Set("Accept", "application/json")
		call.ContentLength = -1
		call.Body = &wsBody{ctx: ctx, conn: conn}
		ww := &wsWriter{ctx: ctx, conn: conn, header: http.Header{}}
		next.ServeHTTP(ww, call)
		ww.finish()
	})
}

// isWebSocket reports whether r asks to become a WebSocket.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && r.ProtoMajor == 1 &&
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header, "Connection", "upgrade")
}

// headerHasToken reports whether a comma-separated header lists token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed reports whether a WebSocket from r's Origin may be
// accepted: no Origin (not a browser), the server's own host, or an
// origin the CORS setting allows ("*" any; patterns as path.Match, so
// "https://*.example.com" works).
func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if i := strings.Index(origin, "://"); i >= 0 && strings.EqualFold(origin[i+3:], r.Host) {
		return true
	}
	origin = strings.ToLower(origin)
	for _, a := range allowed {
		if a == "*" {
			return true
		}
		if ok, _ := path.Match(strings.ToLower(a), origin); ok {
			return true
		}
	}
	return false
}

// wsBody is the request body of a call on a WebSocket: the client's
// messages, each followed by a newline, until an empty message. A message
// that is not one whole JSON value fails the read, so that the call ends
// with INVALID_ARGUMENT instead of waiting for the rest of the value in
// the next message.
type wsBody struct {
	ctx  context.Context
	conn *websocket.Conn
	msg  []byte // what is left of the message being read, and its newline
	done bool
}

// errNotJSON is the error of a WebSocket message that is not JSON.
var errNotJSON = errors.New("WebSocket message is not one JSON value")

func (b *wsBody) Read(p []byte) (int, error) {
	if len(b.msg) == 0 {
		if b.done {
			return 0, io.EOF
		}
		_, msg, err := b.conn.Read(b.ctx)
		if err != nil {
			return 0, err
		}
		if len(msg) == 0 {
			b.done = true // an empty message: the client's half-close
			return 0, io.EOF
		}
		if !json.Valid(msg) {
			return 0, errNotJSON
		}
		b.msg = append(msg, '\n')
	}
	n := copy(p, b.msg)
	b.msg = b.msg[n:]
	return n, nil
}

func (b *wsBody) Close() error { return nil }

// wsWriter is the response of a call on a WebSocket: it sends each
// message of the answer as a message of its own, and ends the socket with
// the call's status. A stream's messages come from the stream encoder
// ([ForwardStream] finds the wsWriter with [wsWriterOf] and calls
// [wsWriter.message]); anything else written is a unary answer, an error
// body, or grpc-gateway's own NDJSON lines ({"result":…}), which Write
// splits and sends.
type wsWriter struct {
	ctx    context.Context
	conn   *websocket.Conn
	header http.Header
	status int
	buf    []byte
	closed bool
}

func (w *wsWriter) Header() http.Header { return w.header }

func (w *wsWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *wsWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.closed {
		return 0, errors.New("WebSocket closed")
	}
	w.buf = append(w.buf, p...)
	if w.status >= 400 {
		return len(p), nil // an error body, sent at the end
	}
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := w.buf[:i]
		if err := w.line(line); err != nil {
			return 0, err
		}
		w.buf = w.buf[i+1:]
	}
}

// wsWriterOf returns the wsWriter w is or wraps (through Unwrap, as
// http.ResponseController finds a writer), nil if none.
func wsWriterOf(w http.ResponseWriter) *wsWriter {
	for {
		switch t := w.(type) {
		case *wsWriter:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// message sends p, one message of a stream's answer, as a WebSocket
// message of type typ.
func (w *wsWriter) message(typ websocket.MessageType, p []byte) error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.closed {
		return errors.New("WebSocket closed")
	}
	return w.conn.Write(w.ctx, typ, p)
}

// Flush sends nothing more: every complete line is sent as it comes.
func (w *wsWriter) Flush() {}

// line sends one line of a stream's answer: a message, or the error that
// ends the stream.
func (w *wsWriter) line(line []byte) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	var chunk struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(line, &chunk); err == nil && chunk.Result != nil {
		return w.conn.Write(w.ctx, websocket.MessageText, chunk.Result)
	}
	w.closeWith(line)
	return nil
}

// finish ends the socket after the call: with the error body of a call
// that failed before it answered, or the rest of a stream's answer, or
// 1000.
func (w *wsWriter) finish() {
	if w.closed {
		return
	}
	rest := bytes.TrimSpace(w.buf)
	if w.status >= 400 {
		w.closeWith(rest)
		return
	}
	if len(rest) > 0 {
		// A unary answer: its body is the message itself.
		if err := w.conn.Write(w.ctx, websocket.MessageText, rest); err != nil {
			return
		}
	}
	w.closed = true
	w.conn.Close(websocket.StatusNormalClosure, "")
}

// closeWith closes the socket with the status of body, an error body
// ({"code":…,"message":…}).
func (w *wsWriter) closeWith(body []byte) {
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Code <= 0 || st.Code > 16 {
		st.Code, st.Message = int(codes.Internal), "malformed answer"
	}
	w.closeStatus(codes.Code(st.Code), st.Message)
}

// closeStatus closes the socket with the close code of a call that ended
// with code (not OK) and message.
func (w *wsWriter) closeStatus(code codes.Code, message string) {
	if code == codes.OK || code > 16 {
		code, message = codes.Internal, "malformed answer"
	}
	w.closed = true
	w.conn.Close(websocket.StatusCode(wsCloseBase+int(code)), Truncate(message, 123))
}
