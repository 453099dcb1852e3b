package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // so error details (ErrorInfo, BadRequest, …) marshal to JSON
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Every error of the edge is a google.rpc.Status JSON body
// ({"code":…,"message":…,"details":[…]}). Its HTTP status is grpc-gateway's
// runtime.HTTPStatusFromCode of the gRPC code (Google's published mapping,
// google.rpc.Code), unless the error arose in HTTP itself (a malformed
// body, a route that does not exist, a request over a limit): then the
// error is a runtime.HTTPStatusError carrying that HTTP status, and
// [codeOf] gives its gRPC code.

// codeOfStatus reads runtime.HTTPStatusFromCode right to left: for a
// status several codes share (400, 409, 500), the most general code. The
// statuses that only HTTP produces (405, 408, 413, 415, 431, 502, 505)
// have the code a gRPC server would give the same failure. The JSON error
// body always carries the exact code; this table only serves errors that
// start out as an HTTP status.
var codeOfStatus = map[int]codes.Code{
	http.StatusOK:                          codes.OK,
	http.StatusBadRequest:                  codes.InvalidArgument,
	http.StatusUnauthorized:                codes.Unauthenticated,
	http.StatusForbidden:                   codes.PermissionDenied,
	http.StatusNotFound:                    codes.NotFound,
	http.StatusConflict:                    codes.AlreadyExists,
	http.StatusTooManyRequests:             codes.ResourceExhausted,
	499:                                    codes.Canceled, // client closed request
	http.StatusInternalServerError:         codes.Internal,
	http.StatusNotImplemented:              codes.Unimplemented,
	http.StatusServiceUnavailable:          codes.Unavailable,
	http.StatusGatewayTimeout:              codes.DeadlineExceeded,
	http.StatusMethodNotAllowed:            codes.Unimplemented,
	http.StatusRequestTimeout:              codes.DeadlineExceeded,
	http.StatusRequestEntityTooLarge:       codes.ResourceExhausted,
	http.StatusRequestHeaderFieldsTooLarge: codes.ResourceExhausted,
	http.StatusUnsupportedMediaType:        codes.InvalidArgument,
	http.StatusBadGateway:                  codes.Unavailable,
	http.StatusHTTPVersionNotSupported:     codes.Unimplemented,
}

// codeOf returns the gRPC code of an error that starts out as HTTP status
// httpStatus: see codeOfStatus; any other 4xx is InvalidArgument, anything
// else Unknown.
func codeOf(httpStatus int) codes.Code {
	if c, ok := codeOfStatus[httpStatus]; ok {
		return c
	}
	if httpStatus >= 400 && httpStatus < 500 {
		return codes.InvalidArgument
	}
	return codes.Unknown
}

// httpError is the error of a request that failed in HTTP with httpStatus.
func httpError(httpStatus int, err error) error {
	return &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err}
}

// errorHandler writes every error of the gateway. Errors in the request
// itself (see [inputErrorOf]) take the place of whatever the call reported
// after them.
func errorHandler(log *slog.Logger) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		var he *runtime.HTTPStatusError
		switch ie := inputErrorOf(ctx); {
		case ie != nil:
			err = httpError(ie.status, ie.err)
		case isTransportError(err):
			err = upstreamUnavailable(ctx, log, err)
		case isHeaderListTooLarge(err):
			// The headers fit this process but not the upstream's
			// grpc.max_header_bytes once forwarded as metadata: the
			// request's headers are too large, as net/http would say
			// of its own limit (grpc-go's client reports INTERNAL).
			err = httpError(http.StatusRequestHeaderFieldsTooLarge,
				status.Error(codes.ResourceExhausted, "request headers larger than the service accepts"))
		case errors.As(err, &he):
			// grpc-gateway's own (a malformed path escape): its code is
			// the status's, not Unknown.
			if _, ok := status.FromError(he.Err); !ok {
				err = httpError(he.HTTPStatus, status.Error(codeOf(he.HTTPStatus), he.Err.Error()))
			}
		}
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, capMessage(err))
	}
}

// upstreamUnavailable is the error a client gets for err, an error of
// the connection to the service: its text names addresses, so the answer
// names the condition and the log keeps the text.
func upstreamUnavailable(ctx context.Context, log *slog.Logger, err error) error {
	method, _ := runtime.RPCMethod(ctx)
	return upstreamUnavailableFor(ctx, log, method, err)
}

