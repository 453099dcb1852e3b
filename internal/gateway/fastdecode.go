package gateway

import (
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// decodePlainJSON decodes b into msg, a message protojson would decode it
// into the same way, for the simplest bodies only: one JSON object of a
// [plain] message without required fields, whose keys are the fields'
// JSON names, each at most once, and whose values are strings without
// escapes, booleans or integers in plain decimal, for singular fields of
// those kinds. It reports false for anything else (escapes, nested
// objects, lists, null, floats, unknown or proto-named keys, duplicates,
// malformed JSON, out of range numbers), leaving msg to be reset and
// decoded by protojson, whose result and errors thus stay the answer.
// Most request bodies are such objects, which it decodes without
// protojson's tokenizer and its allocations.
func decodePlainJSON(b []byte, msg proto.Message) bool {
	m := msg.ProtoReflect()
	md := m.Descriptor()
	if md.RequiredNumbers().Len() > 0 || !plain(md) {
		return false
	}
	fields := md.Fields()
	if fields.Len() > 64 {
		return false
	}
	var seen uint64
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, next, ok := plainString(b, i)
		if !ok {
			return false
		}
		fd := fieldByJSONName(fields, key)
		if fd == nil || fd.IsList() || seen&(1<<fd.Index()) != 0 {
			return false
		}
		seen |= 1 << fd.Index()
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		if i, ok = decodePlainValue(b, i, m, fd); !ok {
			return false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// fieldByJSONName is fields.ByJSONName(string(key)), without converting
// key for the small messages most requests are.
func fieldByJSONName(fields protoreflect.FieldDescriptors, key []byte) protoreflect.FieldDescriptor {
	if fields.Len() > 16 {
		return fields.ByJSONName(string(key))
	}
	for i := range fields.Len() {
		if fd := fields.Get(i); fd.JSONName() == string(key) {
			return fd
		}
	}
	return nil
}

// decodePlainValue sets fd of m from the JSON value at b[i:], and returns
// the index after it.
func decodePlainValue(b []byte, i int, m protoreflect.Message, fd protoreflect.FieldDescriptor) (int, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s, next, ok := plainString(b, i)
		if !ok {
			return 0, false
		}
		m.Set(fd, protoreflect.ValueOfString(string(s)))
		return next, true
	case protoreflect.BoolKind:
		switch {
		case hasLiteral(b, i, "true"):
			m.Set(fd, protoreflect.ValueOfBool(true))
			return i + 4, true
		case hasLiteral(b, i, "false"):
			m.Set(fd, protoreflect.ValueOfBool(false))
			return i + 5, true
		}
		return 0, false
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		digits, next, ok := plainInteger(b, i, true)
		if !ok {
			return 0, false
		}
		if fd.Kind() == protoreflect.Int64Kind || fd.Kind() == protoreflect.Sint64Kind || fd.Kind() == protoreflect.Sfixed64Kind {
			v, err := strconv.ParseInt(digits, 10, 64)
			if err != nil {
				return 0, false
			}
			m.Set(fd, protoreflect.ValueOfInt64(v))
		} else {
			v, err := strconv.ParseInt(digits, 10, 32)
			if err != nil {
				return 0, false
			}
			m.Set(fd, protoreflect.ValueOfInt32(int32(v)))
		}
		return next, true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		digits, next, ok := plainInteger(b, i, false)
		if !ok {
			return 0, false
		}
		if fd.Kind() == protoreflect.Uint64Kind || fd.Kind() == protoreflect.Fixed64Kind {
			v, err := strconv.ParseUint(digits, 10, 64)
			if err != nil {
				return 0, false
			}
			m.Set(fd, protoreflect.ValueOfUint64(v))
		} else {
			v, err := strconv.ParseUint(digits, 10, 32)
			if err != nil {
				return 0, false
			}
			m.Set(fd, protoreflect.ValueOfUint32(uint32(v)))
		}
		return next, true
	}
	return 0, false // bytes, enums, messages: protojson
}

// plainString returns the content of the JSON string at b[i:] and the
// index after it, if it has no escapes, no control characters and is
// valid UTF-8.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < ' ':
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// plainInteger returns the JSON number at b[i:], and the index after it,
// if it is an integer in plain decimal: an optional minus (if signed),
// then 0 or digits not starting with 0, then a delimiter.
func plainInteger(b []byte, i int, signed bool) (string, int, bool) {
	start := i
	if signed && i < len(b) && b[i] == '-' {
		i++
	}
	d := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == d || b[d] == '0' && i-d > 1 || i < len(b) && !delimiter(b[i]) {
		return "", 0, false
	}
	return string(b[start:i]), i, true
}

// hasLiteral reports whether b[i:] starts with lit followed by a
// delimiter or the end.
func hasLiteral(b []byte, i int, lit string) bool {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return false
	}
	j := i + len(lit)
	return j == len(b) || delimiter(b[j])
}

// delimiter reports whether c may follow a JSON value in an object.
func delimiter(c byte) bool {
	return c == ',' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// skipSpace returns the index of the first byte of b[i:] that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
