// Package mcp serves the methods of GoMs services as MCP (Model Context
// Protocol) tools, over streamable HTTP at /mcp on the HTTP port, with the
// official Go SDK (github.com/modelcontextprotocol/go-sdk).
//
// Importing the package turns the setting mcp.tools on: its init registers
// the endpoint with [goms.RegisterMCP].
//
//	import _ "github.com/goms-io/goms/mcp"
//
// mcp.tools names the services (pkg.Service: their unary and
// server-streaming methods) and methods (pkg.Service/Method) to serve; the
// endpoint is off while it is empty. Each method becomes one tool, derived
// from its descriptor:
//
//   - its name is the method's full name with every character MCP does
//     not allow in tool names turned into "_", such as
//     shop_orders_v1_OrderService_QuoteOrder;
//   - its description is the method's comment (from the service's
//     generated OpenAPI fragment; services without HTTP routes have none,
//     and get a line naming the method);
//   - its input schema is the JSON Schema of the request message as
//     protojson reads it, self-contained (no $ref), with the fields'
//     comments as descriptions and these buf.validate rules: required,
//     string min_len, max_len, len, pattern, in, email, uri and uuid,
//     numbers' gt, gte, lt and lte, repeated min_items, max_items, unique
//     and items, map min_pairs and max_pairs; google.api.field_behavior
//     REQUIRED makes a field required too;
//   - idempotency_level NO_SIDE_EFFECTS makes it readOnlyHint,
//     IDEMPOTENT idempotentHint.
//
// A call reads the arguments with protojson and calls the method through
// the server's in-process connection, so through the same interceptors
// (metrics, with transport="mcp", the call log, the user's, validation,
// recovery) and tracing as any call; in http mode, through the connection
// to the upstream. Arguments protojson refuses, or that break the rules,
// are refused before the handler. An error is a tool result with isError
// set and the google.rpc.Status as JSON; a response is a tool result
// whose text and structured content are its protojson. A server stream's
// messages go out as progress notifications, when the call carries a
// progress token, and its result lists them all ({"messages": [...]}).
// Client and bidi streams are not served as tools: a tool call has one
// input.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/gateway"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

func init() { goms.RegisterMCP(Handler) }

// Handler returns the MCP endpoint of spec: a streamable HTTP handler,
// stateless (every request stands alone, no session is kept), serving one
// tool per method spec.Tools names. A name that matches no method, or
// that names a client or bidi stream, is an error. [goms.Server] calls it
// when mcp.tools is set; programs need not.
func Handler(spec goms.MCPSpec) (http.Handler, error) {
	tools, err := Tools(spec)
	if err != nil {
		return nil, err
	}
	// The SDK logs every request's session at INFO; the HTTP request log
	// has those already.
	log := spec.Logger
	if log != nil {
		log = slog.New(minLevel{log.Handler(), slog.LevelWarn})
	}
	srv := sdk.NewServer(&sdk.Implementation{Name: "goms", Version: "1"}, &sdk.ServerOptions{Logger: log})
	for _, t := range tools {
		srv.AddTool(t.Tool, t.Handler)
	}
	return jsonErrors(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{
		Stateless: true,
		// A client gone: the call's context ends, as on the routes.
		PropagateRequestCancellation: true,
		Logger:                       log,
		MaxRequestBodyBytes:          int64(spec.MaxBodyBytes),
	})), nil
}

// A Tool is one method served as an MCP tool.
type Tool struct {
	// Method is the gRPC full method name, /pkg.Service/Method.
	Method string
	// Tool is the tool as tools/list lists it.
	Tool *sdk.Tool
	// Handler calls the method.
	Handler sdk.ToolHandler
}

