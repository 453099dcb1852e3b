package vtcheck

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzVTCodec reads arbitrary bytes as every message type with
// protobuf-go and with vtcodec: where protobuf-go reads them, vtcodec must
// too, to an equal message (proto.Equal), and both must write the same
// bytes back (the same size, when a map of more than one entry makes the
// order Go's random map order). vtcodec may read what protobuf-go refuses
// only for invalid UTF-8 in a proto3 string, which vtproto does not check;
// and it may refuse what protobuf-go reads only when a known field comes
// with another wire type than its own, which protobuf-go keeps as an
// unknown field and vtproto rejects: bytes no encoder of the same schema
// writes (mistyped says when). And vtproto skips unknown fields with less
// care than protobuf-go: it takes field numbers above 2^29-1 and groups
// that end with another field's end tag (malformed says when).
// Seeds: random messages of every type (make fuzz runs it; findings land
// in testdata/fuzz).
func FuzzVTCodec(f *testing.F) {
	types := vtTypes(f)
	for i, mt := range types {
		m := mt.New()
		(&filler{r: rand.New(rand.NewPCG(uint64(i), 3)), maxMapEntries: 2}).fill(m, 0)
		b, err := proto.Marshal(m.Interface())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mt := range types {
			pb, vt := mt.New().Interface(), mt.New().Interface()
			errPB := proto.Unmarshal(data, pb)
			errVT := codecUnmarshal(vt, data)
			name := mt.Descriptor().FullName()
			switch {
			case errPB != nil && errVT != nil:
				continue
			case errPB != nil:
				if strings.Contains(errPB.Error(), "invalid UTF-8") || malformed(data, mt.Descriptor()) {
					continue
				}
				t.Fatalf("%s: protobuf-go refused %x (%v), vtcodec read it", name, data, errPB)
			case errVT != nil:
				if mistyped(data, mt.Descriptor()) {
					continue
				}
				t.Fatalf("%s: vtcodec refused %x (%v), protobuf-go read %v", name, data, errVT, pb)
			}
			if nonMinimalTag(data, mt.Descriptor()) {
				// protobuf-go rewrites an unknown field's tag minimally,
				// vtproto keeps its bytes: compare after protobuf-go's
				// rewriting of vtproto's.
				b, err := proto.Marshal(vt)
				if err != nil {
					t.Fatal(err)
				}
				vt = mt.New().Interface()
				if err := proto.Unmarshal(b, vt); err != nil {
					t.Fatal(err)
				}
			}
			if !proto.Equal(pb, vt) {
				t.Fatalf("%s: %x read differently:\n protobuf-go %v\n vtcodec     %v", name, data, pb, vt)
			}
			pbBytes, err := proto.Marshal(pb)
			if err != nil {
				t.Fatalf("%s: proto.Marshal: %v", name, err)
			}
			vtBytes := codecMarshal(t, vt)
			if multiEntryMap(pb.ProtoReflect()) {
				if len(vtBytes) != len(pbBytes) {
					t.Fatalf("%s: %x written back in %d bytes by vtcodec, %d by protobuf-go", name, data, len(vtBytes), len(pbBytes))
				}
				continue
			}
			if !bytes.Equal(pbBytes, vtBytes) {
				t.Fatalf("%s: %x written back differently:\n protobuf-go %x\n vtcodec     %x", name, data, pbBytes, vtBytes)
			}
		}
	})
}

// multiEntryMap reports whether m holds, at any depth, a map with more
// than one entry.
func multiEntryMap(m protoreflect.Message) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if v.Map().Len() > 1 {
				found = true
			} else if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
					found = found || multiEntryMap(e.Message())
					return !found
				})
			}
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				if found = multiEntryMap(v.List().Get(i).Message()); found {
					break
				}
			}
		case fd.Message() != nil:
			found = multiEntryMap(v.Message())
		}
		return !found
	})
	return found
}

// mistyped reports whether b, read as md, holds at any depth a known field
// with a wire type other than its own (packed or not, for repeated
// numbers).
func mistyped(b []byte, md protoreflect.MessageDescriptor) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		value := b
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil {
			continue
		}
		want := wireType(fd.Kind())
		if typ != want && !(fd.IsList() && want != protowire.BytesType && typ == protowire.BytesType) {
			return true
		}
		if typ == protowire.BytesType && fd.Message() != nil {
			inner, _ := protowire.ConsumeBytes(value)
			if mistyped(inner, fd.Message()) {
				return true
			}
		}
	}
	return false
}

// wireType is the wire type fields of kind k are written with.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.VarintType
}

// malformed reports whether b, read as md, breaks the wire format at any
// depth where protobuf-go checks it and vtproto does not: a tag that does
// not parse or whose field number is out of range, a value that does not
// parse, a group that does not end with its own end tag.
func malformed(b []byte, md protoreflect.MessageDescriptor) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return true
		}
		b = b[n:]
		value := b
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return true
		}
		b = b[n:]
		if fd := md.Fields().ByNumber(num); fd != nil && fd.Message() != nil && typ == protowire.BytesType {
			inner, _ := protowire.ConsumeBytes(value)
			if malformed(inner, fd.Message()) {
				return true
			}
		}
	}
	return false
}

// nonMinimalTag reports whether b, read as md, holds at any depth a tag
// written in more bytes than it needs.
func nonMinimalTag(b []byte, md protoreflect.MessageDescriptor) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		if n != protowire.SizeTag(num) {
			return true
		}
		b = b[n:]
		value := b
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return false
		}
		b = b[n:]
		if fd := md.Fields().ByNumber(num); fd != nil && fd.Message() != nil && typ == protowire.BytesType {
			inner, _ := protowire.ConsumeBytes(value)
			if nonMinimalTag(inner, fd.Message()) {
				return true
			}
		}
	}
	return false
}
