package testutil

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// OpenAPI is an OpenAPI document decoded into maps, for tests to walk.
type OpenAPI map[string]any

// GetOpenAPI fetches the document at url, fails t unless it is served as
// 200 application/json and decodes as JSON, and returns it with its bytes.
func GetOpenAPI(t testing.TB, url string) (OpenAPI, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("GET %s: %d, body is not JSON: %v", url, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %q, want 200 application/json; body %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var doc OpenAPI
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc, raw
}

// Path walks doc along keys (object keys, or array indexes as "0", "1"),
// and returns what it finds, or nil.
func (doc OpenAPI) Path(keys ...string) any {
	var v any = map[string]any(doc)
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// Operations returns doc's operations as "METHOD /path" → operation,
// custom methods (under x-goms-custom-methods) included.
func (doc OpenAPI) Operations() map[string]map[string]any {
	ops := make(map[string]map[string]any)
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			if method == "x-goms-custom-methods" {
				for m, op := range op.(map[string]any) {
					ops[m+" "+path] = op.(map[string]any)
				}
				continue
			}
			if o, ok := op.(map[string]any); ok {
				ops[strings.ToUpper(method)+" "+path] = o
			}
		}
	}
	return ops
}

// Binding is one google.api.http binding of a method, as an OpenAPI
// operation names it.
type Binding struct {
	Route       string // "METHOD /path", path variables as {field.path}
	OperationID string // <Service>_<Method>, then _1, _2 for the next bindings
}

var pathVariable = regexp.MustCompile(`\{([^}=]+)(?:=([^}]*))?\}`)

// openAPIPath spells a google.api.http path template as GoMs's OpenAPI
// documents do: a variable's pattern written out, its literal segments in
// the path and each wildcard a parameter, named after the field, with
// _1, _2 when the pattern has several ({name=shelves/*} is
// shelves/{name}).
func openAPIPath(template string) string {
	return pathVariable.ReplaceAllStringFunc(template, func(v string) string {
		m := pathVariable.FindStringSubmatch(v)
		field, segs := m[1], strings.Split(m[2], "/")
		if m[2] == "" {
			segs = []string{"*"}
		}
		n := 0
		for _, s := range segs {
			if s == "*" || s == "**" {
				n++
			}
		}
		i := 0
		for j, s := range segs {
			if s != "*" && s != "**" {
				continue
			}
			i++
			segs[j] = "{" + field + "}"
			if n > 1 {
				segs[j] = "{" + field + "_" + strconv.Itoa(i) + "}"
			}
		}
		return strings.Join(segs, "/")
	})
}

// HTTPBindings returns every google.api.http binding (additional
// bindings included) of the methods of services, read from their runtime
// descriptors (which keep options, unlike comments).
func HTTPBindings(services ...protoreflect.ServiceDescriptor) []Binding {
	var out []Binding
	for _, sd := range services {
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			if !proto.HasExtension(md.Options(), annotations.E_Http) {
				continue
			}
			rule := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			n := 0
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				var method, path string
				switch p := r.GetPattern().(type) {
				case *annotations.HttpRule_Get:
					method, path = "GET", p.Get
				case *annotations.HttpRule_Put:
					method, path = "PUT", p.Put
				case *annotations.HttpRule_Post:
					method, path = "POST", p.Post
				case *annotations.HttpRule_Delete:
					method, path = "DELETE", p.Delete
				case *annotations.HttpRule_Patch:
					method, path = "PATCH", p.Patch
				case *annotations.HttpRule_Custom:
					method, path = p.Custom.GetKind(), p.Custom.GetPath()
				}
				if path == "" {
					continue
				}
				id := string(sd.Name()) + "_" + string(md.Name())
				if n > 0 {
					id += "_" + strconv.Itoa(n)
				}
				n++
				out = append(out, Binding{Route: method + " " + openAPIPath(path), OperationID: id})
			}
		}
	}
	return out
}

// shape is route with its parameters' names left out.
func shape(route string) string { return openAPIParameter.ReplaceAllString(route, "{}") }

var openAPIParameter = regexp.MustCompile(`\{[^}]*\}`)

// CheckBindings fails t unless doc has one operation per binding of
// services, with the binding's operationId, and no other operation.
//
// Routes are compared by shape (parameters' names left out): a path of the
// same shape as an earlier one takes its parameters' names, as OpenAPI
// requires.
func CheckBindings(t testing.TB, doc OpenAPI, services ...protoreflect.ServiceDescriptor) {
	t.Helper()
	ops := make(map[string]map[string]any)
	for route, op := range doc.Operations() {
		ops[shape(route)] = op
	}
	want := HTTPBindings(services...)
	for i := range want {
		want[i].Route = shape(want[i].Route)
	}
	seen := make(map[string]bool)
	for _, b := range want {
		if seen[b.Route] {
			t.Errorf("binding %s declared twice in the protos", b.Route)
		}
		seen[b.Route] = true
		op, ok := ops[b.Route]
		if !ok {
			t.Errorf("document lacks %s (%s)", b.Route, b.OperationID)
			continue
		}
		if id := op["operationId"]; id != b.OperationID {
			t.Errorf("%s: operationId %v, want %s", b.Route, id, b.OperationID)
		}
	}
	var extra []string
	for route := range ops {
		if !seen[route] {
			extra = append(extra, route)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("document has operations no binding declares: %v", extra)
	}
	if len(want) == 0 {
		t.Error("no bindings to check")
	}
}
