// Package bench measures what GoMs costs next to the raw grpc-go and
// grpc-gateway set-ups it builds on (bench_test.go), and what the example
// shop's three-service chain costs in each deployment (chain_test.go). It
// has no API: the set-ups live in bench/internal/setup, shared with the
// load-test server bench/cmd/benchserver. See BENCHMARKS.md.
package bench
