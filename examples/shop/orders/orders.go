// Package orders implements the example shop's OrderService. It prices
// orders by calling the CatalogService over gRPC and keeps them in memory.
package orders

import (
	"context"
	"fmt"
	"sync"

	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Service implements ordersv1.OrderServiceServer.
type Service struct {
	ordersv1.UnimplementedOrderServiceServer
	catalog catalogv1.CatalogServiceClient

	mu     sync.Mutex
	orders map[string]*ordersv1.Order
	nextID int
}

// New returns an order service that prices orders with catalog.
func New(catalog catalogv1.CatalogServiceClient) *Service {
	return &Service{catalog: catalog, orders: make(map[string]*ordersv1.Order)}
}

// CreateOrder prices the items with the catalog and stores the order.
func (s *Service) CreateOrder(ctx context.Context, req *ordersv1.CreateOrderRequest) (*ordersv1.CreateOrderResponse, error) {
	if len(req.GetItems()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "an order needs at least one item")
	}
	order := &ordersv1.Order{}
	for i, item := range req.GetItems() {
		if item.GetQuantity() <= 0 {
			return nil, status.Errorf(codes.InvalidArgument, "items[%d]: quantity must be positive, got %d", i, item.GetQuantity())
		}
		resp, err := s.catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Id: item.GetProductId()})
		if status.Code(err) == codes.NotFound {
			return nil, status.Errorf(codes.InvalidArgument, "items[%d]: unknown product %q", i, item.GetProductId())
		}
		if err != nil {
			return nil, fmt.Errorf("price items[%d]: %w", i, err)
		}
		price := resp.GetProduct().GetPriceCents()
		order.Lines = append(order.Lines, &ordersv1.OrderLine{
			ProductId:      item.GetProductId(),
			Quantity:       item.GetQuantity(),
			UnitPriceCents: price,
		})
		order.TotalCents += price * int64(item.GetQuantity())
	}
	s.mu.Lock()
	s.nextID++
	order.Id = fmt.Sprintf("o-%d", s.nextID)
	s.orders[order.Id] = order
	s.mu.Unlock()
	return &ordersv1.CreateOrderResponse{Order: proto.CloneOf(order)}, nil
}

// GetOrder returns a stored order, or NotFound.
func (s *Service) GetOrder(_ context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.GetOrderResponse, error) {
	s.mu.Lock()
	order, ok := s.orders[req.GetId()]
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "order %q not found", req.GetId())
	}
	return &ordersv1.GetOrderResponse{Order: proto.CloneOf(order)}, nil
}
