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

// Func implements names.FuncServer.
//
// func is a Go keyword, and so are its methods' names.
type Func struct {
	names.UnimplementedFuncServer
}

// NewFunc returns the func implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewFunc(s *goms.Server) (*Func, error) {
	return &Func{}, nil
}

// Go implements the go method.
//
// go is a keyword.
func (*Func) Go(ctx context.Context, req *names.Msg) (*names.Msg, error) {
	return nil, status.Error(codes.Unimplemented, "method go not implemented")
}

// Type implements the type method.
//
// type is a keyword.
func (*Func) Type(ctx context.Context, req *names.Msg) (*names.Msg, error) {
	return nil, status.Error(codes.Unimplemented, "method type not implemented")
}
