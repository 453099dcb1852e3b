package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// The OpenAPI 3.1 fragment of a service: its HTTP routes as "paths", the
// schemas they use under "components", and one tag for the service.
// Package goms merges the fragments of the services a process registers
// into the document it serves. The generator writes it because only the
// generator has the protos' comments (protoc-gen-go strips them from the
// runtime descriptors).
//
// Schemas follow protojson, which the gateway speaks: lowerCamel field
// names, 64-bit integers as strings, enums as value names, bytes as
// base64, and the well-known types' own JSON forms. Every message and enum
// is a component named by its full proto name. Errors are the
// google.rpc.Status JSON; server streams are NDJSON lines
// ({"result": …}, or the Status that ends a failed stream) or, on Accept: text/event-stream,
// server-sent events; client and bidi streams send JSON messages one
// after the other (NDJSON).

// Names of the components the fragments share.
const (
	statusSchema = "google.rpc.Status"
	anySchema    = "google.protobuf.Any"
)

// Media types of the documented bodies.
const (
	mediaJSON   = "application/json"
	mediaNDJSON = "application/x-ndjson"
	mediaSSE    = "text/event-stream"
)

// object is a JSON object that keeps its keys in insertion order, so
// that the fragment reads in proto order and is deterministic.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: make(map[string]any)} }

// set sets key to v, keeping the key's first position.
func (o *object) set(key string, v any) *object {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
	return o
}

func (o *object) has(key string) bool { _, ok := o.vals[key]; return ok }

// MarshalJSON writes the keys in order.
func (o *object) MarshalJSON() ([]byte, error) { return marshal(o) }

// marshal is json.Marshal without HTML escaping, so that comments read
// as written.
func marshal(v any) ([]byte, error) { return writeJSON(v, "") }

// writeJSON writes v's JSON in one pass: compact when indent is "", else
// the bytes json.Indent(…, "", indent) makes of the compact form. Objects
// and lists are written here; a string that needs no escape is written
// as it is, and other strings and values go through encoding/json, so
// the bytes are encoding/json's. Letting encoding/json call each nested
// object's MarshalJSON re-scans every object's bytes once per level it is
// nested in, and json.Indent scans the whole again: together they made
// generation twice as slow as protoc-gen-go-grpc's on BenchmarkGenerate.
func writeJSON(v any, indent string) ([]byte, error) {
	w := &jsonWriter{indent: indent}
	w.enc = json.NewEncoder(&w.scratch)
	w.enc.SetEscapeHTML(false)
	if err := w.write(v); err != nil {
		return nil, err
	}
	return w.out, nil
}

// jsonWriter writes the JSON of a fragment into out; scratch holds what
// enc, encoding/json's encoder, writes of a leaf value.
type jsonWriter struct {
	out     []byte
	indent  string // "" for compact JSON
	depth   int
	scratch bytes.Buffer
	enc     *json.Encoder
}

// newline starts a line at the current depth (indented JSON only).
func (w *jsonWriter) newline() {
	if w.indent == "" {
		return
	}
	w.out = append(w.out, '\n')
	for range w.depth {
		w.out = append(w.out, w.indent...)
	}
}

func (w *jsonWriter) write(v any) error {
	switch v := v.(type) {
	case *object:
		if len(v.keys) == 0 {
			w.out = append(w.out, "{}"...)
			return nil
		}
		w.out = append(w.out, '{')
		w.depth++
		for i, k := range v.keys {
			if i > 0 {
				w.out = append(w.out, ',')
			}
			w.newline()
			w.string(k)
			w.out = append(w.out, ':')
			if w.indent != "" {
				w.out = append(w.out, ' ')
			}
			if err := w.write(v.vals[k]); err != nil {
				return err
			}
		}
		w.depth--
		w.newline()
		w.out = append(w.out, '}')
		return nil
	case []any:
		if v == nil {
			w.out = append(w.out, "null"...)
			return nil
		}
		return writeList(w, v, w.write)
	case []string:
		if v == nil {
			w.out = append(w.out, "null"...)
			return nil
		}
		return writeList(w, v, func(s string) error { w.string(s); return nil })
	case string:
		w.string(v)
		return nil
	case bool:
		w.out = strconv.AppendBool(w.out, v)
		return nil
	case int:
		w.out = strconv.AppendInt(w.out, int64(v), 10)
		return nil
	}
	return w.leaf(v)
}

// writeList writes a JSON array of list's elements.
func writeList[E any](w *jsonWriter, list []E, write func(E) error) error {
	if len(list) == 0 {
		w.out = append(w.out, "[]"...)
		return nil
	}
	w.out = append(w.out, '[')
	w.depth++
	for i, e := range list {
		if i > 0 {
			w.out = append(w.out, ',')
		}
		w.newline()
		if err := write(e); err != nil {
			return err
		}
	}
	w.depth--
	w.newline()
	w.out = append(w.out, ']')
	return nil
}

