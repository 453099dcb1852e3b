// Code generated once by goms skeleton from implpkg/audit/audit.proto; edit it freely:
// goms skeleton never overwrites an existing file.

package audit

import (
	context "context"
	goms "github.com/goms-io/goms"
	audit "github.com/goms-io/goms/internal/gen/testdata/implpkg/audit"
	codes "google.golang.org/grpc/codes"
	status "google.golang.org/grpc/status"
)

// AuditService implements audit.AuditServiceServer.
//
// AuditService is implemented in package implpkg/impl/audit, apart from
// TodoService: its server main calls audit.NewAuditService.
type AuditService struct {
	audit.UnimplementedAuditServiceServer
}

// NewAuditService returns the AuditService implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewAuditService(s *goms.Server) (*AuditService, error) {
	return &AuditService{}, nil
}

// ListEvents implements the ListEvents method.
//
// ListEvents lists what happened.
func (*AuditService) ListEvents(ctx context.Context, req *audit.ListEventsRequest) (*audit.ListEventsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method ListEvents not implemented")
}
