package goms

import (
	"context"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // so error details (ErrorInfo, BadRequest, …) marshal to JSON
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// statusOfCode is the one table between gRPC codes and HTTP statuses. It
// is Google's published mapping (google.rpc.Code), which grpc-gateway
// follows too. Read left to right it gives the HTTP status of an error;
// [CodeOf] reads it right to left, taking the first code listed for a
// status. A code that shares its status with an earlier one (Unknown,
// DataLoss, FailedPrecondition, OutOfRange, Aborted) therefore cannot be
// recovered from the status alone: the JSON error body always carries the
// exact code.
var statusOfCode = []struct {
	code   codes.Code
	status int
}{
	{codes.OK, http.StatusOK},
	{codes.InvalidArgument, http.StatusBadRequest},
	{codes.FailedPrecondition, http.StatusBadRequest},
	{codes.OutOfRange, http.StatusBadRequest},
	{codes.Unauthenticated, http.StatusUnauthorized},
	{codes.PermissionDenied, http.StatusForbidden},
	{codes.NotFound, http.StatusNotFound},
	{codes.AlreadyExists, http.StatusConflict},
	{codes.Aborted, http.StatusConflict},
	{codes.ResourceExhausted, http.StatusTooManyRequests},
	{codes.Canceled, 499}, // client closed request
	{codes.Internal, http.StatusInternalServerError},
	{codes.Unknown, http.StatusInternalServerError},
	{codes.DataLoss, http.StatusInternalServerError},
	{codes.Unimplemented, http.StatusNotImplemented},
	{codes.Unavailable, http.StatusServiceUnavailable},
	{codes.DeadlineExceeded, http.StatusGatewayTimeout},
}

// statusOnlyCodes give the gRPC code of HTTP statuses that only the HTTP
// layer produces (no gRPC code maps to them).
var statusOnlyCodes = map[int]codes.Code{
	http.StatusMethodNotAllowed:            codes.Unimplemented,
	http.StatusRequestTimeout:              codes.DeadlineExceeded,
	http.StatusRequestEntityTooLarge:       codes.ResourceExhausted,
	http.StatusRequestHeaderFieldsTooLarge: codes.ResourceExhausted,
	http.StatusUnsupportedMediaType:        codes.InvalidArgument,
	http.StatusBadGateway:                  codes.Unavailable,
	http.StatusHTTPVersionNotSupported:     codes.Unimplemented,
}

// HTTPStatus returns the HTTP status GoMs answers for an error with gRPC
// code c (see the table in the README). Codes outside the table give 500.
func HTTPStatus(c codes.Code) int {
	for _, e := range statusOfCode {
		if e.code == c {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// CodeOf returns the gRPC code GoMs gives an HTTP status: the first code
// mapped to it, or for statuses no code maps to, 405 Unimplemented, 408
// DeadlineExceeded, 413 and 431 ResourceExhausted, 415 InvalidArgument, 502
// Unavailable, 505 Unimplemented; any other 4xx is InvalidArgument, anything else Unknown.
func CodeOf(httpStatus int) codes.Code {
	for _, e := range statusOfCode {
		if e.status == httpStatus {
			return e.code
		}
	}
	if c, ok := statusOnlyCodes[httpStatus]; ok {
		return c
	}
	if httpStatus >= 400 && httpStatus < 500 {
		return codes.InvalidArgument
	}
	return codes.Unknown
}

// errorHandler writes every error of the HTTP gateway as a google.rpc.Status
// JSON body ({"code":…,"message":…,"details":[…]}) with the HTTP status of
// the table. Errors in the request itself (see [inputErrorOf]) take the
// place of whatever the call reported after them.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	var httpStatus int
	if ie := inputErrorOf(ctx); ie != nil {
		httpStatus, err = ie.status, ie.err
	} else {
		httpStatus = HTTPStatus(status.Code(err))
	}
	// grpc-gateway's handler writes the body, headers and trailers; only
	// the status line is ours.
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, &statusWriter{ResponseWriter: w, status: httpStatus}, r, err)
}

// streamErrorHandler gives the status of an error in the middle of a
// server stream; an error in the request's own body wins, as in
// [errorHandler].
func streamErrorHandler(ctx context.Context, err error) *status.Status {
	if ie := inputErrorOf(ctx); ie != nil {
		err = ie.err
	}
	return status.Convert(err)
}

// gatewayMarshaler is the HTTP gateway's JSON marshaler: grpc-gateway's
// default (JSONPb in an HTTPBodyMarshaler), with three changes.
//
//   - The error line of a server stream is the flat google.rpc.Status body
//     of every other HTTP error ({"code":…,"message":…,"details":[…]})
//     instead of grpc-gateway's {"error":{…}}, so that one error body
//     holds for streams too. Messages stay {"result":{…}} lines.
//   - Messages are marshalled by protojson straight, without JSONPb's
//     copy of the result into a bytes.Buffer (same bytes).
//   - Request bodies are decoded by [requestBody.Decode], which mostly
//     skips the encoding/json pass JSONPb makes over every message, and
//     fails the request when a message does not decode.
type gatewayMarshaler struct {
	*runtime.HTTPBodyMarshaler
	json *runtime.JSONPb
}

// newMarshaler returns the gateway's marshaler: grpc-gateway's defaults
// (unpopulated fields emitted), and JSON fields and enum names the proto
// does not declare refused unless discardUnknown.
func newMarshaler(discardUnknown bool) runtime.Marshaler {
	j := &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: discardUnknown},
	}
	return gatewayMarshaler{&runtime.HTTPBodyMarshaler{Marshaler: j}, j}
}

// Marshal marshals messages with protojson and unwraps grpc-gateway's
// {"error": status} stream chunk.
func (m gatewayMarshaler) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case *httpbody.HttpBody:
		return v.GetData(), nil
	case proto.Message:
		return m.json.MarshalOptions.Marshal(v)
	case map[string]proto.Message:
		if st, ok := v["error"]; ok && len(v) == 1 {
			return m.json.MarshalOptions.Marshal(st)
		}
	}
	return m.HTTPBodyMarshaler.Marshal(v)
}

// NewDecoder returns the decoder of a request body (see [requestBody]), or
// grpc-gateway's decoder for any other reader.
func (m gatewayMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	if b, ok := r.(*requestBody); ok && b.m.json == nil {
		b.m = m
		return b
	}
	return m.HTTPBodyMarshaler.NewDecoder(r)
}

// routingErrorHandler answers requests that match no route (404, 405) with
// the same JSON body as every other error.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	err := status.Error(CodeOf(httpStatus), http.StatusText(httpStatus))
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, &statusWriter{ResponseWriter: w, status: httpStatus}, r, err)
}

// writeError writes err as the JSON error body outside the gateway (for
// example for the body limit before routing).
func writeError(w http.ResponseWriter, r *http.Request, httpStatus int, err error) {
	_, m := runtime.MarshalerForRequest(defaultMux, r)
	runtime.DefaultHTTPErrorHandler(r.Context(), defaultMux, m, &statusWriter{ResponseWriter: w, status: httpStatus}, r, err)
}

// defaultMux supplies grpc-gateway's default marshalers to writeError, so
// that its bodies are byte for byte those of the gateway.
var defaultMux = runtime.NewServeMux()

// statusWriter replaces the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(int) { w.ResponseWriter.WriteHeader(w.status) }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
