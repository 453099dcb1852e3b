// Package protoreq compiles .proto files in-process into the
// CodeGeneratorRequest protoc or buf would send a plugin, with source info
// (comments) kept. The goms command, the generator's tests and its corpus
// test use it, so none of them needs protoc.
package protoreq

import (
	"context"
	"fmt"

	"github.com/bufbuild/protocompile"
	_ "google.golang.org/genproto/googleapis/api/annotations" // google/api/{annotations,http}.proto when no import path has them
	_ "google.golang.org/genproto/googleapis/api/httpbody"    // google/api/httpbody.proto, likewise
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/pluginpb"
)

// Compile parses files (paths relative to one of importPaths) and returns
// the request for them with parameter. Imports resolve against importPaths,
// then protoc's standard imports (google/protobuf/*.proto), then the files
// linked into this binary (google/api/annotations.proto and http.proto).
// The request went through the wire format once, so options decode into
// the registered Go types as in a real plugin.
func Compile(ctx context.Context, importPaths []string, parameter string, files ...string) (*pluginpb.CodeGeneratorRequest, error) {
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{ImportPaths: importPaths},
			protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
				fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
				return protocompile.SearchResult{Desc: fd}, err
			}),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(ctx, files...)
	if err != nil {
		return nil, err
	}
	fds := make([]protoreflect.FileDescriptor, len(compiled))
	for i, fd := range compiled {
		fds[i] = fd
	}
	return Request(parameter, files, fds)
}

// Request returns the request that generates files (paths of fds), with
// every dependency of fds listed before its dependents, as protoc orders
// them.
func Request(parameter string, files []string, fds []protoreflect.FileDescriptor) (*pluginpb.CodeGeneratorRequest, error) {
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate:  files,
		CompilerVersion: nil, // the goldens say "(unknown)", as under buf
	}
	if parameter != "" {
		req.Parameter = proto.String(parameter)
	}
	seen := make(map[string]bool)
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range fds {
		add(fd)
	}
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	req = new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(data, req); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	return req, nil
}
