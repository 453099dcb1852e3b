package bench

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/goms-io/goms/bench/internal/setup"
	ordersv1 "github.com/goms-io/goms/examples/shop/gen/orders/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// quoteBody is the HTTP body of chainRequest.
const quoteBody = `{"items":[{"productId":"tea","quantity":1}]}`

// chainRequest prices one item: the order service makes one call to the
// catalog, which makes one call to the stock service.
func chainRequest() *ordersv1.QuoteOrderRequest {
	return &ordersv1.QuoteOrderRequest{Items: []*ordersv1.Item{{ProductId: "tea", Quantity: 1}}}
}

// BenchmarkChain measures one call that crosses the example shop's three
// services (QuoteOrder: orders → catalog → stock) with the services in one
// GoMs server (impl=one-binary: in-process calls between them) and in one
// server each (impl=split: loopback gRPC between them; the three servers
// and the HTTP edge run in this process). The call enters over loopback
// gRPC at the order service (edge=grpc), over HTTP/JSON at the edge
// (edge=http: gateway mode for one-binary, a GoMs http-mode server for
// split), or through the in-process connection of the server hosting the
// order service (edge=local: only the hops between the services count).
func BenchmarkChain(b *testing.B) {
	chains := make(map[setup.ChainImpl]*setup.Chain, len(setup.ChainImpls))
	for _, impl := range setup.ChainImpls {
		c, err := setup.StartChain(impl)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := c.Close(); err != nil {
				b.Errorf("close %s: %v", impl, err)
			}
		})
		chains[impl] = c
	}
	ctx := context.Background()
	req := chainRequest()
	unary := func(b *testing.B, conn grpc.ClientConnInterface) {
		client := ordersv1.NewOrderServiceClient(conn)
		resp, err := client.QuoteOrder(ctx, req)
		if err != nil || resp.GetTotalCents() != 450 {
			b.Fatalf("QuoteOrder = %v, %v; want 450 cents", resp, err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.QuoteOrder(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("edge=grpc", func(b *testing.B) {
		for _, impl := range setup.ChainImpls {
			b.Run("impl="+string(impl), func(b *testing.B) {
				cc, err := grpc.NewClient(chains[impl].GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					b.Fatal(err)
				}
				defer cc.Close()
				unary(b, cc)
			})
		}
	})
	b.Run("edge=http", func(b *testing.B) {
		for _, impl := range setup.ChainImpls {
			b.Run("impl="+string(impl), func(b *testing.B) {
				c := httpClient(b)
				url := "http://" + chains[impl].HTTPAddr + "/v1/orders:quote"
				resp, err := c.Post(url, "application/json", strings.NewReader(quoteBody))
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"totalCents":"450"`)) {
					b.Fatalf("POST %s: %s %s", url, resp.Status, body)
				}
				b.ReportAllocs()
				for b.Loop() {
					httpEcho(b, c, url, []byte(quoteBody))
				}
			})
		}
	})
	b.Run("edge=local", func(b *testing.B) {
		for _, impl := range setup.ChainImpls {
			if chains[impl].Local != nil {
				b.Run("impl="+string(impl), func(b *testing.B) { unary(b, chains[impl].Local) })
			}
		}
	})
}
