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
	return appendMessageJSONMemo(b, msg, opts, nil)
}

// encoderMemo remembers the encoder of the last message type it was asked
// for, so that a stream, whose messages are all of one type, looks its
// encoder up once rather than in [encoders] per message.
type encoderMemo struct {
	md  protoreflect.MessageDescriptor
	enc *plainEncoder
}

// of returns md's encoder, nil if md is not plain.
func (c *encoderMemo) of(md protoreflect.MessageDescriptor) *plainEncoder {
	if c == nil {
		return encoderOf(md)
	}
	if c.md != md {
		c.md, c.enc = md, encoderOf(md)
	}
	return c.enc
}

// appendMessageJSONMemo is [appendMessageJSON] with the encoder found
// through memo (nil: none).
func appendMessageJSONMemo(b []byte, msg proto.Message, opts protojson.MarshalOptions, memo *encoderMemo) ([]byte, error) {
	m := msg.ProtoReflect()
	if !opts.EmitUnpopulated || opts.UseProtoNames || opts.UseEnumNumbers || opts.Multiline {
		return opts.MarshalAppend(b, msg)
	}
	enc := memo.of(m.Descriptor())
	if enc == nil {
		return opts.MarshalAppend(b, msg)
	}
	start := len(b)
	b, err := enc.append(b, m)
	if err != nil {
		// Invalid UTF-8: protojson's own error.
		return opts.MarshalAppend(b[:start], msg)
	}
	return b, nil
}

// plainEncoder writes the JSON of a plain message (see [plain]): what a
// stream message costs is its values, since everything its descriptor
// decides (each field's quoted JSON name and its comma, its kind, whether
// it is a list or has presence) is worked out once per message type.
type plainEncoder struct {
	fields []plainFieldEncoder
}

// plainFieldEncoder is one field of a [plainEncoder].
type plainFieldEncoder struct {
	fd   protoreflect.FieldDescriptor
	name string // ,"jsonName": (without the comma for the first field)
	kind protoreflect.Kind
	list bool
	// presence: a field with presence that is not set is null.
	presence bool
	enum     protoreflect.EnumValueDescriptors // of an enum field
	msg      *plainEncoder                     // of a message field
}

// encoders maps message descriptors to their *plainEncoder, nil for a
// message that is not plain.
var encoders sync.Map // protoreflect.MessageDescriptor → *plainEncoder

// plain reports whether every field of md, and of the messages it holds,
// is a [plainField], so that [appendMessageJSON] encodes it itself.
func plain(md protoreflect.MessageDescriptor) bool {
	return encoderOf(md) != nil
}

// encoderOf returns md's encoder, nil if md is not plain.
func encoderOf(md protoreflect.MessageDescriptor) *plainEncoder {
	if v, ok := encoders.Load(md); ok {
		return v.(*plainEncoder)
	}
	return buildEncoder(md, map[protoreflect.MessageDescriptor]bool{})
}

// buildEncoder makes, stores and returns md's encoder, nil if md is not
// plain. visiting holds the messages being built further up: one of them
// met again means a recursive message, which is not plain (whichever
// message the build started from: every message of a cycle is in it).
// Only finished answers are stored, so that a concurrent build never
// reads a message as not plain because another is still deciding it.
func buildEncoder(md protoreflect.MessageDescriptor, visiting map[protoreflect.MessageDescriptor]bool) *plainEncoder {
	if v, ok := encoders.Load(md); ok {
		return v.(*plainEncoder)
	}
	if visiting[md] {
		return nil
	}
	visiting[md] = true
	defer delete(visiting, md)
	var enc *plainEncoder
	if !wellKnown(md.ParentFile()) && md.ExtensionRanges().Len() == 0 {
		fields := md.Fields()
		enc = &plainEncoder{fields: make([]plainFieldEncoder, fields.Len())}
		for i := range fields.Len() {
			fd := fields.Get(i)
			if !plainField(fd) {
				enc = nil
				break
			}
			f := plainFieldEncoder{fd: fd, kind: fd.Kind(), list: fd.IsList(), presence: fd.HasPresence()}
			var name []byte
			if i > 0 {
				name = append(name, ',')
			}
			name, err := appendString(name, fd.JSONName())
			if err != nil {
				enc = nil
				break
			}
			f.name = string(append(name, ':'))
			switch f.kind {
			case protoreflect.EnumKind:
				f.enum = fd.Enum().Values()
			case protoreflect.MessageKind:
				if f.msg = buildEncoder(fd.Message(), visiting); f.msg == nil {
					enc = nil
				}
			}
			if enc == nil {
				break
			}
			enc.fields[i] = f
		}
	}
	v, _ := encoders.LoadOrStore(md, enc)
	return v.(*plainEncoder)
}

