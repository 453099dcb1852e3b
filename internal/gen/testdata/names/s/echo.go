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

// Echo implements names.EchoServer.
//
// Echo's <Svc>Name and Register<Svc> are taken by messages below:
// protoc-gen-goms appends "_".
type Echo struct {
	names.UnimplementedEchoServer
}

// NewEcho returns the Echo implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewEcho(s *goms.Server) (*Echo, error) {
	return &Echo{}, nil
}

// Say implements the Say method.
//
// Say says.
func (*Echo) Say(ctx context.Context, req *names.Msg) (*names.Msg, error) {
	return nil, status.Error(codes.Unimplemented, "method Say not implemented")
}
