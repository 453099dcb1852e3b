package gateway

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"
)

// PublicError returns err as a client may see it, for the front ends
// that call services outside the gateway's routes (the MCP tools): an
// error of the connection to the upstream, whose text names addresses,
// becomes UNAVAILABLE naming the condition (the log keeps the text), and
// a long message is cut at [MaxMessageBytes]; details are kept.
func PublicError(ctx context.Context, log *slog.Logger, err error) error {
	if isTransportError(err) {
		return upstreamUnavailable(ctx, log, err)
	}
	return capMessage(err)
}

// CodeOf is the gRPC code of an HTTP error status, the inverse of
// grpc-gateway's HTTPStatusFromCode, for the front ends that write the
// error bodies of other handlers (the MCP endpoint).
func CodeOf(httpStatus int) codes.Code { return codeOf(httpStatus) }
