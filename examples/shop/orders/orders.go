// Package orders implements the example shop's OrderService. It prices
// orders by calling the CatalogService over gRPC (which asks the
// StockService in turn) and keeps them in memory.
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
	lines, total, err := s.price(ctx, req.GetItems())
	if err != nil {
		return nil, err
	}
	order := &ordersv1.Order{Lines: lines, TotalCents: total}
	s.mu.Lock()
	s.nextID++
	order.Id = fmt.Sprintf("o-%d", s.nextID)
	s.orders[order.Id] = order
	s.mu.Unlock()
	return &ordersv1.CreateOrderResponse{Order: proto.CloneOf(order)}, nil
}

// QuoteOrder prices the items with the catalog and stores nothing.
func (s *Service) QuoteOrder(ctx context.Context, req *ordersv1.QuoteOrderRequest) (*ordersv1.QuoteOrderResponse, error) {
	lines, total, err := s.price(ctx, req.GetItems())
	if err != nil {
		return nil, err
	}
	return &ordersv1.QuoteOrderResponse{Lines: lines, TotalCents: total}, nil
}

// price asks the catalog for the price and stock of every item. Errors of
// the catalog other than NotFound (such as Unavailable) keep their code.
func (s *Service) price(ctx context.Context, items []*ordersv1.Item) ([]*ordersv1.OrderLine, int64, error) {
	if len(items) == 0 {
		return nil, 0, status.Error(codes.InvalidArgument, "an order needs at least one item")
	}
	var lines []*ordersv1.OrderLine
	var total int64
	for i, item := range items {
		if item.GetQuantity() <= 0 {
			return nil, 0, status.Errorf(codes.InvalidArgument, "items[%d]: quantity must be positive, got %d", i, item.GetQuantity())
		}
		resp, err := s.catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Id: item.GetProductId()})
		if status.Code(err) == codes.NotFound {
			return nil, 0, status.Errorf(codes.InvalidArgument, "items[%d]: unknown product %q", i, item.GetProductId())
		}
		if err != nil {
			return nil, 0, fmt.Errorf("price items[%d]: %w", i, err)
		}
		product := resp.GetProduct()
		if item.GetQuantity() > product.GetUnitsInStock() {
			return nil, 0, status.Errorf(codes.FailedPrecondition, "items[%d]: %d of %q ordered, %d in stock",
				i, item.GetQuantity(), item.GetProductId(), product.GetUnitsInStock())
		}
		lines = append(lines, &ordersv1.OrderLine{
			ProductId:      item.GetProductId(),
			Quantity:       item.GetQuantity(),
			UnitPriceCents: product.GetPriceCents(),
		})
		total += product.GetPriceCents() * int64(item.GetQuantity())
	}
	return lines, total, nil
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
