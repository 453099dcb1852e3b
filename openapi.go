package goms

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/goms-io/goms/internal/gateway"
)

// DefaultOpenAPIPath is where the HTTP port serves the OpenAPI document
// unless [HTTPConfig.OpenAPIPath] says otherwise.
const DefaultOpenAPIPath = "/openapi.json"

// DefaultDocsPath is where the HTTP port serves the API console unless
// [HTTPConfig.DocsPath] says otherwise.
const DefaultDocsPath = "/docs"

// openAPIFragment is what protoc-gen-goms writes into [Service.OpenAPI]:
// one service's tag, paths and schemas.
type openAPIFragment struct {
	Tags       []json.RawMessage                     `json:"tags"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

// openAPIDocument is the document served: an OpenAPI 3.1 document with
// the paths of every service, and each schema once.
type openAPIDocument struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Servers    []map[string]string                   `json:"servers"`
	Tags       []json.RawMessage                     `json:"tags"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

// mergeOpenAPI merges the fragments of services into one document. A
// path and method two services both declare keeps the first one, as the
// gateway's mux would route it; a schema is taken once by its full proto
// name. A fragment that does not parse is an error naming its service.
func mergeOpenAPI(services []Service) ([]byte, error) {
	var doc openAPIDocument
	doc.OpenAPI = "3.1.0"
	doc.Info.Title = "GoMs HTTP API"
	doc.Info.Version = "1"
	doc.Servers = []map[string]string{{"url": "/"}}
	doc.Tags = []json.RawMessage{}
	doc.Paths = make(map[string]map[string]json.RawMessage)
	doc.Components.Schemas = make(map[string]json.RawMessage)
	var names []string
	opIDs := make(map[string]bool)
	for _, svc := range services {
		if svc.OpenAPI == "" {
			continue
		}
		var f openAPIFragment
		if err := json.Unmarshal([]byte(svc.OpenAPI), &f); err != nil {
			return nil, fmt.Errorf("service %s: OpenAPI fragment: %w", svc.name(), err)
		}
		names = append(names, svc.name())
		doc.Tags = append(doc.Tags, f.Tags...)
		for path, item := range f.Paths {
			if doc.Paths[path] == nil {
				doc.Paths[path] = make(map[string]json.RawMessage)
			}
			for method, op := range item {
				if _, ok := doc.Paths[path][method]; !ok {
					doc.Paths[path][method] = uniqueOperationID(op, opIDs)
				}
			}
		}
		for name, schema := range f.Components.Schemas {
			if _, ok := doc.Components.Schemas[name]; !ok {
				doc.Components.Schemas[name] = schema
			}
		}
	}
	doc.Info.Description = "The HTTP/JSON routes of " + strings.Join(names, ", ") +
		", served by GoMs. Errors are google.rpc.Status JSON bodies; server streams answer NDJSON, or server-sent events on Accept: text/event-stream."
	if len(names) == 0 {
		doc.Info.Description = "No registered service has HTTP routes."
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// uniqueOperationID returns op, with its operationId made unique among
// ids (which it joins): an id another service took already, as two
// services of the same name in different packages would
// (<Service>_<Method>), gets the full service name, its first tag, in
// place of the short one. Anything else (a custom methods' extension)
// is returned as is.
func uniqueOperationID(op json.RawMessage, ids map[string]bool) json.RawMessage {
	var o struct {
		OperationID string   `json:"operationId"`
		Tags        []string `json:"tags"`
	}
	if json.Unmarshal(op, &o) != nil || o.OperationID == "" {
		return op
	}
	if !ids[o.OperationID] || len(o.Tags) == 0 {
		ids[o.OperationID] = true
		return op
	}
	_, method, _ := strings.Cut(o.OperationID, "_")
	id := o.Tags[0] + "_" + method
	var fields map[string]json.RawMessage
	if json.Unmarshal(op, &fields) != nil {
		return op
	}
	fields["operationId"], _ = json.Marshal(id)
	out, err := json.Marshal(fields)
	if err != nil {
		return op
	}
	ids[id] = true
	return out
}

// openAPIHandler serves doc at path (GET and HEAD, with an ETag) and
// passes every other request to next.
func openAPIHandler(path string, doc []byte, next http.Handler) http.Handler {
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			gateway.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc))
	})
}

// optionalPathValue is a URL path (starting with "/") or empty.
type optionalPathValue string

func (v *optionalPathValue) String() string { return string(*v) }
func (v *optionalPathValue) Set(s string) error {
	if s != "" && (!strings.HasPrefix(s, "/") || strings.ContainsAny(s, "?# \t")) {
		return fmt.Errorf("invalid path %q: want a URL path starting with /, or empty", s)
	}
	*v = optionalPathValue(s)
	return nil
}

// openAPI wraps next with the handler of the OpenAPI document of the
// services whose routes the HTTP port serves: in http mode, those it
// fronts.
func (s *Server) openAPI(next http.Handler) (http.Handler, error) {
	var p optionalPathValue
	if err := p.Set(s.cfg.HTTP.OpenAPIPath); err != nil {
		return nil, fmt.Errorf("http.openapi_path: %w", err)
	}
	var routed []Service
	for _, svc := range s.services {
		if svc.Gateway != nil && s.cfg.service(svc.name()).HTTP {
			routed = append(routed, svc)
		}
	}
	doc, err := mergeOpenAPI(routed)
	if err != nil {
		return nil, err
	}
	return openAPIHandler(s.cfg.HTTP.OpenAPIPath, doc, next), nil
}
