package gen

import "google.golang.org/protobuf/compiler/protogen"

// serviceNames holds every Go identifier the generated code declares or
// refers to for one service, so that naming is decided in one place.
type serviceNames struct {
	// Declared by protoc-gen-goms.
	Name     string // const <Svc>Name: the fully-qualified service name
	Register string // func Register<Svc>: the registration glue

	// Declared by protoc-gen-go-grpc in the same package.
	ServiceDesc string // <Svc>_ServiceDesc
	Server      string // <Svc>Server interface
	NewClient   string // New<Svc>Client

	// Declared by protoc-gen-grpc-gateway in the same package.
	RegisterHandlerClient string // Register<Svc>HandlerClient
}

func newServiceNames(s *protogen.Service) serviceNames {
	svc := s.GoName
	return serviceNames{
		Name:                  svc + "Name",
		Register:              "Register" + svc,
		ServiceDesc:           svc + "_ServiceDesc",
		Server:                svc + "Server",
		NewClient:             "New" + svc + "Client",
		RegisterHandlerClient: "Register" + svc + "HandlerClient",
	}
}