// string writes s as a JSON string: as it is between quotes when every
// byte is printable ASCII other than a quote or a backslash (what
// encoding/json writes unescaped), else through encoding/json.
func (w *jsonWriter) string(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			if err := w.leaf(s); err != nil {
				panic(err) // encoding/json encodes every string
			}
			return
		}
	}
	w.out = append(w.out, '"')
	w.out = append(w.out, s...)
	w.out = append(w.out, '"')
}

// leaf writes v as encoding/json does, without HTML escaping, indented
// at the current depth.
func (w *jsonWriter) leaf(v any) error {
	w.scratch.Reset()
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	compact := bytes.TrimSuffix(w.scratch.Bytes(), []byte("\n"))
	if w.indent == "" || (len(compact) > 0 && compact[0] != '{' && compact[0] != '[') {
		w.out = append(w.out, compact...)
		return nil
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, strings.Repeat(w.indent, w.depth), w.indent); err != nil {
		return err
	}
	w.out = append(w.out, out.Bytes()...)
	return nil
}

// obj builds an object from key, value pairs.
func obj(kv ...any) *object {
	o := newObject()
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func ref(name string) *object { return obj("$ref", "#/components/schemas/"+name) }

// openAPIMethods are the methods an OpenAPI 3.1 path item has fields for.
var openAPIMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

// customMethods is the path item extension that holds the operations of
// custom methods (google.api.http custom kinds such as PURGE) by method.
const customMethods = "x-goms-custom-methods"

// streamingExtension names an operation's kind of stream ("server",
// "client" or "bidi"), which OpenAPI has no word for: clients such as the
// API console pick SSE or a WebSocket by it.
const streamingExtension = "x-goms-streaming"

// streamingKind is the value of streamingExtension for m; "" for a unary
// method.
func streamingKind(m *protogen.Method) string {
	switch c, s := m.Desc.IsStreamingClient(), m.Desc.IsStreamingServer(); {
	case c && s:
		return "bidi"
	case c:
		return "client"
	case s:
		return "server"
	}
	return ""
}

// binding is one HTTP binding of a method, as grpc-gateway routes it.
type binding struct {
	method, path       string // HTTP method, google.api.http path template
	body, responseBody string
}

// methodBindings returns m's bindings in the order grpc-gateway
// registers them: the rule's own pattern, then its additional bindings;
// with unbound set, a method without a rule gets POST /<service>/<method>.
func methodBindings(m *protogen.Method, unbound bool) []binding {
	opts := m.Desc.Options()
	if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
		if unbound {
			return []binding{{method: "POST", path: "/" + string(m.Parent.Desc.FullName()) + "/" + string(m.Desc.Name()), body: "*"}}
		}
		return nil
	}
	rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	var out []binding
	add := func(r *annotations.HttpRule) {
		b := binding{body: r.GetBody(), responseBody: r.GetResponseBody()}
		switch {
		case r.GetGet() != "":
			b.method, b.path = "GET", r.GetGet()
		case r.GetPut() != "":
			b.method, b.path = "PUT", r.GetPut()
		case r.GetPost() != "":
			b.method, b.path = "POST", r.GetPost()
		case r.GetDelete() != "":
			b.method, b.path = "DELETE", r.GetDelete()
		case r.GetPatch() != "":
			b.method, b.path = "PATCH", r.GetPatch()
		case r.GetCustom() != nil:
			b.method, b.path = r.GetCustom().GetKind(), r.GetCustom().GetPath()
		default:
			return
		}
		out = append(out, b)
	}
	add(rule)
	for _, b := range rule.GetAdditionalBindings() {
		add(b)
	}
	return out
}

// pathParam is a variable of a path template, {field.path=pattern}, and
// the names of the OpenAPI path parameters its wildcards become.
type pathParam struct {
	field, pattern string
	names          []string
}

