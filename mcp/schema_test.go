package mcp_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/types"
	"github.com/goms-io/goms/mcp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// schemaOf returns the input schema of the tool of method of sd, as JSON.
func schemaOf(t *testing.T, spec goms.MCPSpec, name string) string {
	t.Helper()
	tools, err := mcp.Tools(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		if tool.Tool.Name == name {
			b, err := json.Marshal(tool.Tool.InputSchema)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("no tool %s", name)
	return ""
}

// TestSchemaTypes checks the protojson shapes of scalar, enum and repeated
// fields.
func TestSchemaTypes(t *testing.T) {
	sd := types.File_fixtures_types_types_proto.Services().Get(0)
	got := schemaOf(t, goms.MCPSpec{Tools: []string{"fixtures.types.TypesService"}, Services: []goms.MCPService{{Descriptor: sd}}}, "fixtures_types_TypesService_Put")
	for _, want := range []string{
		`"id":{"format":"int64","type":["integer","string"]}`,
		`"color":{"enum":["COLOR_UNSPECIFIED","COLOR_RED","COLOR_GREEN"],"type":"string"}`,
		`"size":{"format":"uint64","type":["integer","string"]}`,
		`"flag":{"type":"boolean"}`,
		`"tags":{"items":{"type":"string"},"type":"array"}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("schema lacks %s:\n%s", want, got)
		}
	}
}

// TestSchemaShapes checks maps, well-known types and recursion, and that
// a method whose request is no JSON object (a wrapper) is left out of a
// service, or refused when named.
func TestSchemaShapes(t *testing.T) {
	msg := func(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
	}
	field := func(name string, n int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, label descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), JsonName: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(), Label: label.Enum()}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	opt, rep := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	entry := msg("LabelsEntry",
		field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", opt),
		field("value", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", opt))
	entry.Options = &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}
	node := msg("Node",
		field("at", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".google.protobuf.Timestamp", opt),
		field("labels", 2, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".t.Node.LabelsEntry", rep),
		field("child", 3, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".t.Node", opt))
	node.NestedType = []*descriptorpb.DescriptorProto{entry}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("t/t.proto"), Package: proto.String("t"), Syntax: proto.String("proto3"),
		Dependency:  []string{"google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto"},
		MessageType: []*descriptorpb.DescriptorProto{node},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("S"), Method: []*descriptorpb.MethodDescriptorProto{
			{Name: proto.String("Walk"), InputType: proto.String(".t.Node"), OutputType: proto.String(".t.Node")},
			{Name: proto.String("Wrap"), InputType: proto.String(".google.protobuf.StringValue"), OutputType: proto.String(".t.Node")},
		}}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	sd := fd.Services().Get(0)
	services := []goms.MCPService{{Descriptor: sd}}
	got := schemaOf(t, goms.MCPSpec{Tools: []string{"t.S"}, Services: services}, "t_S_Walk")
	for _, want := range []string{
		`"at":{"format":"date-time","type":"string"}`,
		`"labels":{"additionalProperties":{"format":"int32","type":"integer"},"type":"object"}`,
		`"child":{"description":"A t.Node (recursive).","type":"object"}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("schema lacks %s:\n%s", want, got)
		}
	}
	tools, err := mcp.Tools(goms.MCPSpec{Tools: []string{"t.S"}, Services: services})
	if err != nil || len(tools) != 1 {
		t.Errorf("Tools(t.S) = %d tools, %v; want Walk alone", len(tools), err)
	}
	if _, err := mcp.Tools(goms.MCPSpec{Tools: []string{"t.S/Wrap"}, Services: services}); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("Tools(t.S/Wrap): %v, want an error", err)
	}
}
