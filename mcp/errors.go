package mcp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/goms-io/goms/internal/gateway"
)

// jsonErrors makes the SDK's plain-text HTTP errors (a malformed JSON-RPC
// message, a wrong method or content type, a body too large) JSON
// google.rpc.Status bodies, as every other error of the HTTP port is.
func jsonErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jw := &errorWriter{ResponseWriter: w}
		next.ServeHTTP(jw, r)
		if !jw.plain {
			return
		}
		msg := strings.TrimSpace(jw.body.String())
		if msg == "" {
			msg = http.StatusText(jw.code)
		}
		b, _ := json.Marshal(struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}{int32(gateway.CodeOf(jw.code)), gateway.Truncate(msg, gateway.MaxMessageBytes)})
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Del("Content-Length")
		w.WriteHeader(jw.code)
		w.Write(b)
	})
}

// errorWriter holds back an error answered in plain text.
type errorWriter struct {
	http.ResponseWriter
	plain bool
	code  int
	body  bytes.Buffer
}

// WriteHeader holds back an error status whose body is plain text.
func (w *errorWriter) WriteHeader(code int) {
	if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.plain, w.code = true, code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write keeps the body of a held-back error.
func (w *errorWriter) Write(p []byte) (int, error) {
	if w.plain {
		return w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// Flush flushes what is not held back (the SDK's server-sent events).
func (w *errorWriter) Flush() {
	if w.plain {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *errorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
