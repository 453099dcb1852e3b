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

// SnakeCaseService implements names.SnakeCaseServiceServer.
//
// snake_case_service is not in CamelCase.
type SnakeCaseService struct {
	names.UnimplementedSnakeCaseServiceServer
}

// NewSnakeCaseService returns the snake_case_service implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewSnakeCaseService(s *goms.Server) (*SnakeCaseService, error) {
	return &SnakeCaseService{}, nil
}

// GetThing implements the get_thing method.
//
// get_thing is not either.
func (*SnakeCaseService) GetThing(ctx context.Context, req *names.Msg) (*names.Msg, error) {
	return nil, status.Error(codes.Unimplemented, "method get_thing not implemented")
}

// WatchThings implements the watch_things method.
//
// watch_things is a server stream: GoMs's stream encoder is assigned to
// grpc-gateway's forward_ variable under its Go name.
func (*SnakeCaseService) WatchThings(req *names.Msg, stream names.SnakeCaseService_WatchThingsServer) error {
	return status.Error(codes.Unimplemented, "method watch_things not implemented")
}