// openAPIPath turns a google.api.http path template into an OpenAPI path
// and its variables. A variable's pattern is spelled out: its literal
// segments go into the path and each of its wildcards becomes a
// parameter, so that a client substitutes one segment per parameter and
// never has to send a "/" inside one (clients escape it, and the gateway
// matches the path as sent). {name=shelves/*} becomes shelves/{name};
// {name=shelves/*/books/*} becomes shelves/{name_1}/books/{name_2};
// {name} and {name=*} stay {name}; a "**" wildcard stays one parameter
// that may hold "/".
func openAPIPath(template string) (string, []pathParam) {
	var b strings.Builder
	var params []pathParam
	for {
		open := strings.IndexByte(template, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(template[open:], '}')
		if end < 0 {
			break
		}
		b.WriteString(template[:open])
		field, pattern, _ := strings.Cut(template[open+1:open+end], "=")
		if pattern == "" {
			pattern = "*"
		}
		segments := strings.Split(pattern, "/")
		wildcards := 0
		for _, seg := range segments {
			if seg == "*" || seg == "**" {
				wildcards++
			}
		}
		pp := pathParam{field: field, pattern: pattern}
		for i, seg := range segments {
			if i > 0 {
				b.WriteByte('/')
			}
			if seg != "*" && seg != "**" {
				b.WriteString(seg)
				continue
			}
			name := field
			if wildcards > 1 {
				name += "_" + strconv.Itoa(len(pp.names)+1)
			}
			pp.names = append(pp.names, name)
			b.WriteString("{" + name + "}")
		}
		params = append(params, pp)
		template = template[open+end+1:]
	}
	b.WriteString(template)
	return b.String(), params
}

// generateOpenAPI emits the constant holding s's OpenAPI fragment, which
// its registration hands to package goms: the fragment itself, or, when
// frags is not nil, a placeholder that frags fills in after formatting.
func generateOpenAPI(g *protogen.GeneratedFile, s *serviceInfo, frags *fragments) {
	if s.openAPI == "" {
		return
	}
	g.P()
	g.P("// ", s.names.OpenAPI, " is the OpenAPI 3.1 fragment of the ", s.Desc.Name(), " service's HTTP")
	g.P("// routes and schemas, from its protos and their comments: package goms")
	g.P("// merges the fragments of the services a process registers into the")
	g.P("// document it serves at http.openapi_path.")
	text := s.openAPI
	if frags != nil {
		text = frags.placeholder(s.names.OpenAPI, s.openAPI)
	}
	g.P("const ", s.names.OpenAPI, " = `", text, "`")
}

// fragments holds the OpenAPI fragments of one run while protogen formats
// the generated files, which hold placeholders in their stead: a fragment
// is one raw string literal, which gofmt leaves as it is (it has no
// carriage return, and no line of it ends in a blank), but whose every
// byte protogen's parse and print would go through several times (half
// the generator's time on the BenchmarkGenerate corpus). The bytes are
// the same either way (TestOpenAPIPlaceholders).
type fragments struct {
	list []fragment
}

type fragment struct{ name, text string }

// placeholderPrefix starts the placeholder of every fragment; its number
// follows.
const placeholderPrefix = "goms:openapi:"

// placeholder records the fragment text of the constant name and returns
// the text that stands for it.
func (fs *fragments) placeholder(name, text string) string {
	fs.list = append(fs.list, fragment{name, text})
	return placeholderPrefix + strconv.Itoa(len(fs.list)-1)
}

// fill replaces the placeholders in the generated files of resp with
// their fragments. A placeholder counts only as the whole value of its
// constant's declaration line, which no comment can imitate.
func (fs *fragments) fill(resp *pluginpb.CodeGeneratorResponse) error {
	if len(fs.list) == 0 {
		return nil
	}
	filled := 0
	for _, f := range resp.File {
		if !strings.HasSuffix(f.GetName(), ".goms.go") {
			continue
		}
		content := f.GetContent()
		var out strings.Builder
		last := 0 // content[:last] is in out
		for at := 0; ; {
			i := strings.Index(content[at:], "`"+placeholderPrefix)
			if i < 0 {
				break
			}
			i += at
			at = i + 1
			digits := i + 1 + len(placeholderPrefix)
			end := digits
			for end < len(content) && content[end] >= '0' && content[end] <= '9' {
				end++
			}
			n, err := strconv.Atoi(content[digits:end])
			if err != nil || n >= len(fs.list) {
				continue
			}
			decl := "\nconst " + fs.list[n].name + " = "
			if !strings.HasSuffix(content[:i], decl) || !strings.HasPrefix(content[end:], "`\n") {
				continue
			}
			if out.Len() == 0 {
				out.Grow(len(content) + len(fs.list[n].text))
			}
			out.WriteString(content[last : i+1])
			out.WriteString(fs.list[n].text)
			last = end
			at = end
			filled++
		}
		if last > 0 {
			out.WriteString(content[last:])
			f.Content = proto.String(out.String())
		}
	}
	if filled != len(fs.list) {
		return fmt.Errorf("protoc-gen-goms: internal error: %d of %d OpenAPI fragments placed", filled, len(fs.list))
	}
	return nil
}

// annotateCode reports whether the plugin parameter param turns on
// protogen's annotate_code, as protogen reads it: the last
// annotate_code or annotate_code=true|false wins.
func annotateCode(param string) bool {
	on := false
	for p := range strings.SplitSeq(param, ",") {
		name, value, _ := strings.Cut(p, "=")
		if name == "annotate_code" {
			on = value == "" || value == "true"
		}
	}
	return on
}

// openAPIBuilder gathers the fragment of one service.
type openAPIBuilder struct {
	schemas map[string]any // component name → schema
	paths   *object        // OpenAPI path → path item
	// shapes maps a path with its parameters' names left out
	// (/v1/projects/{}/books/{}) to the first path of that shape.
	shapes map[string]string
}

// parameterInPath matches an OpenAPI path's parameters.
var parameterInPath = regexp.MustCompile(`\{[^}]*\}`)

// canonicalPath returns path and params, with the parameters renamed
// after an earlier path of the same shape when there is one: OpenAPI
// forbids two paths that differ only in their parameters' names, which
// is what resource-oriented APIs bind (GET /v1/{name=projects/*} and
// PATCH /v1/{project.name=projects/*}). The descriptions still say which
// field each parameter sets.
func (b *openAPIBuilder) canonicalPath(path string, params []pathParam) (string, []pathParam) {
	if b.shapes == nil {
		b.shapes = make(map[string]string)
	}
	shape := parameterInPath.ReplaceAllString(path, "{}")
	first, ok := b.shapes[shape]
	if !ok {
		b.shapes[shape] = path
		return path, params
	}
	if first == path {
		return path, params
	}
	names := parameterInPath.FindAllString(first, -1)
	i := 0
	for j := range params {
		renamed := make([]string, len(params[j].names))
		for k := range params[j].names {
			renamed[k] = strings.Trim(names[i], "{}")
			i++
		}
		params[j].names = renamed
	}
	return first, params
}

// openAPIFragment returns the JSON fragment (indented, without
// backquotes) of s's HTTP routes, or "" when s has none.
func openAPIFragment(s *serviceInfo, p Params) string {
	b := &openAPIBuilder{schemas: make(map[string]any), paths: newObject()}
	tag := b.addService(s, p)
	if tag == nil {
		return ""
	}
	frag := obj("tags", []any{tag}, "paths", b.paths, "components", obj("schemas", b.sortedSchemas()))
	// The fragment is written as a raw string literal: a backquote in a
	// comment becomes the JSON escape of the same character.
	return strings.ReplaceAll(string(indent(frag)), "`", `\u0060`)
}

// openAPIDocument returns the standalone OpenAPI 3.1 document of the
// services of f that have HTTP routes (plugin parameter openapi), or nil
// when none has. It is what package goms serves for these services.
func openAPIDocument(f *fileInfo, p Params) []byte {
	b := &openAPIBuilder{schemas: make(map[string]any), paths: newObject()}
	var tags []any
	var names []string
	for _, s := range f.services {
		if tag := b.addService(s, p); tag != nil {
			tags = append(tags, tag)
			names = append(names, string(s.Desc.FullName()))
		}
	}
	if len(tags) == 0 {
		return nil
	}
	doc := obj(
		"openapi", "3.1.0",
		"info", obj("title", strings.Join(names, ", "), "version", "1",
			"description", "The HTTP/JSON routes of "+strings.Join(names, ", ")+", from "+f.Desc.Path()+"."),
		"servers", []any{obj("url", "/")},
		"tags", tags,
		"paths", b.paths,
		"components", obj("schemas", b.sortedSchemas()),
	)
	return append(indent(doc), '\n')
}

// generateOpenAPIFile writes <file>.openapi.json.
func generateOpenAPIFile(plugin *protogen.Plugin, f *fileInfo, p Params) {
	if doc := openAPIDocument(f, p); doc != nil {
		g := plugin.NewGeneratedFile(f.GeneratedFilenamePrefix+".openapi.json", "")
		g.Write(doc)
	}
}

// indent marshals v as indented JSON.
func indent(v any) []byte {
	out, err := writeJSON(v, "  ")
	if err != nil {
		panic(err) // only strings, numbers, booleans and objects of them
	}
	return out
}

// sortedSchemas returns the components' schemas by name.
func (b *openAPIBuilder) sortedSchemas() *object {
	names := make([]string, 0, len(b.schemas))
	for n := range b.schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	schemas := newObject()
	for _, n := range names {
		schemas.set(n, b.schemas[n])
	}
	return schemas
}

// addService adds s's operations to b's paths and returns its tag, or
// nil when s has no HTTP routes.
func (b *openAPIBuilder) addService(s *serviceInfo, p Params) *object {
	if !s.http {
		return nil
	}
	svc := string(s.Desc.FullName())
	added := false
	for _, m := range s.Methods {
		for i, bind := range methodBindings(m, p.GenerateUnboundMethods) {
			path, params := b.canonicalPath(openAPIPath(bind.path))
			opID := string(s.Desc.Name()) + "_" + string(m.Desc.Name())
			if i > 0 {
				opID += "_" + strconv.Itoa(i)
			}
			item, _ := b.paths.vals[path].(*object)
			if item == nil {
				item = newObject()
				b.paths.set(path, item)
			}
			method := strings.ToLower(bind.method)
			target := item
			if !openAPIMethods[method] {
				// OpenAPI 3.1 has no place for other methods (3.2's
				// additionalOperations does): they go under an extension,
				// by their name as the gateway matches it.
				method = bind.method
				target, _ = item.vals[customMethods].(*object)
				if target == nil {
					target = newObject()
					item.set(customMethods, target)
				}
			}
			if target.has(method) {
				continue // same OpenAPI path and method as an earlier binding
			}
			target.set(method, b.operation(m, bind, params, opID, svc))
			added = true
		}
	}
	if !added {
		return nil
	}
	tag := obj("name", svc)
	if d := description(s.Comments.Leading); d != "" {
		tag.set("description", d)
	}
	return tag
}

// operation documents one binding of m.
func (b *openAPIBuilder) operation(m *protogen.Method, bind binding, params []pathParam, opID, tag string) *object {
	op := obj("operationId", opID, "tags", []string{tag})
	if d := description(m.Comments.Leading); d != "" {
		op.set("summary", summary(d))
		op.set("description", d)
	}
	// Parameters: the path's variables, then (unless the body is the
	// whole request) the request's other fields from the query string.
	var parameters []any
	inPath := make(map[string]bool)
	for _, pp := range params {
		inPath[pp.field] = true
		var schema *object
		desc := ""
		if f := fieldByPath(m.Input, pp.field); f != nil {
			schema = b.valueSchema(f)
			desc = description(f.Comments.Leading)
		}
		if pp.pattern != "*" {
			// The field gets the segments the pattern matches, literals
			// included: say which part each parameter is.
			segs := strings.Split(pp.pattern, "/")
			for i, w := 0, 0; i < len(segs); i++ {
				if segs[i] == "*" || segs[i] == "**" {
					segs[i] = "{" + pp.names[w] + "}"
					w++
				}
			}
			desc = strings.TrimSpace(desc + "\n\nThe call's " + pp.field + " is " + strings.Join(segs, "/") + ".")
			schema = nil
		}
		if schema == nil || !schema.has("type") && !schema.has("$ref") {
			schema = obj("type", "string")
		}
		for _, name := range pp.names {
			param := obj("name", name, "in", "path", "required", true)
			if desc != "" {
				param.set("description", desc)
			}
			param.set("schema", schema)
			parameters = append(parameters, param)
		}
	}
	if bind.body != "*" {
		exclude := maps.Clone(inPath)
		if bind.body != "" {
			exclude[bind.body] = true
		}
		parameters = append(parameters, b.queryParams(m.Input, "", "", exclude, map[*protogen.Message]bool{})...)
	}
	if len(parameters) > 0 {
		op.set("parameters", parameters)
	}
	// Request body.
	if bind.body != "" {
		var schema any
		if bind.body == "*" {
			schema = b.bodySchema(m.Input, inPath)
		} else if f := fieldByPath(m.Input, bind.body); f != nil {
			schema = b.fieldSchema(f)
		} else {
			schema = obj()
		}
		content := obj("schema", schema)
		desc := "The request as JSON."
		if m.Desc.IsStreamingClient() {
			desc = "The request stream: JSON messages one after the other, one per line (NDJSON), sent with Content-Type " + mediaJSON + ". Browsers open a WebSocket on the same path instead (GET with Upgrade: websocket): one JSON message per WebSocket message, an empty message ends the input, each response message arrives as one WebSocket message, and the close code is 1000 for OK or 4000 + the gRPC code."
		}
		op.set("requestBody", obj("description", desc, "content", obj(mediaJSON, content)))
	}
	// Responses.
	httpBody := m.Output.Desc.FullName() == "google.api.HttpBody" && bind.responseBody == "" && !m.Desc.IsStreamingServer()
	var result any
	if bind.responseBody != "" {
		if f := fieldByPath(m.Output, bind.responseBody); f != nil {
			result = b.fieldSchema(f)
		}
	}
	if result == nil && !httpBody {
		result = b.messageRef(m.Output)
	}
	ok := obj()
	switch {
	case m.Desc.IsStreamingServer():
		ok.set("description", "The response stream: NDJSON by default, one {\"result\": message} line per message, and, if the stream fails, a last line with the google.rpc.Status JSON ({\"code\": …, \"message\": …, \"details\": […]}).")
		b.status()
		content := obj(mediaNDJSON, obj("schema", obj(
			"description", "One line of the stream: a message or the error that ends it.",
			"oneOf", []any{
				obj("type", "object", "properties", obj("result", result), "required", []string{"result"}),
				ref(statusSchema),
			})))
		if !m.Desc.IsStreamingClient() {
			content.set(mediaSSE, obj("schema", obj("type", "string",
				"description", "Server-sent events (request with Accept: "+mediaSSE+"): one event per message, with an id, whose data is the message as JSON; keep-alive comments between events; an error ends the stream with an event of type error whose data is a google.rpc.Status JSON. A resumed request's Last-Event-ID reaches the service as metadata.")))
		}
		ok.set("content", content)
	case httpBody:
		ok.set("description", "The body the service returns, with its own content type.")
		ok.set("content", obj("*/*", obj("schema", obj())))
	default:
		ok.set("description", "OK")
		ok.set("content", obj(mediaJSON, obj("schema", result)))
	}
	b.status()
	op.set("responses", obj(
		"200", ok,
		"default", obj("description", "An error: the google.rpc.Status JSON.", "content", obj(mediaJSON, obj("schema", ref(statusSchema)))),
	))
	if kind := streamingKind(m); kind != "" {
		op.set(streamingExtension, kind)
	}
	if methodDeprecated(m) {
		op.set("deprecated", true)
	}
	return op
}

// fieldByPath resolves a dotted path of proto field names in msg.
func fieldByPath(msg *protogen.Message, path string) *protogen.Field {
	var f *protogen.Field
	for name := range strings.SplitSeq(path, ".") {
		if msg == nil {
			return nil
		}
		f = nil
		for _, c := range msg.Fields {
			if string(c.Desc.Name()) == name {
				f = c
				break
			}
		}
		if f == nil {
			return nil
		}
		msg = f.Message
	}
	return f
}

// bodySchema is the schema of a whole-message body: a reference to the
// message, or, when path variables take some of its top-level fields,
// the message's schema without them.
func (b *openAPIBuilder) bodySchema(msg *protogen.Message, inPath map[string]bool) any {
	top := false
	for _, f := range msg.Fields {
		if inPath[string(f.Desc.Name())] {
			top = true
		}
	}
	if !top || wellKnown(msg.Desc.FullName()) != nil {
		return b.messageRef(msg)
	}
	return b.messageSchema(msg, inPath)
}

// queryParams lists the fields of msg a query string can set: scalars,
// enums, repeated scalars and the string forms of well-known types, with
// nested messages flattened into dotted names (lowerCamel, as protojson
// names them; grpc-gateway accepts proto names too). Fields in exclude
// (proto paths) are left out.
func (b *openAPIBuilder) queryParams(msg *protogen.Message, protoPrefix, jsonPrefix string, exclude map[string]bool, stack map[*protogen.Message]bool) []any {
	if stack[msg] {
		return nil
	}
	stack[msg] = true
	defer delete(stack, msg)
	var out []any
	for _, f := range msg.Fields {
		protoPath := protoPrefix + string(f.Desc.Name())
		jsonName := jsonPrefix + f.Desc.JSONName()
		if exclude[protoPath] || f.Desc.IsMap() {
			continue
		}
		var schema any
		switch {
		case f.Message != nil && wellKnown(f.Message.Desc.FullName()) == nil:
			if f.Desc.IsList() {
				continue
			}
			out = append(out, b.queryParams(f.Message, protoPath+".", jsonName+".", exclude, stack)...)
			continue
		case f.Message != nil:
			if !queryable(f.Message.Desc.FullName()) {
				continue
			}
			schema = b.messageRef(f.Message)
		case f.Enum != nil:
			schema = b.enumRef(f.Enum)
		default:
			schema = scalar(f.Desc.Kind())
		}
		if f.Desc.IsList() {
			schema = obj("type", "array", "items", schema)
		}
		param := obj("name", jsonName, "in", "query")
		if d := description(f.Comments.Leading); d != "" {
			param.set("description", d)
		}
		if required(f) {
			param.set("required", true)
		}
		param.set("schema", schema)
		out = append(out, param)
	}
	return out
}

// queryable reports whether a well-known type has a string form a query
// parameter can carry.
func queryable(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
		"google.protobuf.Any", "google.protobuf.Empty":
		return false
	}
	return true
}

