package main

import (
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCP opts the catalog and QuoteOrder in as MCP tools, as the README
// shows, and checks them with the SDK's client: the list, the read-only
// hint of QuoteOrder (NO_SIDE_EFFECTS), a quote, and a quote the rules
// refuse.
func TestMCP(t *testing.T) {
	p := startShop(t, "gateway", "-mcp-tools", "shop.catalog.v1.CatalogService,shop.orders.v1.OrderService/QuoteOrder")
	c := sdk.NewClient(&sdk.Implementation{Name: "shop-test", Version: "1"}, nil)
	cs, err := c.Connect(ctx(t), &sdk.StreamableClientTransport{Endpoint: "http://" + p.HTTPAddr + "/mcp", DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer cs.Close()
	list, err := cs.ListTools(ctx(t), nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
		if tool.Name == "shop_orders_v1_OrderService_QuoteOrder" && (tool.Annotations == nil || !tool.Annotations.ReadOnlyHint) {
			t.Errorf("QuoteOrder: annotations %+v, want readOnlyHint", tool.Annotations)
		}
	}
	slices.Sort(names)
	want := []string{"shop_catalog_v1_CatalogService_GetProduct", "shop_catalog_v1_CatalogService_ListProducts", "shop_orders_v1_OrderService_QuoteOrder"}
	if !slices.Equal(names, want) {
		t.Fatalf("tools/list = %v, want %v", names, want)
	}
	for _, c := range []struct {
		args    map[string]any
		isError bool
		want    string
	}{
		{map[string]any{"items": []any{map[string]any{"productId": "tea", "quantity": 2}}}, false, `"totalCents":`},
		{map[string]any{"items": []any{}}, true, `"reason":"repeated.min_items"`},
	} {
		res, err := cs.CallTool(ctx(t), &sdk.CallToolParams{Name: "shop_orders_v1_OrderService_QuoteOrder", Arguments: c.args})
		if err != nil {
			t.Fatalf("CallTool: %v", err)
		}
		text := res.Content[0].(*sdk.TextContent).Text
		if res.IsError != c.isError || !strings.Contains(text, c.want) {
			t.Errorf("QuoteOrder(%v) = %s (isError %v), want %s (isError %v)", c.args, text, res.IsError, c.want, c.isError)
		}
	}
}
