package goms

import (
	"context"
	"errors"
	"fmt"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Service is one protobuf service as a [Server] hosts it. Generated
// Register functions build it; user code rarely needs to.
type Service struct {
	// Desc is grpc-go's description of the service, the generated
	// <Service>_ServiceDesc.
	Desc *grpc.ServiceDesc
	// Impl implements the service. It may be nil only for a server in
	// [ModeHTTP], which proxies to a remote implementation.
	Impl any
	// Descriptor is the protobuf descriptor of the service. Optional; when
	// set, its full name must match Desc.ServiceName.
	Descriptor protoreflect.ServiceDescriptor
	// Gateway registers the service's google.api.http routes on an HTTP
	// gateway mux. Nil when the service has no HTTP rules.
	Gateway GatewayFunc
	// OpenAPI is the OpenAPI 3.1 fragment of the service's HTTP routes
	// (JSON: tags, paths, components.schemas), which
	// protoc-gen-goms writes from the protos and their comments. The
	// server merges the fragments of the services it routes into the
	// document it serves at [HTTPConfig.OpenAPIPath]. Optional.
	OpenAPI string

	// grpcOnly marks a service added through [Server.RegisterService],
	// that is by grpc-go's generated Register<Service>Server.
	grpcOnly bool
}

// GatewayFunc registers a service's HTTP routes on mux; each route calls
// the service through conn. See [Gateway].
type GatewayFunc func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error

// Gateway adapts grpc-gateway's generated Register<Service>HandlerClient
// function and grpc-go's generated New<Service>Client constructor into a
// [GatewayFunc]:
//
//	goms.Gateway(RegisterGreeterHandlerClient, NewGreeterClient)
func Gateway[C any](register func(context.Context, *runtime.ServeMux, C) error, newClient func(grpc.ClientConnInterface) C) GatewayFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return register(ctx, mux, newClient(conn))
	}
}

// Registrar accepts services. [*Server] implements it; generated
// Register<Service> functions take one.
type Registrar interface {
	// Register adds svc. Errors in svc are reported when serving starts.
	Register(svc Service)
}

// ConnProvider gives connections to services by fully-qualified name.
// [*Server] implements it (see [Server.Conn]); generated
// New<Service>ClientFrom functions take one.
type ConnProvider interface {
	Conn(service string) grpc.ClientConnInterface
}

// name returns the service's full name for messages.
func (s Service) name() string {
	if s.Desc != nil {
		return s.Desc.ServiceName
	}
	if s.Descriptor != nil {
		return string(s.Descriptor.FullName())
	}
	return "<unnamed>"
}

// lostRoutes reports whether svc came through grpc-go's registration
// although its protos declare HTTP routes, which it then goes without.
func (s Service) lostRoutes() bool {
	if !s.grpcOnly || s.Gateway != nil {
		return false
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(s.Desc.ServiceName))
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if err != nil || !ok {
		return false
	}
	for i := range sd.Methods().Len() {
		if proto.HasExtension(sd.Methods().Get(i).Options(), annotations.E_Http) {
			return true
		}
	}
	return false
}

// check reports what is wrong with svc; hosted says whether this process
// serves it itself.
func (s Service) check(hosted bool) error {
	switch {
	case s.Desc == nil:
		return errors.New("service has no grpc.ServiceDesc")
	case s.Descriptor != nil && string(s.Descriptor.FullName()) != s.Desc.ServiceName:
		return fmt.Errorf("descriptor %q does not match grpc.ServiceDesc %q", s.Descriptor.FullName(), s.Desc.ServiceName)
	case s.Impl == nil && hosted:
		return fmt.Errorf("no implementation (nil is accepted only in mode %q or when another process serves it, see serve)", ModeHTTP)
	}
	return nil
}