// wellKnown reports whether f declares well-known types, whose JSON
// protojson writes its own way (Any, Timestamp, wrappers, Struct and its
// NullValue, …): any file of package google.protobuf but descriptor.proto.
func wellKnown(f protoreflect.FileDescriptor) bool {
	return f.Package() == "google.protobuf" && f.Path() != "google/protobuf/descriptor.proto"
}

// plainField reports whether fd is singular or repeated (not a map, not
// in a oneof) and of kind bool, string, bytes, an integer, an enum that is
// not well-known, or a message (itself plain, which [buildEncoder] checks).
func plainField(fd protoreflect.FieldDescriptor) bool {
	if fd.IsMap() || fd.ContainingOneof() != nil || fd.IsExtension() {
		return false
	}
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.StringKind, protoreflect.BytesKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind, protoreflect.MessageKind:
		return true
	case protoreflect.EnumKind:
		return !wellKnown(fd.Enum().ParentFile())
	}
	return false
}

var errInvalidUTF8 = errors.New("invalid UTF-8")

// append appends the JSON of m, a message of e's type: every field in
// declaration order, unpopulated ones included (null for a field with
// presence that is not set), as protojson's EmitUnpopulated does.
func (e *plainEncoder) append(b []byte, m protoreflect.Message) ([]byte, error) {
	b = append(b, '{')
	var err error
	for i := range e.fields {
		f := &e.fields[i]
		b = append(b, f.name...)
		switch {
		case f.list:
			l := m.Get(f.fd).List()
			b = append(b, '[')
			for j := range l.Len() {
				if j > 0 {
					b = append(b, ',')
				}
				if b, err = f.appendValue(b, l.Get(j)); err != nil {
					return b, err
				}
			}
			b = append(b, ']')
		case f.presence && !m.Has(f.fd):
			b = append(b, "null"...)
		default:
			if b, err = f.appendValue(b, m.Get(f.fd)); err != nil {
				return b, err
			}
		}
	}
	return append(b, '}'), nil
}

// appendValue appends the JSON of v, a value of f's kind.
func (f *plainFieldEncoder) appendValue(b []byte, v protoreflect.Value) ([]byte, error) {
	switch f.kind {
	case protoreflect.StringKind:
		return appendString(b, v.String())
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
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
		if ev := f.enum.ByNumber(v.Enum()); ev != nil {
			return appendString(b, string(ev.Name()))
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), nil
	default: // MessageKind: plain, see buildEncoder
		return f.msg.append(b, v.Message())
	}
}

// appendString appends s as a JSON string escaped as protojson escapes
// it: ", \ and control characters only; invalid UTF-8 is an error.
func appendString(b []byte, s string) ([]byte, error) {
	// The ASCII prefix that needs no escape (most often the whole
	// string), in one tight loop and one copy.
	i := 0
	for i < len(s) && jsonSafe[s[i]] {
		i++
	}
	b = append(b, '"')
	b = append(b, s[:i]...)
	if i == len(s) {
		return append(b, '"'), nil
	}
	start := i
	for i < len(s) {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return b, errInvalidUTF8
			}
			i += n
			continue
		}
		if jsonSafe[c] {
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

// jsonSafe reports the bytes a JSON string holds as they are, needing
// neither an escape nor a UTF-8 check: ASCII but ", \ and the control
// characters. (256 entries: indexed by any byte without a bounds check.)
var jsonSafe = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
