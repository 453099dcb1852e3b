package gen

import (
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// fileInfo is a proto file plus what the generator derives from it before
// printing anything.
type fileInfo struct {
	*protogen.File
	services []*serviceInfo
	// validated reports whether a request of the file's methods may carry
	// buf.validate rules: its message type, or one its fields hold, at any
	// depth, is declared in a file that imports buf/validate/validate.proto.
	validated bool
}

// serviceInfo is a service plus its generated names and HTTP facts.
type serviceInfo struct {
	*protogen.Service
	names *serviceNames
	// http reports whether the service gets HTTP gateway routes:
	// protoc-gen-grpc-gateway emits Register<Svc>HandlerClient for it and
	// the http parameter is on.
	http       bool
	deprecated bool
	// openAPI is the service's OpenAPI fragment (indented JSON), or ""
	// when it has no HTTP routes.
	openAPI string
}

func newFileInfo(f *protogen.File, p Params, names nameTable) *fileInfo {
	info := &fileInfo{File: f}
	for _, s := range f.Services {
		si := &serviceInfo{
			Service:    s,
			names:      names[s],
			http:       p.HTTP && gatewayRegisters(s, p.GenerateUnboundMethods),
			deprecated: s.Desc.Options().(*descriptorpb.ServiceOptions).GetDeprecated(),
		}
		si.openAPI = openAPIFragment(si, p)
		info.services = append(info.services, si)
	}
	info.validated = requestsImport(f, validateProto)
	return info
}

// validateProto is the file that declares protovalidate's rules.
const validateProto = "buf/validate/validate.proto"

// requestsImport reports whether a request type of f's methods, or a
// message type its fields hold at any depth, is declared in a file that
// imports path.
func requestsImport(f *protogen.File, path string) bool {
	seen := make(map[protoreflect.FullName]bool)
	var visit func(md protoreflect.MessageDescriptor) bool
	visit = func(md protoreflect.MessageDescriptor) bool {
		if seen[md.FullName()] {
			return false
		}
		seen[md.FullName()] = true
		imports := md.ParentFile().Imports()
		for i := range imports.Len() {
			if imports.Get(i).Path() == path {
				return true
			}
		}
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			if fd.IsMap() {
				fd = fd.MapValue()
			}
			if fd.Message() != nil && visit(fd.Message()) {
				return true
			}
		}
		return false
	}
	for _, s := range f.Services {
		for _, m := range s.Methods {
			if visit(m.Input.Desc) {
				return true
			}
		}
	}
	return false
}

// methodDeprecated reports whether m is marked deprecated in the .proto.
func methodDeprecated(m *protogen.Method) bool {
	return m.Desc.Options().(*descriptorpb.MethodOptions).GetDeprecated()
}

// gatewayRegisters reports whether protoc-gen-grpc-gateway emits
// Register<Svc>HandlerClient for s. It mirrors the gateway's generator: a
// service gets one when at least one of its methods has at least one
// binding. A method's bindings are its google.api.http rule and that
// rule's additional_bindings, each counted only when it has a pattern
// (get, put, post, delete, patch with a non-empty path, or custom); a method
// without the option gets the default POST binding when
// generate_unbound_methods is set. All four kinds of RPC bind: the gateway
// streams server responses and request bodies. (Rules from a
// grpc_api_configuration file are invisible here: see the README.)
func gatewayRegisters(s *protogen.Service, unbound bool) bool {
	for _, m := range s.Methods {
		opts := m.Desc.Options()
		if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
			if unbound {
				return true
			}
			continue
		}
		rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
		if hasPattern(rule) {
			return true
		}
		for _, b := range rule.GetAdditionalBindings() {
			if hasPattern(b) {
				return true
			}
		}
	}
	return false
}

// gatewayBindings returns how many HTTP bindings protoc-gen-grpc-gateway
// makes of m, numbered 0 to n-1 in its generated names: as in
// [gatewayRegisters], the rule and its additional_bindings that have a
// pattern, or the default binding of an unbound method when unbound is
// set.
func gatewayBindings(m *protogen.Method, unbound bool) int {
	opts := m.Desc.Options()
	if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
		if unbound {
			return 1
		}
		return 0
	}
	rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	n := 0
	if hasPattern(rule) {
		n++
	}
	for _, b := range rule.GetAdditionalBindings() {
		if hasPattern(b) {
			n++
		}
	}
	return n
}

// hasPattern reports whether the gateway makes a binding of rule.
func hasPattern(rule *annotations.HttpRule) bool {
	switch {
	case rule.GetGet() != "", rule.GetPut() != "", rule.GetPost() != "",
		rule.GetDelete() != "", rule.GetPatch() != "", rule.GetCustom() != nil:
		return true
	}
	return false
}
