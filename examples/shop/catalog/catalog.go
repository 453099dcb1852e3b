// Package catalog implements the example shop's CatalogService: a fixed
// list of products held in memory.
package catalog

import (
	"context"
	"slices"
	"strings"

	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Service implements catalogv1.CatalogServiceServer.
type Service struct {
	catalogv1.UnimplementedCatalogServiceServer
	products []*catalogv1.Product // sorted by ID
}

// New returns a catalog of the shop's products.
func New() *Service {
	products := []*catalogv1.Product{
		{Id: "coffee", Name: "Coffee beans, 250 g", PriceCents: 890},
		{Id: "croissant", Name: "Croissant", PriceCents: 180},
		{Id: "tea", Name: "Green tea, 50 bags", PriceCents: 450},
	}
	slices.SortFunc(products, func(a, b *catalogv1.Product) int { return strings.Compare(a.Id, b.Id) })
	return &Service{products: products}
}

// GetProduct returns the product with the requested ID, or NotFound.
func (s *Service) GetProduct(_ context.Context, req *catalogv1.GetProductRequest) (*catalogv1.GetProductResponse, error) {
	i, ok := slices.BinarySearchFunc(s.products, req.GetId(), func(p *catalogv1.Product, id string) int {
		return strings.Compare(p.Id, id)
	})
	if !ok {
		return nil, status.Errorf(codes.NotFound, "product %q not found", req.GetId())
	}
	return &catalogv1.GetProductResponse{Product: proto.CloneOf(s.products[i])}, nil
}

// ListProducts streams every product in ID order.
func (s *Service) ListProducts(_ *catalogv1.ListProductsRequest, stream grpc.ServerStreamingServer[catalogv1.ListProductsResponse]) error {
	for _, p := range s.products {
		if err := stream.Send(&catalogv1.ListProductsResponse{Product: p}); err != nil {
			return err
		}
	}
	return nil
}
