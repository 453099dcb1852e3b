// Package catalog implements the example shop's CatalogService: a fixed
// list of products held in memory, with the units in stock that it asks
// the StockService for.
package catalog

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	stockv1 "github.com/goms-io/goms/examples/shop/gen/stock/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Service implements catalogv1.CatalogServiceServer.
type Service struct {
	catalogv1.UnimplementedCatalogServiceServer
	stock    stockv1.StockServiceClient
	products []*catalogv1.Product // sorted by ID
}

// New returns a catalog of the shop's products that reads their stock
// from stock.
func New(stock stockv1.StockServiceClient) *Service {
	products := []*catalogv1.Product{
		{Id: "coffee", Name: "Coffee beans, 250 g", PriceCents: 890},
		{Id: "croissant", Name: "Croissant", PriceCents: 180},
		{Id: "tea", Name: "Green tea, 50 bags", PriceCents: 450},
	}
	slices.SortFunc(products, func(a, b *catalogv1.Product) int { return strings.Compare(a.Id, b.Id) })
	return &Service{stock: stock, products: products}
}

// GetProduct returns the product with the requested ID and its stock, or
// NotFound.
func (s *Service) GetProduct(ctx context.Context, req *catalogv1.GetProductRequest) (*catalogv1.GetProductResponse, error) {
	i, ok := slices.BinarySearchFunc(s.products, req.GetId(), func(p *catalogv1.Product, id string) int {
		return strings.Compare(p.Id, id)
	})
	if !ok {
		return nil, status.Errorf(codes.NotFound, "product %q not found", req.GetId())
	}
	resp, err := s.stock.GetStock(ctx, &stockv1.GetStockRequest{ProductId: req.GetId()})
	if err != nil {
		return nil, fmt.Errorf("stock of %q: %w", req.GetId(), err)
	}
	p := proto.CloneOf(s.products[i])
	p.UnitsInStock = resp.GetStock().GetUnits()
	return &catalogv1.GetProductResponse{Product: p}, nil
}

// ListProducts streams every product in ID order, with the stock levels
// it streams from the StockService. A browser's EventSource that
// reconnects sends the id of the last event it received (Last-Event-ID,
// the call's last-event-id metadata): the n-th product, so the stream
// resumes after it.
func (s *Service) ListProducts(_ *catalogv1.ListProductsRequest, stream grpc.ServerStreamingServer[catalogv1.ListProductsResponse]) error {
	skip := 0
	if v := metadata.ValueFromIncomingContext(stream.Context(), "last-event-id"); len(v) > 0 {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return status.Errorf(codes.InvalidArgument, "Last-Event-ID %q is not a product's position", v[0])
		}
		skip = min(n, len(s.products))
	}
	stocks, err := s.stock.ListStock(stream.Context(), &stockv1.ListStockRequest{})
	if err != nil {
		return fmt.Errorf("list stock: %w", err)
	}
	units := make(map[string]int32)
	for {
		resp, err := stocks.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("list stock: %w", err)
		}
		units[resp.GetStock().GetProductId()] = resp.GetStock().GetUnits()
	}
	for _, p := range s.products[skip:] {
		p = proto.CloneOf(p)
		p.UnitsInStock = units[p.Id]
		if err := stream.Send(&catalogv1.ListProductsResponse{Product: p}); err != nil {
			return err
		}
	}
	return nil
}
