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
	names serviceNames
	// http reports whether the service gets HTTP gateway routes: some
	// method has a google.api.http rule and the http parameter is on.
	http       bool
	deprecated bool
}

func newFileInfo(f *protogen.File, p Params) *fileInfo {
	info := &fileInfo{File: f}
	for _, s := range f.Services {
		info.services = append(info.services, &serviceInfo{
			Service:    s,
			names:      newServiceNames(s),
			http:       p.HTTP && hasHTTPRule(s),
			deprecated: s.Desc.Options().(*descriptorpb.ServiceOptions).GetDeprecated(),
		})
	}
	return info
}

// hasHTTPRule reports whether any method of s carries a google.api.http
// option; protoc-gen-grpc-gateway emits Register<Svc>HandlerClient exactly
// for such services.
func hasHTTPRule(s *protogen.Service) bool {
	for _, m := range s.Methods {
		if proto.HasExtension(m.Desc.Options(), annotations.E_Http) {
			return true
		}
	}
	return false
}
