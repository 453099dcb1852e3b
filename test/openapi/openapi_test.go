package openapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/examples/shop"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/fixtures/types"
	"github.com/goms-io/goms/internal/gen/testdata/bindings"
	"github.com/goms-io/goms/internal/gen/testdata/editions"
	"github.com/goms-io/goms/internal/gen/testdata/proto2"
	"github.com/goms-io/goms/internal/gen/testdata/unbound"
	"github.com/goms-io/goms/internal/gen/testdata/wkt"
	"github.com/goms-io/goms/internal/testutil"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// serve starts a server in mode with register's services on free ports
// and returns the document it serves.
func serve(t *testing.T, mode goms.Mode, register func(*goms.Server) error) (testutil.OpenAPI, []byte) {
	t.Helper()
	cfg := goms.DefaultConfig()
	cfg.Mode = mode
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	if mode == goms.ModeHTTP {
		cfg.Upstream = testutil.FreeAddr(t) // never called: only the document is read
	}
	s := goms.New(cfg, goms.WithLogger(slog.New(slog.DiscardHandler)))
	if err := register(s); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return testutil.GetOpenAPI(t, "http://"+s.HTTPAddr()+"/openapi.json")
}

// validate returns what the validators find wrong in doc, one line
// each: libopenapi-validator checks it against the OpenAPI 3.1 schema;
// kin-openapi checks what a schema cannot (every path variable declared,
// operationIds unique, schemas well-formed).
func validate(doc []byte) []string {
	var out []string
	loader := openapi3.NewLoader()
	kin, err := loader.LoadFromData(doc)
	if err != nil {
		out = append(out, "kin-openapi: load: "+err.Error())
	} else {
		if !kin.IsOpenAPI31OrLater() {
			out = append(out, "kin-openapi reads the document as OpenAPI "+kin.OpenAPI+", want 3.1")
		}
		if err := kin.Validate(loader.Context, openapi3.EnableMultiError()); err != nil {
			out = append(out, "kin-openapi: "+err.Error())
		}
	}
	d, err := libopenapi.NewDocumentWithConfiguration(doc, &datamodel.DocumentConfiguration{
		Logger: slog.New(slog.DiscardHandler), // what it finds comes back as errors
	})
	if err != nil {
		return append(out, "libopenapi: "+err.Error())
	}
	if v := d.GetSpecInfo().SpecFormat; v != "oas3_1" {
		out = append(out, "libopenapi reads the document as "+v+", want oas3_1")
	}
	if _, err := d.BuildV3Model(); err != nil {
		return append(out, "libopenapi: cannot build the 3.1 model: "+err.Error())
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return append(out, fmt.Sprint("libopenapi-validator: ", errs))
	}
	_, verrs := v.ValidateDocument()
	for _, e := range verrs {
		line := "libopenapi-validator: " + e.Message + ": " + e.Reason
		for _, s := range e.SchemaValidationErrors {
			line += fmt.Sprintf("\n\t%s %s: %s", s.KeywordLocation, strings.Join(s.InstancePath, "/"), s.Reason)
		}
		out = append(out, line)
	}
	return out
}

