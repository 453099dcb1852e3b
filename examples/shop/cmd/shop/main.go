// Command shop runs the example shop: the order, catalog and stock
// services, on gRPC and HTTP/JSON, in the mode its flags choose (run with
// -help). A call to the order service crosses all three: orders asks the
// catalog for prices, and the catalog asks the stock for units in stock.
//
// It links the MCP endpoint (package goms/mcp), off until -mcp-tools names
// methods to serve as tools (see the README, "MCP tools").
//
// It registers every service; -serve picks the ones a process hosts and
// -targets says where the others run, so the same binary runs as one
// process or as several (see the README, "Calling other services").
package main

import (
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/examples/shop"
	_ "github.com/goms-io/goms/mcp" // MCP tools at /mcp, when -mcp-tools names some
)

func main() {
	goms.Main(func(s *goms.Server) error {
		return shop.Register(s)
	})
}
