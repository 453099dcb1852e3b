// Code generated once by goms skeleton from implpkg/todo/todo.proto; edit it freely:
// goms skeleton never overwrites an existing file.

package todo

import (
	context "context"
	goms "github.com/goms-io/goms"
	todo "github.com/goms-io/goms/internal/gen/testdata/implpkg/todo"
	codes "google.golang.org/grpc/codes"
	status "google.golang.org/grpc/status"
)

// TodoService implements todo.TodoServiceServer.
//
// TodoService is implemented in package implpkg/impl/todo, apart from
// AuditService: its server main calls todo.NewTodoService.
type TodoService struct {
	todo.UnimplementedTodoServiceServer
}

// NewTodoService returns the TodoService implementation. Generated
// mains call it with the server, whose LocalConn and Dial reach other services.
func NewTodoService(s *goms.Server) (*TodoService, error) {
	return &TodoService{}, nil
}

// GetTodo implements the GetTodo method.
//
// GetTodo returns one item.
func (*TodoService) GetTodo(ctx context.Context, req *todo.GetTodoRequest) (*todo.Todo, error) {
	return nil, status.Error(codes.Unimplemented, "method GetTodo not implemented")
}
