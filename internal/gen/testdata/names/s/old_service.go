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

// OldService implements names.OldServiceServer.
//
// OldService is deprecated, and so is one of its methods.
//
// Deprecated: Do not use.
type OldService struct {
	names.UnimplementedOldServiceServer
}

// NewOldService returns the OldService implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewOldService(s *goms.Server) (*OldService, error) {
	return &OldService{}, nil
}

// Old implements the Old method.
//
// Old is deprecated.
//
// Deprecated: Do not use.
func (*OldService) Old(ctx context.Context, req *names.Msg) (*names.Msg, error) {
	return nil, status.Error(codes.Unimplemented, "method Old not implemented")
}

// Current implements the Current method.
//
// Current is not.
func (*OldService) Current(ctx context.Context, req *names.Msg) (*names.Msg, error) {
	return nil, status.Error(codes.Unimplemented, "method Current not implemented")
}
