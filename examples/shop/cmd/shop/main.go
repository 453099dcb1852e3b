// Command shop runs the example shop: the catalog and order services, on
// gRPC and HTTP/JSON, in the mode its flags choose (run with -help).
package main

import (
	"flag"

	"github.com/goms-io/goms/examples/shop/catalog"
	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	"github.com/goms-io/goms/examples/shop/orders"
	"github.com/goms-io/goms/runtime"
	"google.golang.org/grpc"
)

func main() {
	catalogTarget := flag.String("catalog-target", "",
		"gRPC target of the catalog the order service calls; empty: the catalog in this process, called in-process")
	runtime.Main(func(s *runtime.Server) error {
		var conn grpc.ClientConnInterface = s.LocalConn()
		if *catalogTarget != "" {
			c, err := s.Dial(*catalogTarget)
			if err != nil {
				return err
			}
			conn = c
		}
		catalogv1.RegisterCatalogService(s, catalog.New())
		ordersv1.RegisterOrderService(s, orders.New(catalogv1.NewCatalogServiceClient(conn)))
		return nil
	})
}
