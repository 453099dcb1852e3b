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

// GreeterService implements mains.GreeterServiceServer.
//
// GreeterService greets. Its mains are built and run by the tests.
type GreeterService struct {
	mains.UnimplementedGreeterServiceServer
}

// NewGreeterService returns the GreeterService implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewGreeterService(s *goms.Server) (*GreeterService, error) {
	return &GreeterService{}, nil
}

// SayHello implements the SayHello method.
//
// SayHello greets one person.
func (*GreeterService) SayHello(ctx context.Context, req *mains.HelloRequest) (*mains.HelloResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method SayHello not implemented")
}

// SayHellos implements the SayHellos method.
//
// SayHellos greets one person several times.
func (*GreeterService) SayHellos(req *mains.HelloRequest, stream mains.GreeterService_SayHellosServer) error {
	return status.Error(codes.Unimplemented, "method SayHellos not implemented")
}

// Gather implements the Gather method.
//
// Gather greets everyone it is sent.
func (*GreeterService) Gather(stream mains.GreeterService_GatherServer) error {
	return status.Error(codes.Unimplemented, "method Gather not implemented")
}

// Chat implements the Chat method.
//
// Chat greets each as they come.
func (*GreeterService) Chat(stream mains.GreeterService_ChatServer) error {
	return status.Error(codes.Unimplemented, "method Chat not implemented")
}