// Tools returns the tools of the methods spec.Tools names, in the order of
// spec.Services and of their methods.
func Tools(spec goms.MCPSpec) ([]Tool, error) {
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	want := make(map[string]bool, len(spec.Tools))
	for _, name := range spec.Tools {
		want[strings.TrimPrefix(strings.TrimSpace(name), "/")] = false
	}
	var tools []Tool
	names := make(map[string]string)
	for _, svc := range spec.Services {
		sd := svc.Descriptor
		docs := parseDocs(svc.OpenAPI, string(sd.FullName()))
		_, all := want[string(sd.FullName())]
		if all {
			want[string(sd.FullName())] = true
		}
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			key := string(sd.FullName()) + "/" + string(md.Name())
			_, one := want[key]
			if !all && !one {
				continue
			}
			want[key] = true
			if md.IsStreamingClient() {
				if one {
					return nil, fmt.Errorf("%s is a client or bidi stream: MCP tools take one input, so only unary and server-streaming methods are served", key)
				}
				continue
			}
			t := newTool(svc.Conn, md, docs, spec.DiscardUnknown, log)
			if t.Tool.InputSchema.(object)["type"] != "object" {
				// A wrapper or Value request is no JSON object in
				// protojson, and tool arguments are one.
				if one {
					return nil, fmt.Errorf("%s: its request %s is not a JSON object in protojson, and tool arguments are", key, md.Input().FullName())
				}
				continue
			}
			if other, dup := names[t.Tool.Name]; dup {
				return nil, fmt.Errorf("methods %s and %s have the same tool name %s", other, key, t.Tool.Name)
			}
			names[t.Tool.Name] = key
			tools = append(tools, t)
		}
	}
	for _, name := range spec.Tools {
		if !want[strings.TrimPrefix(strings.TrimSpace(name), "/")] {
			return nil, fmt.Errorf("%q names no method of a service this server hosts or fronts (want pkg.Service or pkg.Service/Method)", name)
		}
	}
	return tools, nil
}

// ToolName is the MCP tool name of a method: its full name, service and
// method joined by "_", with every character outside [A-Za-z0-9_-]
// turned into "_".
func ToolName(md protoreflect.MethodDescriptor) string {
	name := []byte(string(md.Parent().FullName()) + "_" + string(md.Name()))
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			name[i] = '_'
		}
	}
	return string(name)
}

// newTool returns the tool of md, calling it through conn.
func newTool(conn grpc.ClientConnInterface, md protoreflect.MethodDescriptor, docs docs, discardUnknown bool, log *slog.Logger) Tool {
	method := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	desc := docs.methods[string(md.Name())]
	if desc == "" {
		desc = "Calls " + method + "."
	}
	stream := md.IsStreamingServer()
	if stream {
		desc += "\n\nA server stream: its messages are sent as progress notifications when the call has a progress token, and the result lists them all ({\"messages\": [...]})."
	}
	ann := &sdk.ToolAnnotations{Title: string(md.Name())}
	if opts, ok := md.Options().(*descriptorpb.MethodOptions); ok {
		switch opts.GetIdempotencyLevel() {
		case descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
			ann.ReadOnlyHint = true
			ann.IdempotentHint = true
		case descriptorpb.MethodOptions_IDEMPOTENT:
			ann.IdempotentHint = true
		}
	}
	schema := withParams((&schemaBuilder{docs: docs, seen: map[protoreflect.FullName]bool{}}).message(md.Input()), docs.params[string(md.Name())])
	c := caller{conn: conn, method: method, in: md.Input(), out: md.Output(), log: log, unmarshal: protojson.UnmarshalOptions{DiscardUnknown: discardUnknown}}
	h := c.unary
	if stream {
		h = c.serverStream
	}
	return Tool{
		Method:  method,
		Tool:    &sdk.Tool{Name: ToolName(md), Description: desc, InputSchema: schema, Annotations: ann},
		Handler: h,
	}
}

// caller calls one method for its tool.
type caller struct {
	conn      grpc.ClientConnInterface
	method    string
	in, out   protoreflect.MessageDescriptor
	log       *slog.Logger
	unmarshal protojson.UnmarshalOptions
}

// forwarded are the HTTP headers a tool call passes on as metadata, as
// the gateway's routes do: the credentials and the request id; and
// Grpc-Metadata-<key> as <key>.
var forwarded = []string{"Authorization", "X-Request-Id"}

