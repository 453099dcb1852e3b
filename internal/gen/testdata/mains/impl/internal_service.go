// Code generated once by goms skeleton from mains/mains.proto; edit it freely:
// goms skeleton never overwrites an existing file.

package impl

import (
	context "context"
	goms "github.com/goms-io/goms"
	mains "github.com/goms-io/goms/internal/gen/testdata/mains"
	codes "google.golang.org/grpc/codes"
	status "google.golang.org/grpc/status"
)

// InternalService implements mains.InternalServiceServer.
//
// InternalService has no HTTP rules: it gets a server main only.
type InternalService struct {
	mains.UnimplementedInternalServiceServer
}

// NewInternalService returns the InternalService implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewInternalService(s *goms.Server) (*InternalService, error) {
	return &InternalService{}, nil
}

// Reload implements the Reload method.
//
// Reload reloads.
func (*InternalService) Reload(ctx context.Context, req *mains.HelloRequest) (*mains.HelloResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method Reload not implemented")
}
