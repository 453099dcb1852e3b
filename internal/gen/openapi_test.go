package gen

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goms-io/goms/internal/protoreq"
)

// openAPIProto exercises what the fragment maps: field_behavior, enums
// with commented values, well-known types, maps, oneofs, nested
// messages in the query string, a one-field body, a client stream and a
// custom method.
const openAPIProto = `syntax = "proto3";

package oa.v1;

import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

option go_package = "example.com/oa/v1;oav1";

// Notes keeps notes.
service Notes {
  // Get returns a note.
  rpc Get(GetRequest) returns (Note) {
    option (google.api.http) = {get: "/v1/{name=notes/*}"};
  }
  // Update changes a note.
  rpc Update(UpdateRequest) returns (Note) {
    option (google.api.http) = {
      patch: "/v1/{note.name=notes/*}"
      body: "note"
    };
  }
  // Upload takes notes as a stream.
  rpc Upload(stream Note) returns (Note) {
    option (google.api.http) = {
      post: "/v1/notes:upload"
      body: "*"
    };
  }
  // Delete deletes a note.
  rpc Delete(GetRequest) returns (Note) {
    option (google.api.http) = {delete: "/v1/{name=shelves/*/notes/*}"};
  }
  // Purge removes notes.
  rpc Purge(GetRequest) returns (Note) {
    option (google.api.http) = {
      custom: {
        kind: "PURGE"
        path: "/v1/notes"
      }
    };
  }
}

// Color of a note.
enum Color {
  // No color given.
  COLOR_UNSPECIFIED = 0;
  // Red, for urgent notes.
  COLOR_RED = 1;
}

// Note is a note.
message Note {
  // Name of the note, notes/<id>.
  string name = 1 [(google.api.field_behavior) = REQUIRED];
  // Created is set by the server.
  google.protobuf.Timestamp created = 2 [(google.api.field_behavior) = OUTPUT_ONLY];
  Color color = 3;
  map<string, int64> counts = 4;
  oneof body {
    string text = 5;
    bytes blob = 6;
  }
  google.protobuf.Duration ttl = 7;
  google.protobuf.Struct extra = 8;
  google.protobuf.Int64Value version = 9;
  repeated Note children = 10;
}

message GetRequest {
  string name = 1 [(google.api.field_behavior) = REQUIRED];
  Filter filter = 2;
  repeated string tags = 3;
}

message Filter {
  Color color = 1;
  uint64 min_size = 2;
  Filter next = 3;
}

message UpdateRequest {
  Note note = 1;
  google.protobuf.FieldMask update_mask = 2;
}
`

// openAPIOf generates proto (a file's text) and returns the fragment of
// its one service, decoded.
func openAPIOf(t *testing.T, proto string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "oa"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oa", "oa.proto"), []byte(proto), 0o644); err != nil {
		t.Fatal(err)
	}
	req, err := protoreq.Compile(context.Background(), []string{dir}, "", "oa/oa.proto")
	if err != nil {
		t.Fatal(err)
	}
	resp := Run(req)
	if resp.Error != nil {
		t.Fatal(*resp.Error)
	}
	for _, f := range resp.File {
		content := f.GetContent()
		_, rest, ok := strings.Cut(content, "OpenAPI = `")
		if !ok {
			continue
		}
		frag, _, _ := strings.Cut(rest, "`")
		var doc map[string]any
		if err := json.Unmarshal([]byte(frag), &doc); err != nil {
			t.Fatalf("fragment is not JSON: %v\n%s", err, frag)
		}
		return doc
	}
	t.Fatal("no OpenAPI fragment generated")
	return nil
}