// upstreamUnavailableFor is [upstreamUnavailable] for a call of method.
func upstreamUnavailableFor(ctx context.Context, log *slog.Logger, method string, err error) error {
	log.WarnContext(ctx, "upstream unavailable", "grpc.method", method, "error", err)
	msg := status.Convert(err).Message()
	switch {
	case strings.Contains(msg, "connection refused"):
		// The call never reached the service: safe to retry.
		return status.Error(codes.Unavailable, "upstream unavailable: connection refused")
	case strings.Contains(msg, "while dialing"):
		return status.Error(codes.Unavailable, "upstream unavailable: cannot connect")
	}
	return status.Error(codes.Unavailable, "upstream unavailable")
}

// transportPrefixes start the messages grpc-go gives the errors of a
// client connection itself (not of the service it calls).
var transportPrefixes = []string{
	"connection error:", "transport:", "transport is closing", "name resolver error",
	"last connection error:", "last resolver error:", "error reading from server:",
	"connection closed before server preface received", "the connection is draining",
	"closing transport due to:",
}

// isTransportError reports whether err is an UNAVAILABLE error of the
// gateway's connection to a service rather than one the service returned.
// grpc-go wraps the last error of a call it retried (a method declared
// idempotent) as "max retries exhausted: failed after N attempts: …",
// and status.FromError then gives that whole text as the message: the
// wrapped status's own message is the one looked at.
func isTransportError(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	msg := st.Message()
	var inner interface{ GRPCStatus() *status.Status }
	if errors.As(err, &inner) {
		msg = inner.GRPCStatus().Message()
	}
	for _, p := range transportPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// isHeaderListTooLarge reports whether err is grpc-go's client refusing
// to send a call's metadata because it is over the size the server
// advertised (SETTINGS_MAX_HEADER_LIST_SIZE).
func isHeaderListTooLarge(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Internal &&
		strings.HasPrefix(st.Message(), "header list size to send violates the maximum size")
}

// streamErrorHandler gives the status of an error in the middle of a
// server stream; an error in the request's own body wins, as in
// [errorHandler], and the connection's own errors are named as there.
func streamErrorHandler(log *slog.Logger) runtime.StreamErrorHandlerFunc {
	return func(ctx context.Context, err error) *status.Status {
		if ie := inputErrorOf(ctx); ie != nil {
			err = ie.err
		} else if isTransportError(err) {
			err = upstreamUnavailable(ctx, log, err)
		}
		return status.Convert(capMessage(err))
	}
}

// routingErrorHandler answers requests that match no route (404, 405) with
// the same JSON body as every other error, a 405 with the Allow header of
// the methods the path has. (grpc-gateway's own would answer 405 with 501,
// the status of its code.)
func (p *methodProbe) routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", strings.Join(p.allowed(r), ", "))
	}
	err := status.Error(codeOf(httpStatus), http.StatusText(httpStatus))
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, httpError(httpStatus, err))
}

// writeError writes err, a status error, as the JSON error body with
// httpStatus, for requests the gateway's mux never sees (see [guard]).
func writeError(w http.ResponseWriter, r *http.Request, httpStatus int, err error) {
	_, m := runtime.MarshalerForRequest(defaultMux, r)
	runtime.DefaultHTTPErrorHandler(r.Context(), defaultMux, m, w, r, capMessage(httpError(httpStatus, err)))
}

// MaxMessageBytes bounds the message of an error body: messages echo
// input (a path parameter that does not parse, a JSON value of the wrong
// type, an id the service did not find), which may be megabytes long.
// Longer messages are cut at a character boundary and end in "…".
const MaxMessageBytes = 512

// capMessage returns err with its status message cut at
// [MaxMessageBytes]; details are kept.
func capMessage(err error) error {
	var he *runtime.HTTPStatusError
	if errors.As(err, &he) {
		if c := capMessage(he.Err); c != he.Err {
			return httpError(he.HTTPStatus, c)
		}
		return err
	}
	st := status.Convert(err)
	if len(st.Message()) <= MaxMessageBytes {
		return err
	}
	p := st.Proto()
	p.Message = Truncate(p.Message, MaxMessageBytes)
	return status.ErrorProto(p)
}

// Truncate returns s cut to at most max bytes at a UTF-8 character
// boundary, ending in "…" when cut.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	n := max - len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}

// defaultMux supplies grpc-gateway's default marshalers to writeError, so
// that its bodies are byte for byte those of the gateway.
var defaultMux = runtime.NewServeMux()