// TestDocumentsValid validates the documents of the example shop, of the
// fixtures, and of the generator's golden cases with HTTP routes, each
// served by a real server, and checks that each lists every binding of
// its services once.
func TestDocumentsValid(t *testing.T) {
	for _, c := range []struct {
		name     string
		mode     goms.Mode
		register func(*goms.Server) error
		services []protoreflect.ServiceDescriptor
	}{
		{"shop", goms.ModeGateway, shop.Register, nil},
		{"fixtures", goms.ModeGateway, func(s *goms.Server) error {
			echo.RegisterEchoService(s, &echotest.Server{})
			types.RegisterTypesService(s, types.UnimplementedTypesServiceServer{})
			return nil
		}, []protoreflect.ServiceDescriptor{
			echo.File_fixtures_echo_echo_proto.Services().Get(0),
			types.File_fixtures_types_types_proto.Services().Get(0),
		}},
		{"bindings", goms.ModeHTTP, func(s *goms.Server) error {
			bindings.RegisterLibraryService(s, nil)
			bindings.RegisterOnlyAdditionalService(s, nil)
			return nil
		}, []protoreflect.ServiceDescriptor{
			bindings.File_bindings_bindings_proto.Services().ByName("LibraryService"),
			bindings.File_bindings_bindings_proto.Services().ByName("OnlyAdditionalService"),
		}},
		{"wkt", goms.ModeHTTP, func(s *goms.Server) error { wkt.RegisterWellKnownService(s, nil); return nil },
			[]protoreflect.ServiceDescriptor{wkt.File_wkt_wkt_proto.Services().Get(0)}},
		{"proto2", goms.ModeHTTP, func(s *goms.Server) error { proto2.RegisterLegacyService(s, nil); return nil },
			[]protoreflect.ServiceDescriptor{proto2.File_proto2_proto2_proto.Services().Get(0)}},
		{"editions", goms.ModeHTTP, func(s *goms.Server) error { editions.RegisterNoteService(s, nil); return nil },
			[]protoreflect.ServiceDescriptor{editions.File_editions_editions_proto.Services().Get(0)}},
		{"unbound", goms.ModeHTTP, func(s *goms.Server) error { unbound.RegisterStreamService(s, nil); return nil }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, raw := serve(t, c.mode, c.register)
			if errs := validate(raw); len(errs) > 0 {
				t.Errorf("%d validation errors:\n%s", len(errs), strings.Join(errs, "\n"))
			}
			if c.services != nil {
				testutil.CheckBindings(t, doc, c.services...)
			}
			if c.name == "fixtures" {
				// An enum: its value names, each described.
				color := doc.Path("components", "schemas", "fixtures.types.Color")
				b, _ := json.Marshal(color)
				if want := `{"description":"Color is an enum: JSON carries its value names.\n\nValues:\n\n- COLOR_UNSPECIFIED (0): No color given.\n- COLOR_RED (1): Red.\n- COLOR_GREEN (2): Green.","enum":["COLOR_UNSPECIFIED","COLOR_RED","COLOR_GREEN"],"type":"string"}`; string(b) != want {
					t.Errorf("fixtures.types.Color:\n got %s\nwant %s", b, want)
				}
			}
		})
	}
}

// TestValidatorFindsErrors checks that the validator can fail: the
// shop's document, broken in ways a generator could break it, is
// refused.
func TestValidatorFindsErrors(t *testing.T) {
	_, raw := serve(t, goms.ModeGateway, shop.Register)
	for _, c := range []struct {
		name   string
		break_ func(doc map[string]any)
	}{
		{"path variable without a parameter", func(doc map[string]any) {
			delete(doc["paths"].(map[string]any)["/v1/products/{id}"].(map[string]any)["get"].(map[string]any), "parameters")
		}},
		{"operationId twice", func(doc map[string]any) {
			doc["paths"].(map[string]any)["/v1/orders"].(map[string]any)["post"].(map[string]any)["operationId"] = "OrderService_GetOrder"
		}},
		{"reference to a missing schema", func(doc map[string]any) {
			delete(doc["components"].(map[string]any)["schemas"].(map[string]any), "shop.catalog.v1.Product")
		}},
		{"not 3.1", func(doc map[string]any) { doc["openapi"] = "3.1" }},
		{"schema type that does not exist", func(doc map[string]any) {
			doc["components"].(map[string]any)["schemas"].(map[string]any)["shop.catalog.v1.Product"].(map[string]any)["type"] = "record"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			c.break_(doc)
			broken, _ := json.Marshal(doc)
			if errs := validate(broken); len(errs) == 0 {
				t.Error("the validator finds no error")
			}
		})
	}
}

