package validate_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/rules"
	"github.com/goms-io/goms/validate"
)

// BenchmarkPlace measures what validation costs a unary call whose request
// carries rules (four rules on three fields and one nested message, all
// met): the same call with grpc.validate on and off, over gRPC on loopback
// and in-process (Server.Conn, where the rest of the call costs least).
//
//	go test -run='^$' -bench=BenchmarkPlace -benchmem ./validate/
func BenchmarkPlace(b *testing.B) {
	req := &rules.PlaceRequest{Sku: "AB12", Quantity: 2, Lines: []*rules.Line{{Note: "gift"}}}
	for _, transport := range []string{"grpc", "inprocess"} {
		for _, on := range []bool{true, false} {
			name := transport + "/validate=off"
			if on {
				name = transport + "/validate=on"
			}
			b.Run(name, func(b *testing.B) {
				cfg := goms.DefaultConfig()
				cfg.GRPC.Validate = on
				cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
				s := goms.New(cfg, goms.WithLogger(slog.New(slog.DiscardHandler)))
				rules.RegisterRulesService(s, &rulesServer{})
				if err := s.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Stop(context.Background()) })
				var client rules.RulesServiceClient
				if transport == "grpc" {
					client = dial(b, s.GRPCAddr())
				} else {
					client = rules.NewRulesServiceClientFrom(s)
				}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.Place(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCheck measures the check alone, on the request BenchmarkPlace
// sends: what validation adds to any call of the method.
//
//	go test -run='^$' -bench=BenchmarkCheck -benchmem ./validate/
func BenchmarkCheck(b *testing.B) {
	req := &rules.PlaceRequest{Sku: "AB12", Quantity: 2, Lines: []*rules.Line{{Note: "gift"}}}
	check, err := validate.Check(req.ProtoReflect().Descriptor())
	if err != nil || check == nil {
		b.Fatalf("Check: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := check(req); err != nil {
			b.Fatal(err)
		}
	}
}
