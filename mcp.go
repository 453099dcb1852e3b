package goms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/goms-io/goms/internal/telemetry"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// MCPPath is where the HTTP port serves the MCP tools of [MCPConfig.Tools]
// (streamable HTTP).
const MCPPath = "/mcp"

// MCPService is one service whose methods the MCP endpoint may serve as
// tools, as [RegisterMCP]'s function gets it.
type MCPService struct {
	// Descriptor is the service's protobuf descriptor.
	Descriptor protoreflect.ServiceDescriptor
	// OpenAPI is the service's OpenAPI fragment ([Service.OpenAPI]), where
	// the descriptions of its methods and fields are; may be empty.
	OpenAPI string
	// Conn calls the service: in-process, through the server's
	// interceptors, when this process hosts it (the calls' metrics have
	// transport "mcp"), else the connection to its upstream or target.
	Conn grpc.ClientConnInterface
}

// MCPSpec is what the MCP endpoint serves.
type MCPSpec struct {
	// Tools is [MCPConfig.Tools]: the services and methods to serve.
	Tools []string
	// Services are the services the names in Tools are looked up in.
	Services []MCPService
	// MaxBodyBytes is the largest request body ([HTTPConfig.MaxBodyBytes]).
	MaxBodyBytes int
	// DiscardUnknown is [HTTPConfig.DiscardUnknown]: tool arguments with
	// fields the protos do not declare are accepted.
	DiscardUnknown bool
	// Logger is the server's logger.
	Logger *slog.Logger
}

var (
	mcpMu    sync.Mutex
	mcpServe func(MCPSpec) (http.Handler, error)
)

// RegisterMCP installs the MCP endpoint of the program: a [Server] whose
// configuration sets mcp.tools calls build when it starts, and serves the
// handler it returns at [MCPPath] on the HTTP port. The package
// github.com/goms-io/goms/mcp calls it from its init, so that importing it
// (import _ "github.com/goms-io/goms/mcp") makes mcp.tools work; without
// it, Start fails when mcp.tools is set. RegisterMCP panics if build is nil
// or if it is called twice.
func RegisterMCP(build func(MCPSpec) (http.Handler, error)) {
	mcpMu.Lock()
	defer mcpMu.Unlock()
	if build == nil {
		panic("goms: RegisterMCP(nil)")
	}
	if mcpServe != nil {
		panic("goms: RegisterMCP called twice")
	}
	mcpServe = build
}

// checkMCP fails when mcp.tools is set but cannot be served: no MCP
// package linked, or no HTTP port.
func (s *Server) checkMCP() error {
	if len(s.cfg.MCP.Tools) == 0 {
		return nil
	}
	mcpMu.Lock()
	build := mcpServe
	mcpMu.Unlock()
	if build == nil {
		return errors.New(`mcp.tools is set, but this program has no MCP endpoint: add import _ "github.com/goms-io/goms/mcp"`)
	}
	if !s.cfg.Mode.servesHTTP() {
		return fmt.Errorf("mcp.tools is set, but mode %q serves no HTTP port for %s", s.cfg.Mode, MCPPath)
	}
	return nil
}

// mcp wraps next with the MCP endpoint at [MCPPath] when mcp.tools is set.
func (s *Server) mcp(next http.Handler) (http.Handler, error) {
	if len(s.cfg.MCP.Tools) == 0 {
		return next, nil
	}
	if err := s.checkMCP(); err != nil {
		return nil, err
	}
	mcpMu.Lock()
	build := mcpServe
	mcpMu.Unlock()
	spec := MCPSpec{
		Tools:          s.cfg.MCP.Tools,
		MaxBodyBytes:   s.cfg.HTTP.MaxBodyBytes,
		DiscardUnknown: s.cfg.HTTP.DiscardUnknown,
		Logger:         s.log,
	}
	var local grpc.ClientConnInterface
	for _, svc := range s.services {
		sd := svc.descriptor()
		if sd == nil {
			continue
		}
		var conn grpc.ClientConnInterface
		if s.hosted(svc.name()) {
			if local == nil {
				local = s.mcpLocal()
			}
			conn = local
		} else if c, ok := s.clients[svc.name()]; ok && c != nil {
			conn = mcpRemote{c}
		} else {
			continue
		}
		spec.Services = append(spec.Services, MCPService{Descriptor: sd, OpenAPI: svc.OpenAPI, Conn: conn})
	}
	h, err := build(spec)
	if err != nil {
		return nil, fmt.Errorf("mcp.tools: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == MCPPath {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

// mcpLocal is the in-process connection of the MCP endpoint: the server
// interceptors see a peer of network "mcp", so its calls have transport
// "mcp" in the metrics; the client interceptors and tracing run as on
// [Server.LocalConn].
func (s *Server) mcpLocal() grpc.ClientConnInterface {
	var conn grpc.ClientConnInterface = s.local.conn.Load().Via(telemetry.MCPNetwork)
	if len(s.opts.cunary) > 0 || len(s.opts.cstream) > 0 {
		conn = interceptedConn{conn: conn, unary: s.opts.cunary, stream: s.opts.cstream}
	}
	if s.trace.Client != nil {
		conn = tracedConn{conn: conn, h: s.trace.Client}
	}
	return conn
}

// descriptor returns the service's descriptor: its own, or the one linked
// under its name; nil when there is none.
func (s Service) descriptor() protoreflect.ServiceDescriptor {
	if s.Descriptor != nil {
		return s.Descriptor
	}
	if s.Desc == nil {
		return nil
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(s.Desc.ServiceName))
	if err != nil {
		return nil
	}
	sd, _ := d.(protoreflect.ServiceDescriptor)
	return sd
}

// mcpRemote is the MCP endpoint's connection to a service hosted
// elsewhere (in http mode, the upstream): its calls carry
// [telemetry.MCPCall], so the client metrics count them as transport
// "mcp".
type mcpRemote struct{ conn grpc.ClientConnInterface }

func (c mcpRemote) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.conn.Invoke(ctx, method, args, reply, append(opts, telemetry.MCPCall)...)
}

func (c mcpRemote) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.conn.NewStream(ctx, desc, method, append(opts, telemetry.MCPCall)...)
}
