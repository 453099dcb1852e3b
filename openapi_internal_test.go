package goms

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc"
)

// TestMergeOpenAPI checks the merge of fragments: paths of several
// services side by side, a path two services share keeps both methods,
// a schema is taken once (the first), services without a fragment add
// nothing, and a fragment that is not JSON is an error naming its service.
func TestMergeOpenAPI(t *testing.T) {
	svc := func(name, frag string) Service {
		return Service{Desc: &grpc.ServiceDesc{ServiceName: name}, OpenAPI: frag}
	}
	doc, err := mergeOpenAPI([]Service{
		svc("a.A", `{"tags":[{"name":"a.A"}],"paths":{"/v1/x":{"get":{"operationId":"A_Get"}}},"components":{"schemas":{"a.M":{"type":"object","description":"first"}}}}`),
		svc("a.None", ""),
		svc("b.B", `{"tags":[{"name":"b.B"}],"paths":{"/v1/x":{"post":{"operationId":"B_Post"}},"/v1/y":{"get":{"operationId":"B_Get"}}},"components":{"schemas":{"a.M":{"type":"object","description":"second"},"b.N":{"type":"string"}}}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		OpenAPI string
		Servers []map[string]string
		Tags    []map[string]string
		Paths   map[string]map[string]map[string]string
		Info    map[string]string
		// Components.Schemas
		Components struct{ Schemas map[string]map[string]string }
	}
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	for _, c := range []struct{ name, got, want string }{
		{"openapi", got.OpenAPI, "3.1.0"},
		{"server", got.Servers[0]["url"], "/"},
		{"tags", got.Tags[0]["name"] + "," + got.Tags[1]["name"], "a.A,b.B"},
		{"GET /v1/x", got.Paths["/v1/x"]["get"]["operationId"], "A_Get"},
		{"POST /v1/x", got.Paths["/v1/x"]["post"]["operationId"], "B_Post"},
		{"GET /v1/y", got.Paths["/v1/y"]["get"]["operationId"], "B_Get"},
		{"a.M", got.Components.Schemas["a.M"]["description"], "first"},
		{"b.N", got.Components.Schemas["b.N"]["type"], "string"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !strings.Contains(got.Info["description"], "a.A, b.B") {
		t.Errorf("info.description %q does not name the services", got.Info["description"])
	}
	// Two services of one name in two packages: the second's
	// operationIds take the full name.
	doc, err = mergeOpenAPI([]Service{
		svc("v1.S", `{"paths":{"/v1/s":{"get":{"operationId":"S_Get","tags":["v1.S"]}}}}`),
		svc("v2.S", `{"paths":{"/v2/s":{"get":{"operationId":"S_Get","tags":["v2.S"]}}}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"operationId":"S_Get","tags":["v1.S"]`, `"operationId":"v2.S_Get"`} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("document lacks %s: %s", want, doc)
		}
	}
	if _, err := mergeOpenAPI([]Service{svc("c.C", `{"paths":`)}); err == nil || !strings.Contains(err.Error(), "c.C") {
		t.Errorf("broken fragment: error %v, want one naming c.C", err)
	}
}

func TestOpenAPIPathSetting(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{{"/openapi.json", true}, {"", true}, {"/api/v1/openapi.json", true}, {"openapi.json", false}, {"/a?b", false}, {"/a b", false}} {
		var v optionalPathValue
		if err := v.Set(c.in); (err == nil) != c.ok {
			t.Errorf("Set(%q) = %v, want ok %v", c.in, err, c.ok)
		}
	}
}