// at walks v along keys (object keys, array indexes as "0", "1").
func at(v any, keys ...string) any {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := int(k[0] - '0')
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

func TestOpenAPIFragment(t *testing.T) {
	doc := openAPIOf(t, openAPIProto)
	note := []string{"components", "schemas", "oa.v1.Note"}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, c := range []struct {
		path []string
		want string // JSON
	}{
		{append(note, "required"), `["name"]`},
		{append(note, "properties", "name", "description"), `"Name of the note, notes/\u003cid\u003e."`},
		{append(note, "properties", "created", "readOnly"), `true`},
		{append(note, "properties", "created", "$ref"), `"#/components/schemas/google.protobuf.Timestamp"`},
		{append(note, "properties", "counts"), `{"additionalProperties":{"description":"A 64-bit integer, as a decimal string.","format":"int64","type":"string"},"type":"object"}`},
		{append(note, "properties", "blob", "contentEncoding"), `"base64"`},
		{append(note, "properties", "text", "description"), `"At most one of text, blob is set (oneof body)."`},
		{append(note, "properties", "children", "items", "$ref"), `"#/components/schemas/oa.v1.Note"`},
		{[]string{"components", "schemas", "oa.v1.Color"}, `{"description":"Color of a note.\n\nValues:\n\n- COLOR_UNSPECIFIED (0): No color given.\n- COLOR_RED (1): Red, for urgent notes.","enum":["COLOR_UNSPECIFIED","COLOR_RED"],"type":"string"}`},
		{[]string{"components", "schemas", "google.protobuf.Timestamp", "format"}, `"date-time"`},
		{[]string{"components", "schemas", "google.protobuf.Duration", "type"}, `"string"`},
		{[]string{"components", "schemas", "google.protobuf.Struct", "type"}, `"object"`},
		{[]string{"components", "schemas", "google.protobuf.Int64Value", "type"}, `"string"`},
		{[]string{"components", "schemas", "google.protobuf.FieldMask", "type"}, `"string"`},
		// Path variable with a pattern; the other fields from the query,
		// nested ones dotted, recursion cut.
		{[]string{"paths", "/v1/notes/{name}", "get", "parameters"}, `[` +
			`{"description":"The call's name is notes/{name}.","in":"path","name":"name","required":true,"schema":{"type":"string"}},` +
			`{"in":"query","name":"filter.color","schema":{"$ref":"#/components/schemas/oa.v1.Color"}},` +
			`{"in":"query","name":"filter.minSize","schema":{"description":"An unsigned 64-bit integer, as a decimal string.","format":"uint64","type":"string"}},` +
			`{"in":"query","name":"tags","schema":{"items":{"type":"string"},"type":"array"}}]`},
		// body: "note" — the field is the body; the rest is query.
		// The same path shape as Get's: one path, Get's parameter name.
		{[]string{"paths", "/v1/notes/{name}", "patch", "requestBody", "content", "application/json", "schema", "$ref"}, `"#/components/schemas/oa.v1.Note"`},
		{[]string{"paths", "/v1/notes/{name}", "patch", "parameters", "0", "description"}, `"Name of the note, notes/\u003cid\u003e.\n\nThe call's note.name is notes/{name}."`},
		{[]string{"paths", "/v1/notes/{name}", "patch", "parameters", "1", "name"}, `"updateMask"`},
		// A client stream: NDJSON request, sent as JSON.
		{[]string{"paths", "/v1/notes:upload", "post", "x-goms-streaming"}, `"client"`},
		{[]string{"paths", "/v1/notes/{name}", "get", "x-goms-streaming"}, `null`},
		{[]string{"paths", "/v1/notes", "x-goms-custom-methods", "PURGE", "operationId"}, `"Notes_Purge"`},
		{[]string{"paths", "/v1/notes/{name}", "get", "operationId"}, `"Notes_Get"`},
		// A pattern with two wildcards: two parameters.
		{[]string{"paths", "/v1/shelves/{name_1}/notes/{name_2}", "delete", "parameters", "1", "name"}, `"name_2"`},
	} {
		if got := js(at(doc, c.path...)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", strings.Join(c.path, "."), got, c.want)
		}
	}
}
