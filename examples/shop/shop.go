// Package shop is the example shop: an order service that prices orders
// with a catalog service, which reads units in stock from a stock service.
// A call to the order service crosses all three, in-process or over gRPC
// depending on where each one runs; cmd/shop is its binary.
package shop

import (
	"fmt"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/examples/shop/catalog"
	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	stockv1 "github.com/goms-io/goms/examples/shop/gen/stock/v1"
	"github.com/goms-io/goms/examples/shop/orders"
	"github.com/goms-io/goms/examples/shop/stock"
)

// Register registers the shop's three services with s. Each service gets
// the next one's typed client from s: in-process when s hosts that
// service, over gRPC at its target otherwise. Which services s hosts is
// configuration (-serve); the code is the same for one process or many.
// The order service reads its limits from its config block
// (services.shop.orders.v1.OrderService.config: max_items, max_orders; see
// [orders.Config]); Register fails on a bad block.
func Register(s *goms.Server) error {
	ocfg := orders.DefaultConfig()
	if err := s.Config().DecodeService(ordersv1.OrderService_ServiceDesc.ServiceName, &ocfg); err != nil {
		return err
	}
	if err := ocfg.Validate(); err != nil {
		return fmt.Errorf("services.%s.config: %w", ordersv1.OrderService_ServiceDesc.ServiceName, err)
	}
	stockv1.RegisterStockService(s, stock.New())
	catalogv1.RegisterCatalogService(s, catalog.New(stockv1.NewStockServiceClientFrom(s)))
	ordersv1.RegisterOrderService(s, orders.New(catalogv1.NewCatalogServiceClientFrom(s), ocfg))
	return nil
}
