// Package orders implements the example shop's OrderService. It prices
// orders by calling the CatalogService over gRPC (which asks the
// StockService in turn) and keeps the latest ones in memory.
package orders

import (
	"context"
	"fmt"
	"io"
	"sync"

	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Config is the service's own block of the configuration file
// (services.shop.orders.v1.OrderService.config), which bounds what one
// client can make it hold or do.
type Config struct {
	// MaxItems is the most items an order or a quote may have (more:
	// INVALID_ARGUMENT); each item costs a call to the catalog. Key
	// max_items.
	MaxItems int `yaml:"max_items"`
	// MaxOrders is the most orders kept: creating one more forgets the
	// oldest (GetOrder then answers NOT_FOUND). Key max_orders.
	MaxOrders int `yaml:"max_orders"`
}

// DefaultConfig is the configuration without a config block: 100 items an
// order, the last 1000 orders kept.
func DefaultConfig() Config { return Config{MaxItems: 100, MaxOrders: 1000} }

// Validate reports a limit that is not positive.
func (c Config) Validate() error {
	if c.MaxItems <= 0 || c.MaxOrders <= 0 {
		return fmt.Errorf("max_items (%d) and max_orders (%d) must be positive", c.MaxItems, c.MaxOrders)
	}
	return nil
}

// Service implements ordersv1.OrderServiceServer.
type Service struct {
	ordersv1.UnimplementedOrderServiceServer
	catalog catalogv1.CatalogServiceClient
	cfg     Config

	mu     sync.Mutex
	orders map[string]*ordersv1.Order
	ids    []string // of the orders kept, oldest first
	nextID int
}

// New returns an order service that prices orders with catalog, within
// the limits of cfg (see [Config.Validate]).
func New(catalog catalogv1.CatalogServiceClient, cfg Config) *Service {
	return &Service{catalog: catalog, cfg: cfg, orders: make(map[string]*ordersv1.Order)}
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
	s.ids = append(s.ids, order.Id)
	if len(s.ids) > s.cfg.MaxOrders {
		delete(s.orders, s.ids[0])
		s.ids[0] = ""
		s.ids = s.ids[1:]
	}
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

// QuoteLive answers each basket the client sends with its quote, until the
// client's side ends; a basket that cannot be priced ends the stream with
// QuoteOrder's error.
func (s *Service) QuoteLive(stream grpc.BidiStreamingServer[ordersv1.QuoteLiveRequest, ordersv1.QuoteLiveResponse]) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		lines, total, err := s.price(stream.Context(), req.GetItems())
		if err != nil {
			return err
		}
		if err := stream.Send(&ordersv1.QuoteLiveResponse{Lines: lines, TotalCents: total}); err != nil {
			return err
		}
	}
}

// price asks the catalog for the price and stock of every item. Errors of
// the catalog other than NotFound (such as Unavailable) keep their code.
func (s *Service) price(ctx context.Context, items []*ordersv1.Item) ([]*ordersv1.OrderLine, int64, error) {
	if len(items) == 0 {
		return nil, 0, status.Error(codes.InvalidArgument, "an order needs at least one item")
	}
	if len(items) > s.cfg.MaxItems {
		msg := fmt.Sprintf("%d items, at most %d allowed", len(items), s.cfg.MaxItems)
		st, err := status.New(codes.InvalidArgument, "too many items: "+msg).WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "items", Description: msg}},
		})
		if err != nil {
			return nil, 0, status.Error(codes.InvalidArgument, "too many items: "+msg)
		}
		return nil, 0, st.Err()
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
