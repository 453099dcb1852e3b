package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestOrderLimits checks the order service's limits, set in its config
// block: the store keeps the last max_orders orders, however many are
// created, and an order or a quote with more than max_items items is
// refused before any catalog call, with INVALID_ARGUMENT (a BadRequest
// naming the field) over gRPC and 400 over HTTP.
func TestOrderLimits(t *testing.T) {
	const maxOrders, maxItems, extra = 3, 5, 4
	file := filepath.Join(t.TempDir(), "shop.yaml")
	config := fmt.Sprintf("services:\n  shop.orders.v1.OrderService:\n    config:\n      max_items: %d\n      max_orders: %d\n", maxItems, maxOrders)
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startShop(t, "gateway", "-config", file)
	orders := ordersv1.NewOrderServiceClient(dial(t, p.GRPCAddr))

	var ids []string
	for range maxOrders + extra {
		resp, err := orders.CreateOrder(ctx(t), &ordersv1.CreateOrderRequest{Items: []*ordersv1.Item{{ProductId: "tea", Quantity: 1}}})
		if err != nil {
			t.Fatalf("CreateOrder: %v", err)
		}
		ids = append(ids, resp.GetOrder().GetId())
	}
	kept := 0
	for i, id := range ids {
		_, err := orders.GetOrder(ctx(t), &ordersv1.GetOrderRequest{Id: id})
		switch {
		case err == nil:
			kept++
			if i < extra {
				t.Errorf("order %d of %d (%s) still kept; max_orders %d", i+1, len(ids), id, maxOrders)
			}
		case status.Code(err) != codes.NotFound:
			t.Errorf("GetOrder(%s): %v", id, err)
		case i >= extra:
			t.Errorf("order %d of %d (%s), one of the last %d, forgotten", i+1, len(ids), id, maxOrders)
		}
	}
	if kept != maxOrders {
		t.Errorf("%d orders kept after %d created, want max_orders %d", kept, len(ids), maxOrders)
	}

	items := func(n int) []*ordersv1.Item {
		var items []*ordersv1.Item
		for range n {
			items = append(items, &ordersv1.Item{ProductId: "tea", Quantity: 1})
		}
		return items
	}
	if _, err := orders.QuoteOrder(ctx(t), &ordersv1.QuoteOrderRequest{Items: items(maxItems)}); err != nil {
		t.Errorf("QuoteOrder of max_items items: %v", err)
	}
	_, err := orders.CreateOrder(ctx(t), &ordersv1.CreateOrderRequest{Items: items(maxItems + 1)})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("CreateOrder of max_items+1 items: %v, want InvalidArgument", err)
	}
	var field string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			field = br.GetFieldViolations()[0].GetField()
		}
	}
	if field != "items" {
		t.Errorf("CreateOrder of max_items+1 items: details %v, want a BadRequest on field items", st.Details())
	}

	body := `{"items":[` + strings.TrimSuffix(strings.Repeat(`{"productId":"tea","quantity":1},`, maxItems+1), ",") + `]}`
	for _, path := range []string{"/v1/orders", "/v1/orders:quote"} {
		resp, err := http.Post("http://"+p.HTTPAddr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"code":3`) || !strings.Contains(string(b), `"field":"items"`) {
			t.Errorf("POST %s with max_items+1 items = %d %s, want 400, code 3, a violation on field items", path, resp.StatusCode, b)
		}
	}
	// The refused orders were not stored: the last ones kept still are.
	if _, err := orders.GetOrder(ctx(t), &ordersv1.GetOrderRequest{Id: ids[len(ids)-1]}); err != nil {
		t.Errorf("GetOrder(%s) after refused orders: %v", ids[len(ids)-1], err)
	}
}

// TestOrderConfigInvalid checks that a bad config block stops the shop at
// start, naming the key.
func TestOrderConfigInvalid(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(file, []byte("services:\n  shop.orders.v1.OrderService:\n    config:\n      max_orders: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(shopBin(t), "-config", file, "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "max_orders") {
		t.Errorf("shop with max_orders 0: %v\n%s", err, out)
	}
}
