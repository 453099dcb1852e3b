// Code generated once by goms skeleton from names/names.proto; edit it freely:
// goms skeleton never overwrites an existing file.

package s

import (
	context "context"
	goms "github.com/goms-io/goms"
	names "github.com/goms-io/goms/internal/gen/testdata/names"
	codes "google.golang.org/grpc/codes"
	status "google.golang.org/grpc/status"
)

// HTTPThing implements names.HTTPThingServer.
//
// HTTPThing starts with an initialism.
type HTTPThing struct {
	names.UnimplementedHTTPThingServer
}

// NewHTTPThing returns the HTTPThing implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewHTTPThing(s *goms.Server) (*HTTPThing, error) {
	return &HTTPThing{}, nil
}

// GetHTTPThing implements the GetHTTPThing method.
//
// GetHTTPThing too.
func (*HTTPThing) GetHTTPThing(ctx context.Context, req *names.Msg) (*names.Msg, error) {
	return nil, status.Error(codes.Unimplemented, "method GetHTTPThing not implemented")
}