// outgoing returns ctx with the metadata of the call's HTTP headers.
func outgoing(ctx context.Context, r *sdk.CallToolRequest) context.Context {
	if r.Extra == nil || r.Extra.Header == nil {
		return ctx
	}
	var md metadata.MD
	for _, h := range forwarded {
		if v := r.Extra.Header.Values(h); len(v) > 0 {
			if md == nil {
				md = metadata.MD{}
			}
			md[strings.ToLower(h)] = v
		}
	}
	for k, v := range r.Extra.Header {
		if key, ok := strings.CutPrefix(strings.ToLower(k), "grpc-metadata-"); ok && key != "" {
			if md == nil {
				md = metadata.MD{}
			}
			md[key] = append(md[key], v...)
		}
	}
	if md == nil {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// fail is the tool result of a call that failed with err, as a client
// may see it (see [gateway.PublicError]).
func (c caller) fail(ctx context.Context, err error, messages []json.RawMessage) *sdk.CallToolResult {
	return errorResult(gateway.PublicError(ctx, c.log, err), messages)
}

// newMessage returns an empty message of md: of its generated type when
// the program links it (the in-process connection hands it to the
// handler as is), else a dynamic one.
func newMessage(md protoreflect.MessageDescriptor) proto.Message {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return mt.New().Interface()
	}
	return dynamicpb.NewMessage(md)
}

// request reads the tool's arguments into a request.
func (c caller) request(args json.RawMessage) (proto.Message, error) {
	req := newMessage(c.in)
	if len(args) == 0 || string(args) == "null" {
		return req, nil
	}
	if err := c.unmarshal.Unmarshal(args, req); err != nil {
		return nil, status.Error(codes.InvalidArgument, "invalid arguments: "+err.Error())
	}
	return req, nil
}

// unary calls a unary method.
func (c caller) unary(ctx context.Context, r *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	req, err := c.request(r.Params.Arguments)
	if err != nil {
		return errorResult(err, nil), nil
	}
	resp := newMessage(c.out)
	if err := c.conn.Invoke(outgoing(ctx, r), c.method, req, resp); err != nil {
		return c.fail(ctx, err, nil), nil
	}
	b, err := marshal(resp)
	if err != nil {
		return errorResult(status.Error(codes.Internal, "response: "+err.Error()), nil), nil
	}
	res := &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}}
	if len(b) > 0 && b[0] == '{' {
		// Structured content is an object: a response of a well-known
		// type, such as a wrapper, may be a JSON string or number.
		res.StructuredContent = json.RawMessage(b)
	}
	return res, nil
}

// serverStream calls a server-streaming method: each message is a
// progress notification when the call has a progress token, and the
// result lists them all.
func (c caller) serverStream(ctx context.Context, r *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	req, err := c.request(r.Params.Arguments)
	if err != nil {
		return errorResult(err, nil), nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := c.conn.NewStream(outgoing(ctx, r), &grpc.StreamDesc{ServerStreams: true}, c.method)
	if err != nil {
		return c.fail(ctx, err, nil), nil
	}
	// io.EOF: the stream ended, and RecvMsg returns its status.
	if err := cs.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return c.fail(ctx, err, nil), nil
	}
	if err := cs.CloseSend(); err != nil {
		return c.fail(ctx, err, nil), nil
	}
	token := r.Params.GetProgressToken()
	messages := []json.RawMessage{}
	for {
		m := newMessage(c.out)
		err := cs.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c.fail(ctx, err, messages), nil
		}
		b, err := marshal(m)
		if err != nil {
			return errorResult(status.Error(codes.Internal, "response: "+err.Error()), messages), nil
		}
		messages = append(messages, b)
		if token != nil && r.Session != nil {
			if err := r.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{
				ProgressToken: token,
				Progress:      float64(len(messages)),
				Message:       string(b),
			}); err != nil {
				return errorResult(status.Error(codes.Canceled, "progress notification: "+err.Error()), messages), nil
			}
		}
	}
	b, _ := json.Marshal(struct {
		Messages []json.RawMessage `json:"messages"`
	}{messages})
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}, StructuredContent: json.RawMessage(b)}, nil
}

// errorResult is the tool result of a failed call: isError, with the
// google.rpc.Status as JSON; with the messages a stream sent before it
// failed, if any.
func errorResult(err error, messages []json.RawMessage) *sdk.CallToolResult {
	st := status.Convert(err)
	b, merr := marshal(st.Proto())
	if merr != nil {
		b, _ = json.Marshal(map[string]any{"code": int32(st.Code()), "message": st.Message()})
	}
	res := &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}}
	if len(messages) > 0 {
		s, _ := json.Marshal(struct {
			Messages []json.RawMessage `json:"messages"`
			Error    json.RawMessage   `json:"error"`
		}{messages, b})
		res.StructuredContent = json.RawMessage(s)
	}
	return res
}

// minLevel is a slog handler that drops records below its level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

// Enabled reports whether l is at least h's level and h's handler takes it.
func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

// WithAttrs keeps the level.
func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.level}
}

// WithGroup keeps the level.
func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// marshal returns m's protojson, compact: protojson's own output varies
// its spacing from build to build on purpose.
func marshal(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
