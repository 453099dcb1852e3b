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

// EchoServer implements names.EchoServerServer.
//
// EchoServer's Register<Svc> would be go-grpc's RegisterEchoServer of Echo.
type EchoServer struct {
	names.UnimplementedEchoServerServer
}

// NewEchoServer returns the EchoServer implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewEchoServer(s *goms.Server) (*EchoServer, error) {
	return &EchoServer{}, nil
}

// Say implements the Say method.
//
// Say says.
func (*EchoServer) Say(ctx context.Context, req *names.Msg) (*names.Msg, error) {
	return nil, status.Error(codes.Unimplemented, "method Say not implemented")
}
