package mcp

import (
	"encoding/json"
	"strings"

	_ "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate" // registers buf.validate.field, read below
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// docs are the descriptions a service's OpenAPI fragment carries: its
// methods' (by method name), its messages' and their fields' (by full
// message name, then JSON name), and its routes' parameters' (by method
// name, then parameter name: the fields of requests that are not a body).
type docs struct {
	methods  map[string]string
	messages map[string]messageDocs
	params   map[string]map[string]string
}

// messageDocs are one message's descriptions.
type messageDocs struct {
	Description string `json:"description"`
	Properties  map[string]struct {
		Description string `json:"description"`
	} `json:"properties"`
}

// parseDocs reads the descriptions of service's fragment; none when it is
// empty or does not parse.
func parseDocs(fragment, service string) docs {
	d := docs{methods: map[string]string{}, messages: map[string]messageDocs{}, params: map[string]map[string]string{}}
	if fragment == "" {
		return d
	}
	var f struct {
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
			Description string   `json:"description"`
			Parameters  []struct {
				Name        string `json:"name"`
				Description string `json:"description"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]messageDocs `json:"schemas"`
		} `json:"components"`
	}
	if json.Unmarshal([]byte(fragment), &f) != nil {
		return d
	}
	for _, item := range f.Paths {
		for _, op := range item {
			if len(op.Tags) == 0 || op.Tags[0] != service {
				continue
			}
			_, method, ok := strings.Cut(op.OperationID, "_")
			if !ok {
				continue
			}
			if d.methods[method] == "" {
				d.methods[method] = op.Description
			}
			for _, p := range op.Parameters {
				if p.Description == "" {
					continue
				}
				if d.params[method] == nil {
					d.params[method] = map[string]string{}
				}
				d.params[method][p.Name] = p.Description
			}
		}
	}
	d.messages = f.Components.Schemas
	return d
}

// schemaBuilder builds the JSON Schema of messages as protojson reads
// them.
type schemaBuilder struct {
	docs docs
	// seen holds the messages being built, to cut recursion: a message
	// inside itself is any object.
	seen map[protoreflect.FullName]bool
}

// object is a JSON Schema.
type object = map[string]any

// message returns the schema of md.
func (b *schemaBuilder) message(md protoreflect.MessageDescriptor) object {
	if s := wellKnown(md); s != nil {
		return s
	}
	s := object{"type": "object"}
	if b.seen[md.FullName()] {
		s["description"] = "A " + string(md.FullName()) + " (recursive)."
		return s
	}
	b.seen[md.FullName()] = true
	defer delete(b.seen, md.FullName())
	docs := b.docs.messages[string(md.FullName())]
	if docs.Description != "" {
		s["description"] = docs.Description
	}
	props := object{}
	var required []string
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		p := b.field(fd)
		if d := docs.Properties[fd.JSONName()].Description; d != "" {
			p["description"] = d
		}
		if isRequired(fd) {
			required = append(required, fd.JSONName())
		}
		props[fd.JSONName()] = p
	}
	s["properties"] = props
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// withParams adds the descriptions of a route's parameters to the
// top-level properties of s that have none.
func withParams(s object, params map[string]string) object {
	props, _ := s["properties"].(object)
	for name, p := range props {
		ps := p.(object)
		if _, ok := ps["description"]; !ok && params[name] != "" {
			ps["description"] = params[name]
		}
	}
	return s
}

// field returns the schema of fd's value, with its rules.
func (b *schemaBuilder) field(fd protoreflect.FieldDescriptor) object {
	rules := fieldRules(fd)
	switch {
	case fd.IsMap():
		s := object{"type": "object", "additionalProperties": b.single(fd.MapValue(), nil)}
		if rules != nil {
			if r := sub(rules, "map"); r != nil {
				copyRule(s, r, "min_pairs", "minProperties")
				copyRule(s, r, "max_pairs", "maxProperties")
			}
		}
		return s
	case fd.IsList():
		var itemRules protoreflect.Message
		s := object{"type": "array"}
		if rules != nil {
			if r := sub(rules, "repeated"); r != nil {
				copyRule(s, r, "min_items", "minItems")
				copyRule(s, r, "max_items", "maxItems")
				copyRule(s, r, "unique", "uniqueItems")
				if v, ok := get(r, "items"); ok {
					itemRules = v.Message()
				}
			}
		}
		s["items"] = b.single(fd, itemRules)
		return s
	}
	return b.single(fd, rules)
}

// single returns the schema of one value of fd, with rules (a
// buf.validate.FieldRules, or nil).
func (b *schemaBuilder) single(fd protoreflect.FieldDescriptor, rules protoreflect.Message) object {
	var s object
	switch fd.Kind() {
	case protoreflect.BoolKind:
		s = object{"type": "boolean"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		s = object{"type": "integer", "format": "int32"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		s = object{"type": "integer", "format": "uint32", "minimum": 0}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		s = object{"type": []string{"integer", "string"}, "format": "int64"}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		s = object{"type": []string{"integer", "string"}, "format": "uint64"}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		s = object{"type": "number"}
	case protoreflect.StringKind:
		s = object{"type": "string"}
	case protoreflect.BytesKind:
		s = object{"type": "string", "contentEncoding": "base64"}
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == "google.protobuf.NullValue" {
			return object{"type": "null"}
		}
		names := make([]string, ed.Values().Len())
		for i := range names {
			names[i] = string(ed.Values().Get(i).Name())
		}
		s = object{"type": "string", "enum": names}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return b.message(fd.Message())
	default:
		s = object{}
	}
	if rules == nil {
		return s
	}
	if r := sub(rules, "string"); r != nil {
		copyRule(s, r, "min_len", "minLength")
		copyRule(s, r, "max_len", "maxLength")
		copyRule(s, r, "len", "minLength")
		copyRule(s, r, "len", "maxLength")
		copyRule(s, r, "pattern", "pattern")
		copyRule(s, r, "in", "enum")
		for rule, format := range map[string]string{"email": "email", "uri": "uri", "uuid": "uuid", "hostname": "hostname", "ipv4": "ipv4", "ipv6": "ipv6"} {
			if v, ok := get(r, rule); ok && v.Bool() {
				s["format"] = format
			}
		}
		return s
	}
	for _, kind := range []string{"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "float", "double"} {
		if r := sub(rules, kind); r != nil {
			copyRule(s, r, "gt", "exclusiveMinimum")
			copyRule(s, r, "gte", "minimum")
			copyRule(s, r, "lt", "exclusiveMaximum")
			copyRule(s, r, "lte", "maximum")
			copyRule(s, r, "in", "enum")
			return s
		}
	}
	return s
}

// wellKnown returns the schema of a well-known type in protojson, nil for
// other messages.
func wellKnown(md protoreflect.MessageDescriptor) object {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return object{"type": "string", "format": "date-time"}
	case "google.protobuf.Duration":
		return object{"type": "string", "pattern": `^-?[0-9]+(\.[0-9]+)?s$`}
	case "google.protobuf.FieldMask":
		return object{"type": "string"}
	case "google.protobuf.Struct":
		return object{"type": "object"}
	case "google.protobuf.ListValue":
		return object{"type": "array"}
	case "google.protobuf.Value":
		return object{}
	case "google.protobuf.Empty":
		return object{"type": "object"}
	case "google.protobuf.Any":
		return object{"type": "object", "properties": object{"@type": object{"type": "string"}}, "required": []string{"@type"}}
	case "google.protobuf.BoolValue":
		return object{"type": "boolean"}
	case "google.protobuf.StringValue":
		return object{"type": "string"}
	case "google.protobuf.BytesValue":
		return object{"type": "string", "contentEncoding": "base64"}
	case "google.protobuf.Int32Value", "google.protobuf.UInt32Value":
		return object{"type": "integer"}
	case "google.protobuf.Int64Value", "google.protobuf.UInt64Value":
		return object{"type": []string{"integer", "string"}}
	case "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return object{"type": "number"}
	}
	return nil
}

// isRequired reports whether fd is REQUIRED (google.api.field_behavior)
// or required by a buf.validate rule.
func isRequired(fd protoreflect.FieldDescriptor) bool {
	if opts := fd.Options(); opts != nil && proto.HasExtension(opts, annotations.E_FieldBehavior) {
		for _, b := range proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior) {
			if b == annotations.FieldBehavior_REQUIRED {
				return true
			}
		}
	}
	if r := fieldRules(fd); r != nil {
		if v, ok := get(r, "required"); ok && v.Bool() {
			return true
		}
	}
	return false
}

// fieldRules returns fd's buf.validate.field rules, nil if none.
func fieldRules(fd protoreflect.FieldDescriptor) protoreflect.Message {
	opts := fd.Options()
	if opts == nil {
		return nil
	}
	xt, err := protoregistry.GlobalTypes.FindExtensionByName("buf.validate.field")
	if err != nil || !proto.HasExtension(opts, xt) {
		return nil
	}
	m, ok := proto.GetExtension(opts, xt).(proto.Message)
	if !ok {
		return nil
	}
	return m.ProtoReflect()
}

// get returns the field name of m, if set.
func get(m protoreflect.Message, name string) (protoreflect.Value, bool) {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil || !m.Has(fd) {
		return protoreflect.Value{}, false
	}
	return m.Get(fd), true
}

// sub returns the rules message name of rules (such as "string"), nil if
// unset.
func sub(rules protoreflect.Message, name string) protoreflect.Message {
	v, ok := get(rules, name)
	if !ok {
		return nil
	}
	return v.Message()
}

// copyRule sets s[key] to rule of r, when set.
func copyRule(s object, r protoreflect.Message, rule, key string) {
	v, ok := get(r, rule)
	if !ok {
		return
	}
	if l, ok := v.Interface().(protoreflect.List); ok {
		vals := make([]any, l.Len())
		for i := range vals {
			vals[i] = l.Get(i).Interface()
		}
		s[key] = vals
		return
	}
	s[key] = v.Interface()
}
