package gen

import (
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// fileInfo is a proto file plus what the generator derives from it before
// printing anything.
type fileInfo struct {
	*protogen.File
	services []*serviceInfo
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
	// openAPI is the service's OpenAPI fragment (compact JSON), or ""
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
	return info
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

// hasPattern reports whether the gateway makes a binding of rule.
func hasPattern(rule *annotations.HttpRule) bool {
	switch {
	case rule.GetGet() != "", rule.GetPut() != "", rule.GetPost() != "",
		rule.GetDelete() != "", rule.GetPatch() != "", rule.GetCustom() != nil:
		return true
	}
	return false
}
