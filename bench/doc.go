// Package bench measures what GoMs costs next to the raw grpc-go and
// grpc-gateway set-ups it builds on and next to its peers connect-go and
// vanguard (bench_test.go), and what the example shop's three-service
// chain costs in each deployment (chain_test.go). It has no API: the
// set-ups live in bench/internal/setup, shared with the load-test server
// bench/cmd/benchserver. It is a module of its own (go.mod), so that the
// peers never enter the library's go.mod. See BENCHMARKS.md.
package bench