// scalar is protojson's form of a scalar kind.
func scalar(k protoreflect.Kind) *object {
	switch k {
	case protoreflect.BoolKind:
		return obj("type", "boolean")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return obj("type", "integer", "format", "int32")
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return obj("type", "integer", "format", "uint32", "minimum", 0)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return obj("type", "string", "format", "int64", "description", "A 64-bit integer, as a decimal string.")
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return obj("type", "string", "format", "uint64", "description", "An unsigned 64-bit integer, as a decimal string.")
	case protoreflect.FloatKind:
		return obj("type", "number", "format", "float")
	case protoreflect.DoubleKind:
		return obj("type", "number", "format", "double")
	case protoreflect.BytesKind:
		return obj("type", "string", "contentEncoding", "base64")
	}
	return obj("type", "string")
}

// fieldSchema is the schema of a field as a property: its type, list or
// map shape, and comment, OUTPUT_ONLY as readOnly, INPUT_ONLY as
// writeOnly.
func (b *openAPIBuilder) fieldSchema(f *protogen.Field) *object {
	var s *object
	switch {
	case f.Desc.IsMap():
		s = obj("type", "object", "additionalProperties", b.valueSchema(f.Message.Fields[1]))
	case f.Desc.IsList():
		s = obj("type", "array", "items", b.valueSchema(f))
	default:
		v := b.valueSchema(f)
		if v.has("$ref") {
			s = obj("$ref", v.vals["$ref"])
		} else {
			s = v
		}
	}
	desc := description(f.Comments.Leading)
	if o := f.Oneof; o != nil && !o.Desc.IsSynthetic() {
		var names []string
		for _, of := range o.Fields {
			names = append(names, of.Desc.JSONName())
		}
		desc = strings.TrimSpace(desc + "\n\nAt most one of " + strings.Join(names, ", ") + " is set (oneof " + string(o.Desc.Name()) + ").")
	}
	if desc != "" {
		s.set("description", desc)
	}
	for _, fb := range behaviors(f) {
		switch fb {
		case annotations.FieldBehavior_OUTPUT_ONLY:
			s.set("readOnly", true)
		case annotations.FieldBehavior_INPUT_ONLY:
			s.set("writeOnly", true)
		}
	}
	if f.Desc.Options().(*descriptorpb.FieldOptions).GetDeprecated() {
		s.set("deprecated", true)
	}
	return s
}

