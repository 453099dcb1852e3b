// Command shop runs the example shop: the catalog and order services, on
// gRPC and HTTP/JSON, in the mode its flags choose (run with -help).
//
// It registers both services; -serve picks the ones a process hosts and
// -targets says where the others run, so the same binary runs as one
// process or as several.
package main

import (
	"github.com/goms-io/goms/examples/shop/catalog"
	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	"github.com/goms-io/goms/examples/shop/orders"
	"github.com/goms-io/goms/runtime"
)

func main() {
	runtime.Main(func(s *runtime.Server) error {
		catalogv1.RegisterCatalogService(s, catalog.New())
		// The order service prices orders with the catalog: in-process when
		// this process hosts it, over gRPC at its target otherwise.
		pricing := catalogv1.NewCatalogServiceClientFrom(s)
		ordersv1.RegisterOrderService(s, orders.New(pricing))
		return nil
	})
}
