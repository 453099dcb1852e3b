package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	stockv1 "github.com/goms-io/goms/examples/shop/gen/stock/v1"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// shopServices are the descriptors of the shop's services: the routes
// the document must list are read from their google.api.http options.
func shopServices() []protoreflect.ServiceDescriptor {
	return []protoreflect.ServiceDescriptor{
		catalogv1.File_shop_catalog_v1_catalog_proto.Services().ByName("CatalogService"),
		ordersv1.File_shop_orders_v1_orders_proto.Services().ByName("OrderService"),
		stockv1.File_shop_stock_v1_stock_proto.Services().ByName("StockService"),
	}
}

// TestOpenAPI checks the document the shop serves in gateway mode: every
// binding once, comments as descriptions, protojson's types, streams'
// media types, the error contract; and how it is served.
func TestOpenAPI(t *testing.T) {
	p := startShop(t, "gateway")
	url := "http://" + p.HTTPAddr + "/openapi.json"
	doc, raw := testutil.GetOpenAPI(t, url)
	testutil.CheckBindings(t, doc, shopServices()...)

	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"openapi"}, "3.1.0"},
		{[]string{"servers", "0", "url"}, "/"},
		// Comments become descriptions: services, methods, messages, fields.
		{[]string{"paths", "/v1/products/{id}", "get", "description"}, "GetProduct returns one product by its ID, or NOT_FOUND."},
		{[]string{"paths", "/v1/products/{id}", "get", "parameters", "0", "description"}, "ID of the product."},
		{[]string{"paths", "/v1/products/{id}", "get", "parameters", "0", "in"}, "path"},
		{[]string{"components", "schemas", "shop.catalog.v1.Product", "description"}, "Product is one thing the shop sells."},
		{[]string{"components", "schemas", "shop.catalog.v1.Product", "properties", "unitsInStock", "description"}, "UnitsInStock is the number of units in stock, from the StockService."},
		// protojson: lowerCamel names, int64 as a string.
		{[]string{"components", "schemas", "shop.catalog.v1.Product", "properties", "priceCents", "type"}, "string"},
		{[]string{"components", "schemas", "shop.catalog.v1.Product", "properties", "priceCents", "format"}, "int64"},
		{[]string{"components", "schemas", "shop.catalog.v1.Product", "properties", "unitsInStock", "type"}, "integer"},
		// Bodies: body "*" is the request message.
		{[]string{"paths", "/v1/orders", "post", "requestBody", "content", "application/json", "schema", "$ref"}, "#/components/schemas/shop.orders.v1.CreateOrderRequest"},
		// Errors: google.rpc.Status.
		{[]string{"paths", "/v1/orders", "post", "responses", "default", "content", "application/json", "schema", "$ref"}, "#/components/schemas/google.rpc.Status"},
		{[]string{"components", "schemas", "google.rpc.Status", "properties", "code", "type"}, "integer"},
		// The server stream: NDJSON lines, or SSE on request.
		{[]string{"paths", "/v1/products", "get", "responses", "200", "content", "application/x-ndjson", "schema", "oneOf", "0", "properties", "result", "$ref"}, "#/components/schemas/shop.catalog.v1.ListProductsResponse"},
		{[]string{"paths", "/v1/products", "get", "responses", "200", "content", "application/x-ndjson", "schema", "oneOf", "1", "$ref"}, "#/components/schemas/google.rpc.Status"},
		{[]string{"paths", "/v1/products", "get", "x-goms-streaming"}, "server"},
		{[]string{"paths", "/v1/orders:quoteLive", "post", "x-goms-streaming"}, "bidi"},
		{[]string{"paths", "/v1/products", "get", "responses", "200", "content", "text/event-stream", "schema", "type"}, "string"},
		// Unary answers are plain JSON.
		{[]string{"paths", "/v1/orders/{id}", "get", "responses", "200", "content", "application/json", "schema", "$ref"}, "#/components/schemas/shop.orders.v1.GetOrderResponse"},
	} {
		if got := doc.Path(c.path...); got != c.want {
			t.Errorf("%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	tags, _ := doc["tags"].([]any)
	var names []string
	for _, tag := range tags {
		names = append(names, tag.(map[string]any)["name"].(string))
		if d, _ := tag.(map[string]any)["description"].(string); d == "" {
			t.Errorf("tag %v has no description", tag)
		}
	}
	// StockService has no HTTP routes: it is not in the document.
	if got := strings.Join(names, ","); got != "shop.catalog.v1.CatalogService,shop.orders.v1.OrderService" {
		t.Errorf("tags %s, want the two services with HTTP routes", got)
	}

	// HEAD, the ETag and other methods.
	resp := do(t, "HEAD", url, nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Content-Type") != "application/json" || len(readAll(t, resp)) != 0 {
		t.Errorf("HEAD: %d, ETag %q, Content-Type %q; want 200 with an ETag and no body", resp.StatusCode, etag, resp.Header.Get("Content-Type"))
	}
	if resp := do(t, "GET", url, http.Header{"If-None-Match": {etag}}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET with If-None-Match: %d, want 304", resp.StatusCode)
	}
	if resp := do(t, "POST", url, nil); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("POST: %d, Allow %q; want 405 with Allow", resp.StatusCode, resp.Header.Get("Allow"))
	}

	// http mode serves the document of the services it fronts: the same.
	t.Run("http mode", func(t *testing.T) {
		backend := startShop(t, "grpc")
		front := startShop(t, "http", "-upstream", backend.GRPCAddr)
		got, gotRaw := testutil.GetOpenAPI(t, "http://"+front.HTTPAddr+"/openapi.json")
		testutil.CheckBindings(t, got, shopServices()...)
		if !bytes.Equal(gotRaw, raw) {
			t.Errorf("http mode's document differs from gateway mode's")
		}
	})
	t.Run("off", func(t *testing.T) {
		off := startShop(t, "gateway", "-http-openapi-path", "")
		resp := do(t, "GET", "http://"+off.HTTPAddr+"/openapi.json", nil)
		if body := readAll(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"code":5`) {
			t.Errorf("with http.openapi_path empty: %d %s, want 404 with the JSON error body", resp.StatusCode, body)
		}
	})
	t.Run("moved", func(t *testing.T) {
		moved := startShop(t, "gateway", "-http-openapi-path", "/api/openapi.json")
		testutil.GetOpenAPI(t, "http://"+moved.HTTPAddr+"/api/openapi.json")
	})
}

func do(t *testing.T, method, url string, h http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
