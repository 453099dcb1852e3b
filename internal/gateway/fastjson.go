package gateway

import (
	"encoding/base64"
	"errors"
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// appendMessageJSON appends msg's JSON to b: what protojson gives with
// opts (EmitUnpopulated, as the edge's marshaler sets it), but without
// protojson's per-message allocations (its encoder, its field-ordering
// closure and slice, the unpopulated-field wrapper: six of a stream
// message's eleven), for messages made only of the plain kinds listed in
// [plainField]. Any other message (well-known types, floats, maps, oneofs,
// extensions) goes to protojson. The output equals protojson's but for
// the random space protojson adds after some commas.
func appendMessageJSON(b []byte, msg proto.Message, opts protojson.MarshalOptions) ([]byte, error) {
	m := msg.ProtoReflect()
	if !opts.EmitUnpopulated || opts.UseProtoNames || opts.UseEnumNumbers || opts.Multiline || !plain(m.Descriptor()) {
		return opts.MarshalAppend(b, msg)
	}
	start := len(b)
	b, err := appendPlain(b, m)
	if err != nil {
		// Invalid UTF-8: protojson's own error.
		return opts.MarshalAppend(b[:start], msg)
	}
	return b, nil
}

// plainCache maps message descriptors to whether they are plain.
var plainCache sync.Map // protoreflect.MessageDescriptor → bool

// plain reports whether every field of md, and of the messages it holds,
// is a [plainField], so that [appendPlain] encodes it.
func plain(md protoreflect.MessageDescriptor) bool {
	if v, ok := plainCache.Load(md); ok {
		return v.(bool)
	}
	// Not plain while it is being decided: a recursive message is not.
	plainCache.Store(md, false)
	ok := !wellKnown(md.ParentFile()) && md.ExtensionRanges().Len() == 0
	fields := md.Fields()
	for i := 0; ok && i < fields.Len(); i++ {
		ok = plainField(fields.Get(i))
	}
	plainCache.Store(md, ok)
	return ok
}

// wellKnown reports whether f declares well-known types, whose JSON
// protojson writes its own way (Any, Timestamp, wrappers, Struct and its
// NullValue, …): any file of package google.protobuf but descriptor.proto.
func wellKnown(f protoreflect.FileDescriptor) bool {
	return f.Package() == "google.protobuf" && f.Path() != "google/protobuf/descriptor.proto"
}

// plainField reports whether fd is singular or repeated (not a map, not
// in a oneof) and of kind bool, string, bytes, an integer, an enum that is
// not well-known, or a plain message.
func plainField(fd protoreflect.FieldDescriptor) bool {
	if fd.IsMap() || fd.ContainingOneof() != nil || fd.IsExtension() {
		return false
	}
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.StringKind, protoreflect.BytesKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	case protoreflect.EnumKind:
		return !wellKnown(fd.Enum().ParentFile())
	case protoreflect.MessageKind:
		return plain(fd.Message())
	}
	return false
}

var errInvalidUTF8 = errors.New("invalid UTF-8")

// appendPlain appends the JSON of m, a plain message: every field in
// declaration order, unpopulated ones included (null for a field with
// presence that is not set), as protojson's EmitUnpopulated does.
func appendPlain(b []byte, m protoreflect.Message) ([]byte, error) {
	b = append(b, '{')
	fields := m.Descriptor().Fields()
	var err error
	for i := range fields.Len() {
		fd := fields.Get(i)
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendString(b, fd.JSONName()); err != nil {
			return b, err
		}
		b = append(b, ':')
		switch {
		case fd.IsList():
			l := m.Get(fd).List()
			b = append(b, '[')
			for j := range l.Len() {
				if j > 0 {
					b = append(b, ',')
				}
				if b, err = appendValue(b, fd, l.Get(j)); err != nil {
					return b, err
				}
			}
			b = append(b, ']')
		case fd.HasPresence() && !m.Has(fd):
			b = append(b, "null"...)
		default:
			if b, err = appendValue(b, fd, m.Get(fd)); err != nil {
				return b, err
			}
		}
	}
	return append(b, '}'), nil
}

// appendValue appends the JSON of v, a value of fd's kind.
func appendValue(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
	case protoreflect.StringKind:
		return appendString(b, v.String())
	case protoreflect.BytesKind:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"'), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = append(b, '"')
		b = strconv.AppendInt(b, v.Int(), 10)
		return append(b, '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = append(b, '"')
		b = strconv.AppendUint(b, v.Uint(), 10)
		return append(b, '"'), nil
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return appendString(b, string(ev.Name()))
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), nil
	default: // MessageKind: plain, see plainField
		return appendPlain(b, v.Message())
	}
}

// appendString appends s as a JSON string escaped as protojson escapes
// it: ", \ and control characters only; invalid UTF-8 is an error.
func appendString(b []byte, s string) ([]byte, error) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return b, errInvalidUTF8
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

const hex = "0123456789abcdef"
