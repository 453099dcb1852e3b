package gateway

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// plainFile declares a proto3 message with a field of every plain kind,
// repeated ones, a nested message, and an enum.
func plainFile(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	type F = descriptorpb.FieldDescriptorProto
	T := func(k descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto_Type { return &k }
	L := func(l descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto_Label { return &l }
	opt, rep := L(descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL), L(descriptorpb.FieldDescriptorProto_LABEL_REPEATED)
	var fields []*F
	kinds := []descriptorpb.FieldDescriptorProto_Type{
		descriptorpb.FieldDescriptorProto_TYPE_BOOL, descriptorpb.FieldDescriptorProto_TYPE_STRING,
		descriptorpb.FieldDescriptorProto_TYPE_BYTES, descriptorpb.FieldDescriptorProto_TYPE_INT32,
		descriptorpb.FieldDescriptorProto_TYPE_SINT32, descriptorpb.FieldDescriptorProto_TYPE_SFIXED32,
		descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_FIXED32,
		descriptorpb.FieldDescriptorProto_TYPE_INT64, descriptorpb.FieldDescriptorProto_TYPE_SINT64,
		descriptorpb.FieldDescriptorProto_TYPE_SFIXED64, descriptorpb.FieldDescriptorProto_TYPE_UINT64,
		descriptorpb.FieldDescriptorProto_TYPE_FIXED64,
	}
	n := int32(0)
	for _, k := range kinds {
		for _, l := range []*descriptorpb.FieldDescriptorProto_Label{opt, rep} {
			n++
			fields = append(fields, &F{Name: proto.String("f_" + k.String() + "_" + l.String()), Number: proto.Int32(n), Label: l, Type: T(k)})
		}
	}
	n++
	fields = append(fields,
		&F{Name: proto.String("color"), Number: proto.Int32(n), Label: opt, Type: T(descriptorpb.FieldDescriptorProto_TYPE_ENUM), TypeName: proto.String(".t.Color")},
		&F{Name: proto.String("colors"), Number: proto.Int32(n + 1), Label: rep, Type: T(descriptorpb.FieldDescriptorProto_TYPE_ENUM), TypeName: proto.String(".t.Color")},
		&F{Name: proto.String("child"), Number: proto.Int32(n + 2), Label: opt, Type: T(descriptorpb.FieldDescriptorProto_TYPE_MESSAGE), TypeName: proto.String(".t.Child")},
		&F{Name: proto.String("children"), Number: proto.Int32(n + 3), Label: rep, Type: T(descriptorpb.FieldDescriptorProto_TYPE_MESSAGE), TypeName: proto.String(".t.Child")},
	)
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("t.proto"), Package: proto.String("t"), Syntax: proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("Color"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)}, {Name: proto.String("COLOR_RED"), Number: proto.Int32(1)},
		}}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("All"), Field: fields},
			{Name: proto.String("Child"), Field: []*F{{Name: proto.String("note_text"), Number: proto.Int32(1), Label: opt, Type: T(descriptorpb.FieldDescriptorProto_TYPE_STRING)}}},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("All")
}

var testStrings = []string{"", "a", "héllo wörld", "quote \" back \\ slash", "ctl \x00\x01\x1f\x7f \b\f\n\r\t", "\u2028\u2029 <>&", "\ufffd ok", "日本語"}

// randomValue returns a random value of fd's kind.
func randomValue(r *rand.Rand, m protoreflect.Message, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 1)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(testStrings[r.IntN(len(testStrings))])
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(7))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32([]int32{0, -1, 7, math.MinInt32, math.MaxInt32}[r.IntN(5)])
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32([]uint32{0, 1, math.MaxUint32}[r.IntN(3)])
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64([]int64{0, -1, math.MinInt64, math.MaxInt64}[r.IntN(4)])
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64([]uint64{0, 1, math.MaxUint64}[r.IntN(3)])
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(r.IntN(3))) // 2 has no name
	default:
		c := m.NewField(fd).Message()
		randomFill(r, c)
		return protoreflect.ValueOfMessage(c)
	}
}

// randomFill sets a random subset of m's fields.
func randomFill(r *rand.Rand, m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.IntN(3) == 0 {
			continue
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			for range r.IntN(3) {
				if fd.Kind() == protoreflect.MessageKind {
					v := l.NewElement()
					randomFill(r, v.Message())
					l.Append(v)
					continue
				}
				l.Append(randomValue(r, m, fd))
			}
			continue
		}
		m.Set(fd, randomValue(r, m, fd))
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return out.String()
}

// TestAppendMessageJSON: the stream encoder's JSON is protojson's
// (EmitUnpopulated), whitespace aside, for messages of every plain kind,
// proto2 fields with presence, and messages it leaves to protojson; it
// fails where protojson fails (invalid UTF-8).
func TestAppendMessageJSON(t *testing.T) {
	opts := protojson.MarshalOptions{EmitUnpopulated: true}
	all := plainFile(t)
	r := rand.New(rand.NewPCG(1, 2))
	var msgs []proto.Message
	for range 300 {
		m := dynamicpb.NewMessage(all)
		randomFill(r, m)
		msgs = append(msgs, m)
	}
	loc := &descriptorpb.SourceCodeInfo_Location{Path: []int32{4, 0}, LeadingComments: proto.String("doc\n")}
	msgs = append(msgs, dynamicpb.NewMessage(all), loc, &descriptorpb.SourceCodeInfo_Location{},
		&errdetails.BadRequest_FieldViolation{Field: "a", Description: "b", Reason: "c"},
		&errdetails.ErrorInfo{Reason: "r", Metadata: map[string]string{"k": "v"}}, // a map: protojson's
		timestamppb.New(timestamppb.Now().AsTime()),                               // a well-known type: protojson's
		&descriptorpb.FieldOptions{},                                              // extensions: protojson's
	)
	plainWant := map[proto.Message]bool{loc: true, msgs[0]: true}
	for _, m := range msgs {
		want, err := opts.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendMessageJSON([]byte("prefix"), m, opts)
		if err != nil || !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("appendMessageJSON(%v) = %s, %v", m, got, err)
		}
		if g, w := compact(t, got[len("prefix"):]), compact(t, want); g != w {
			t.Errorf("appendMessageJSON:\n got %s\nwant %s", g, w)
		}
		if isPlain := plain(m.ProtoReflect().Descriptor()); plainWant[m] && !isPlain {
			t.Errorf("%s is not encoded by the fast path", m.ProtoReflect().Descriptor().FullName())
		}
	}
	for _, m := range []proto.Message{timestamppb.Now(), &errdetails.ErrorInfo{}, &descriptorpb.FieldOptions{}} {
		if plain(m.ProtoReflect().Descriptor()) {
			t.Errorf("%s: plain, want protojson", m.ProtoReflect().Descriptor().FullName())
		}
	}

	bad := &descriptorpb.SourceCodeInfo_Location{LeadingComments: proto.String("bad \xff")}
	if _, err := opts.Marshal(bad); err == nil {
		t.Fatal("protojson took invalid UTF-8")
	}
	if b, err := appendMessageJSON(nil, bad, opts); err == nil {
		t.Errorf("appendMessageJSON took invalid UTF-8: %s", b)
	}
}
