// Package stock implements the example shop's StockService: fixed stock
// levels held in memory. Orders do not reserve stock.
package stock

import (
	"context"
	"maps"
	"slices"

	stockv1 "github.com/goms-io/goms/examples/shop/gen/stock/v1"
	"google.golang.org/grpc"
)

// Service implements stockv1.StockServiceServer.
type Service struct {
	stockv1.UnimplementedStockServiceServer
	units map[string]int32 // product ID → units in stock
}

// New returns the shop's stock.
func New() *Service {
	return &Service{units: map[string]int32{
		"coffee":    25,
		"croissant": 6,
		"tea":       100,
	}}
}

// GetStock returns the units in stock of the requested product; zero for
// a product the store does not know.
func (s *Service) GetStock(_ context.Context, req *stockv1.GetStockRequest) (*stockv1.GetStockResponse, error) {
	id := req.GetProductId()
	return &stockv1.GetStockResponse{Stock: &stockv1.Stock{ProductId: id, Units: s.units[id]}}, nil
}

// ListStock streams the stock of every product, in product ID order.
func (s *Service) ListStock(_ *stockv1.ListStockRequest, stream grpc.ServerStreamingServer[stockv1.ListStockResponse]) error {
	for _, id := range slices.Sorted(maps.Keys(s.units)) {
		if err := stream.Send(&stockv1.ListStockResponse{Stock: &stockv1.Stock{ProductId: id, Units: s.units[id]}}); err != nil {
			return err
		}
	}
	return nil
}