// TestStandaloneFiles validates the documents protoc-gen-goms writes with
// openapi=true (the shop's <file>.openapi.json, committed) and checks that
// together they hold the paths and schemas the shop serves.
func TestStandaloneFiles(t *testing.T) {
	served, _ := serve(t, goms.ModeGateway, shop.Register)
	paths := make(map[string]any)
	schemas := make(map[string]any)
	for _, f := range []string{
		"../../examples/shop/gen/catalog/v1/catalog.openapi.json",
		"../../examples/shop/gen/orders/v1/orders.openapi.json",
	} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if errs := validate(raw); len(errs) > 0 {
			t.Errorf("%s: %d validation errors:\n%s", f, len(errs), strings.Join(errs, "\n"))
		}
		var doc testutil.OpenAPI
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		maps.Copy(paths, doc["paths"].(map[string]any))
		maps.Copy(schemas, doc.Path("components", "schemas").(map[string]any))
	}
	if !reflect.DeepEqual(paths, served["paths"]) {
		t.Error("the standalone files' paths differ from the served document's")
	}
	if !reflect.DeepEqual(schemas, served.Path("components", "schemas")) {
		t.Error("the standalone files' schemas differ from the served document's")
	}
}

// library answers GetBook with what reached it, so that a test sees
// which parameters the gateway decoded.
type library struct {
	bindings.UnimplementedLibraryServiceServer
}

func (library) GetBook(_ context.Context, req *bindings.GetBookRequest) (*bindings.Book, error) {
	b := req.GetBook()
	return &bindings.Book{
		Id:    b.GetId(),
		Shelf: b.GetShelf(),
		Title: fmt.Sprintf("title=%s filter=%s pageSize=%d", b.GetTitle(), req.GetFilter(), req.GetPageSize()),
		Tags:  b.GetTags(),
	}, nil
}

// TestDocumentDrivesCalls calls GetBook's GET bindings as a client built
// from the document would: it fills in the path and query parameters the
// document lists, by name and schema type, and checks that every one
// reached the service (the gateway ignores query names it does not know,
// so a wrong name would go unnoticed otherwise).
func TestDocumentDrivesCalls(t *testing.T) {
	var s *goms.Server
	doc, _ := serve(t, goms.ModeGateway, func(srv *goms.Server) error {
		s = srv
		bindings.RegisterLibraryService(srv, library{})
		return nil
	})
	values := map[string]string{
		"book.id": "b1", "book.shelf.name": "s1", "book.title": "Dune", "filter": "new", "pageSize": "7",
	}
	// On /v1/books/{book.id}, book.shelf.name comes from the query: whole.
	query := map[string]string{"book.shelf.name": "shelves/s1"}
	for _, route := range []string{"GET /v1/shelves/{book.shelf.name}/books/{book.id}", "GET /v1/books/{book.id}"} {
		t.Run(route, func(t *testing.T) {
			op := doc.Operations()[route]
			if op == nil {
				t.Fatalf("no %s", route)
			}
			path := strings.TrimPrefix(route, "GET ")
			q := url.Values{}
			for _, p := range op["parameters"].([]any) {
				p := p.(map[string]any)
				name := p["name"].(string)
				v, ok := values[name]
				if p["schema"].(map[string]any)["type"] == "array" {
					v, ok = "", true
					q.Add(name, "t1")
					q.Add(name, "t2")
				}
				if !ok {
					t.Fatalf("parameter %s: no test value", name)
				}
				switch {
				case p["in"] == "path":
					// Escaped, as clients do: a "/" would not survive.
					path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(v))
				case v != "":
					if whole, ok := query[name]; ok {
						v = whole
					}
					q.Set(name, v)
				}
			}
			code, body := testutil.Get(t, "http://"+s.HTTPAddr()+path+"?"+q.Encode())
			body = testutil.CompactJSON(body) // protojson varies its spaces
			for _, want := range []string{`"id":"b1"`, `"shelf":{"name":"shelves/s1"}`, `"title":"title=Dune filter=new pageSize=7"`, `"tags":["t1","t2"]`} {
				if code != 200 || !strings.Contains(body, want) {
					t.Errorf("GET %s?%s: %d %s, want 200 with %s", path, q.Encode(), code, body, want)
				}
			}
		})
	}
}