// valueSchema is the schema of one value of f: a scalar, or a reference
// to an enum or message component. It is a new object each time.
func (b *openAPIBuilder) valueSchema(f *protogen.Field) *object {
	switch {
	case f.Enum != nil:
		return b.enumRef(f.Enum)
	case f.Message != nil:
		return b.messageRef(f.Message)
	}
	return scalar(f.Desc.Kind())
}

// behaviors returns f's google.api.field_behavior values.
func behaviors(f *protogen.Field) []annotations.FieldBehavior {
	opts := f.Desc.Options()
	if opts == nil || !proto.HasExtension(opts, annotations.E_FieldBehavior) {
		return nil
	}
	fb, _ := proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return fb
}

// required reports whether f must be set: field_behavior REQUIRED, or a
// proto2 required field.
func required(f *protogen.Field) bool {
	if f.Desc.Cardinality() == protoreflect.Required {
		return true
	}
	for _, fb := range behaviors(f) {
		if fb == annotations.FieldBehavior_REQUIRED {
			return true
		}
	}
	return false
}

// messageRef returns a reference to msg's component, adding it (and
// what it refers to) on first use.
func (b *openAPIBuilder) messageRef(msg *protogen.Message) *object {
	name := string(msg.Desc.FullName())
	if _, ok := b.schemas[name]; !ok {
		b.schemas[name] = nil // taken: recursive messages refer to it
		if wk := wellKnown(msg.Desc.FullName()); wk != nil {
			if name == anySchema {
				b.anyMessage()
			}
			b.schemas[name] = wk
		} else {
			b.schemas[name] = b.messageSchema(msg, nil)
		}
	}
	return ref(name)
}

