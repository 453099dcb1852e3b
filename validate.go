package goms

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// A Validator gives the check of a request type: for md, the function that
// returns nil for a valid message of that type and a status error
// (codes.InvalidArgument with its details) for an invalid one; a nil
// function when md carries no rules, so its calls cost nothing. The error
// is for rules that cannot be checked at all (they do not compile): then
// [Server.Start] fails.
type Validator func(md protoreflect.MessageDescriptor) (check func(proto.Message) error, err error)

// validators holds the Validator that package
// github.com/goms-io/goms/validate registers from its init; nil when the
// program does not link it.
var validators struct {
	sync.Mutex
	v Validator
}

// RegisterValidator makes v check the requests of every method whose
// request type carries rules, on every transport: gRPC, HTTP and
// in-process calls, unary requests and each message of a stream, before
// the handler (after the telemetry and the user's interceptors). Programs
// do not call it: package github.com/goms-io/goms/validate registers
// protovalidate from its init, and the code protoc-gen-goms generates for
// protos with buf.validate rules imports that package. The setting
// grpc.validate turns the checks off. A later registration replaces an
// earlier one; servers started before keep theirs.
func RegisterValidator(v Validator) {
	validators.Lock()
	defer validators.Unlock()
	validators.v = v
}

// registeredValidator returns the registered Validator, nil if none.
func registeredValidator() Validator {
	validators.Lock()
	defer validators.Unlock()
	return validators.v
}

// checks are the interceptors that check requests; nil when nothing is
// checked.
type checks struct {
	unary  grpc.UnaryServerInterceptor
	stream grpc.StreamServerInterceptor
}

// validation returns the interceptors that check the requests of the
// hosted methods whose request types carry rules; nil ones when no
// Validator is registered, grpc.validate is off or no method has rules.
func (s *Server) validation() (checks, error) {
	v := registeredValidator()
	if v == nil || !s.cfg.GRPC.Validate {
		return checks{}, nil
	}
	byMethod := make(map[string]func(proto.Message) error)
	for _, svc := range s.services {
		if !s.hosted(svc.name()) {
			continue
		}
		sd := svc.Descriptor
		if sd == nil {
			d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc.Desc.ServiceName))
			if err != nil {
				continue // no descriptor linked: nothing to check against
			}
			var ok bool
			if sd, ok = d.(protoreflect.ServiceDescriptor); !ok {
				continue
			}
		}
		for i := range sd.Methods().Len() {
			m := sd.Methods().Get(i)
			check, err := v(m.Input())
			if err != nil {
				return checks{}, fmt.Errorf("goms: service %s: method %s: request %s: %w", svc.name(), m.Name(), m.Input().FullName(), err)
			}
			if check != nil {
				byMethod["/"+svc.name()+"/"+string(m.Name())] = check
			}
		}
	}
	if len(byMethod) == 0 {
		return checks{}, nil
	}
	return checks{unary: validateUnary(byMethod), stream: validateStream(byMethod)}, nil
}

// validateUnary checks the request of a unary call before the handler.
func validateUnary(checks map[string]func(proto.Message) error) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if check := checks[info.FullMethod]; check != nil {
			if m, ok := req.(proto.Message); ok {
				if err := check(m); err != nil {
					return nil, err
				}
			}
		}
		return handler(ctx, req)
	}
}

// validateStream checks every message a stream receives, as the handler
// receives it: an invalid one ends the handler's RecvMsg with the check's
// error, which the handler returns.
func validateStream(checks map[string]func(proto.Message) error) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if check := checks[info.FullMethod]; check != nil {
			ss = validatedStream{ServerStream: ss, check: check}
		}
		return handler(srv, ss)
	}
}

// validatedStream is a server stream whose received messages are checked.
type validatedStream struct {
	grpc.ServerStream
	check func(proto.Message) error
}

// RecvMsg receives m and checks it.
func (s validatedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		return s.check(pm)
	}
	return nil
}
