// Package validate checks the requests of GoMs services against the
// buf.validate rules in their protos, with protovalidate, on every
// transport: gRPC, HTTP/JSON and in-process calls, unary requests and each
// message of a stream, before the handler. An invalid request fails with
// codes.InvalidArgument (HTTP 400) and a google.rpc.BadRequest detail
// listing its field violations.
//
// Importing the package is all it takes: its init registers protovalidate
// with [goms.RegisterValidator]. The code protoc-gen-goms generates for a
// proto whose requests carry rules imports it, so services with rules are
// checked without code, and programs without rules link none of
// protovalidate (nor its CEL interpreter). Methods whose request types
// carry no rules are not checked at all. The setting grpc.validate turns
// the checks off.
package validate

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/goms-io/goms"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

func init() { goms.RegisterValidator(Check) }

// validator is the process's one protovalidate validator: it builds the
// evaluator of each message type once, on first use, and caches it.
var validator = sync.OnceValues(func() (protovalidate.Validator, error) { return protovalidate.New() })

// Check is the [goms.Validator] the package registers: for a request type
// md that carries rules (on itself, its fields, its oneofs, or on the
// message types its fields hold, at any depth), a check by protovalidate;
// nil for one without rules. It builds md's evaluator now, so that the
// first call pays nothing more than the others, and returns an error if
// md's rules do not compile.
func Check(md protoreflect.MessageDescriptor) (func(proto.Message) error, error) {
	if !HasRules(md) {
		return nil, nil
	}
	v, err := validator()
	if err != nil {
		return nil, err
	}
	var zero proto.Message
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && mt.Descriptor() == md {
		zero = mt.New().Interface()
	} else {
		zero = dynamicpb.NewMessage(md)
	}
	var ce *protovalidate.CompilationError
	if err := v.Validate(zero); errors.As(err, &ce) {
		return nil, fmt.Errorf("buf.validate rules: %w", err)
	}
	return func(m proto.Message) error { return statusOf(v.Validate(m)) }, nil
}

// statusOf is the status error of err, what protovalidate's Validate
// returned: codes.InvalidArgument with a google.rpc.BadRequest of the
// violations for a request that breaks its rules, codes.Internal for a
// rule that failed to run (its request is not at fault).
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return status.Error(codes.Internal, "request validation failed: "+err.Error())
	}
	br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, 0, len(ve.Violations))}
	var msg strings.Builder
	msg.WriteString("invalid request: ")
	for i, v := range ve.Violations {
		fv := &errdetails.BadRequest_FieldViolation{
			Field:       protovalidate.FieldPathString(v.Proto.GetField()),
			Description: v.Proto.GetMessage(),
			Reason:      v.Proto.GetRuleId(),
		}
		if fv.Description == "" {
			fv.Description = "breaks rule " + fv.Reason
		}
		br.FieldViolations = append(br.FieldViolations, fv)
		if i > 0 {
			msg.WriteString("; ")
		}
		if fv.Field != "" {
			msg.WriteString(fv.Field)
			msg.WriteString(": ")
		}
		msg.WriteString(fv.Description)
	}
	st, err := status.New(codes.InvalidArgument, msg.String()).WithDetails(br)
	if err != nil {
		return status.Error(codes.InvalidArgument, msg.String())
	}
	return st.Err()
}

// HasRules reports whether protovalidate has anything to check in a
// message of type md: buf.validate options on md, on one of its fields
// or oneofs, or on a message type one of its fields holds (directly, in
// a list or as a map value), at any depth.
func HasRules(md protoreflect.MessageDescriptor) bool {
	return hasRules(md, make(map[protoreflect.FullName]bool))
}

// hasRules is HasRules, with the message types already visited.
func hasRules(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	if hasExtension(md.Options(), validate.E_Message) {
		return true
	}
	for i := range md.Oneofs().Len() {
		if hasExtension(md.Oneofs().Get(i).Options(), validate.E_Oneof) {
			return true
		}
	}
	for i := range md.Fields().Len() {
		f := md.Fields().Get(i)
		if hasExtension(f.Options(), validate.E_Field) {
			return true
		}
		if f.IsMap() {
			f = f.MapValue()
		}
		if f.Message() != nil && hasRules(f.Message(), seen) {
			return true
		}
	}
	return false
}

// hasExtension reports whether options has xt set, also when it is among
// the unknown fields: options decoded before protovalidate's types were
// registered (a descriptor built at run time from a resolver without
// them) hold the rules as unknown fields.
func hasExtension(options proto.Message, xt protoreflect.ExtensionType) bool {
	if proto.HasExtension(options, xt) {
		return true
	}
	m := options.ProtoReflect()
	if !m.IsValid() || len(m.GetUnknown()) == 0 {
		return false
	}
	again := m.New().Interface()
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(m.GetUnknown(), again); err != nil {
		return false
	}
	return proto.HasExtension(again, xt)
}