// messageSchema is msg as a JSON object, without the fields in exclude.
func (b *openAPIBuilder) messageSchema(msg *protogen.Message, exclude map[string]bool) *object {
	s := obj("type", "object")
	if d := description(msg.Comments.Leading); d != "" {
		s.set("description", d)
	}
	props := newObject()
	var req []string
	for _, f := range msg.Fields {
		if exclude[string(f.Desc.Name())] {
			continue
		}
		props.set(f.Desc.JSONName(), b.fieldSchema(f))
		if required(f) {
			req = append(req, f.Desc.JSONName())
		}
	}
	if len(props.keys) > 0 {
		s.set("properties", props)
	}
	if len(req) > 0 {
		s.set("required", req)
	}
	if msg.Desc.Options().(*descriptorpb.MessageOptions).GetDeprecated() {
		s.set("deprecated", true)
	}
	return s
}

// enumRef returns a reference to e's component: its value names as
// strings, each described.
func (b *openAPIBuilder) enumRef(e *protogen.Enum) *object {
	name := string(e.Desc.FullName())
	if name == "google.protobuf.NullValue" {
		return obj("type", "null")
	}
	if _, ok := b.schemas[name]; !ok {
		var values []string
		var lines []string
		for _, v := range e.Values {
			values = append(values, string(v.Desc.Name()))
			line := fmt.Sprintf("- %s (%d)", v.Desc.Name(), v.Desc.Number())
			if d := description(v.Comments.Leading); d != "" {
				line += ": " + strings.ReplaceAll(d, "\n", " ")
			}
			lines = append(lines, line)
		}
		desc := description(e.Comments.Leading)
		if desc != "" {
			desc += "\n\n"
		}
		desc += "Values:\n\n" + strings.Join(lines, "\n")
		b.schemas[name] = obj("type", "string", "enum", values, "description", desc)
	}
	return ref(name)
}

// status adds the google.rpc.Status component, the body of every error.
func (b *openAPIBuilder) status() {
	if _, ok := b.schemas[statusSchema]; ok {
		return
	}
	b.anyMessage()
	b.schemas[statusSchema] = obj(
		"type", "object",
		"description", "The error of a call: its gRPC code, a message for developers, and details.",
		"properties", obj(
			"code", obj("type", "integer", "format", "int32", "description", "The gRPC status code (google.rpc.Code), such as 5 for NOT_FOUND."),
			"message", obj("type", "string", "description", "A message for developers, in English."),
			"details", obj("type", "array", "items", ref(anySchema), "description", "Details of the error, such as google.rpc.BadRequest."),
		),
	)
}

// anyMessage adds the google.protobuf.Any component.
func (b *openAPIBuilder) anyMessage() {
	if b.schemas[anySchema] == nil {
		b.schemas[anySchema] = wellKnown(anySchema)
	}
}

// wellKnown returns protojson's schema of a well-known type, or nil for
// any other message.
func wellKnown(name protoreflect.FullName) *object {
	str := func(format, desc string) *object {
		s := obj("type", "string")
		if format != "" {
			s.set("format", format)
		}
		return s.set("description", desc)
	}
	switch name {
	case "google.protobuf.Timestamp":
		return str("date-time", "A point in time, in RFC 3339 format with a Z offset, such as 2026-01-02T15:04:05.000Z.")
	case "google.protobuf.Duration":
		s := str("", "A duration in seconds with up to nine fractional digits, followed by s, such as 1.5s.")
		return s.set("pattern", `^-?[0-9]+(\.[0-9]{1,9})?s$`)
	case "google.protobuf.FieldMask":
		return str("", "Field paths in lowerCamel case, separated by commas, such as name,price.")
	case "google.protobuf.Struct":
		return obj("type", "object", "additionalProperties", true, "description", "Any JSON object.")
	case "google.protobuf.Value":
		return obj("description", "Any JSON value.")
	case "google.protobuf.ListValue":
		return obj("type", "array", "items", obj(), "description", "Any JSON array.")
	case "google.protobuf.Empty":
		return obj("type", "object", "description", "No fields: an empty JSON object.")
	case anySchema:
		return obj("type", "object",
			"description", "A message of any type: @type names it (type.googleapis.com/<full name>), the other keys are its fields, or value holds the JSON of a well-known type.",
			"properties", obj("@type", obj("type", "string")),
			"required", []string{"@type"},
			"additionalProperties", true)
	case "google.protobuf.DoubleValue":
		return obj("type", "number", "format", "double")
	case "google.protobuf.FloatValue":
		return obj("type", "number", "format", "float")
	case "google.protobuf.Int64Value":
		return str("int64", "A 64-bit integer, as a decimal string.")
	case "google.protobuf.UInt64Value":
		return str("uint64", "An unsigned 64-bit integer, as a decimal string.")
	case "google.protobuf.Int32Value":
		return obj("type", "integer", "format", "int32")
	case "google.protobuf.UInt32Value":
		return obj("type", "integer", "format", "uint32", "minimum", 0)
	case "google.protobuf.BoolValue":
		return obj("type", "boolean")
	case "google.protobuf.StringValue":
		return obj("type", "string")
	case "google.protobuf.BytesValue":
		return obj("type", "string", "contentEncoding", "base64")
	}
	return nil
}

// description turns a proto comment into Markdown text: the comment's
// lines without their leading space.
func description(c protogen.Comments) string {
	if c == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(c), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, " "), " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// summary is the first sentence of a description, on one line.
func summary(desc string) string {
	para, _, _ := strings.Cut(desc, "\n\n")
	para = strings.Join(strings.Fields(para), " ")
	if i := strings.Index(para, ". "); i >= 0 {
		para = para[:i+1]
	}
	return para
}
