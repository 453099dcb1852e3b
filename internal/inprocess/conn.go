// Package inprocess is a grpc.ClientConnInterface that calls gRPC services
// hosted in the same process: no socket and no serialization, but with the
// server interceptors, metadata, deadlines, cancellation and status errors
// of a network call, for all four kinds of RPC. Messages are deep-copied so
// that caller and handler never share them.
//
// Package goms uses it for its HTTP gateway in gateway mode and for calls
// between co-located services.
package inprocess

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/runtime/protoimpl"
)

// streamBuffer is the number of messages buffered in each direction of an
// in-process stream. It lets a peer run ahead of the other, for example a
// client sending two requests before reading while the server replies to each.
// When the buffer is full, SendMsg blocks until the other side receives a
// message or the RPC ends (the caller's context is done, or the handler
// returns), which is what HTTP/2 flow control does over the network.
const streamBuffer = 32

// unaryStreamDesc describes a unary RPC; it is used when Invoke is called for
// a method that is not registered as unary.
var unaryStreamDesc = grpc.StreamDesc{}

// Service is one service implementation hosted in this process.
type Service struct {
	// Desc is grpc-go's description of the service.
	Desc *grpc.ServiceDesc
	// Impl implements it; it must satisfy Desc.HandlerType.
	Impl any
}

// addr is the net.Addr of both ends of an in-process call: "inprocess",
// or the network a conn from [Conn.Via] names.
type addr struct{ network string }

// Network returns "inprocess", or the network given to [Conn.Via].
func (a addr) Network() string {
	if a.network == "" {
		return "inprocess"
	}
	return a.network
}

// String returns the same as Network.
func (a addr) String() string { return a.Network() }

// Conn is a grpc.ClientConnInterface that calls service implementations
// registered in the same process, without a socket and without serializing
// messages, while keeping gRPC semantics: messages are deep-copied so that
// caller and handler never share them, handlers run behind the server
// interceptors with a context that looks like the one grpc-go's server would
// give them, and errors, metadata and stream behaviour follow grpc-go's client
// and server.
//
// A Conn is safe for concurrent use. It holds no resources and need not be
// closed.
type Conn struct {
	// methods maps full method names ("/pkg.Service/Method") to their
	// handlers. It is never modified after construction.
	methods map[string]*registeredMethod
	// services holds the names of the registered services, to word the
	// Unimplemented error the way grpc-go's server does.
	services map[string]struct{}
	// unaryInt and streamInt are the chained server interceptors, or nil.
	unaryInt  grpc.UnaryServerInterceptor
	streamInt grpc.StreamServerInterceptor
	// peer is the peer reported to handlers and through grpc.Peer. Like
	// grpc-go, which shares one peer among the streams of a connection, all
	// calls share it.
	peer *peer.Peer
	// gateway is set on the conn [Conn.ForGateway] returns.
	gateway bool
	// closed is done once [Conn.Close] has been called, and isClosed
	// set; conns from ForGateway share both.
	closed   context.Context
	close    context.CancelFunc
	isClosed *atomic.Bool
}

// registeredMethod is a registered method of a local service.
type registeredMethod struct {
	impl any
	// unary is the handler of a unary method, nil for streaming methods.
	unary grpc.MethodHandler
	// desc is the stream description as registered: for unary methods, both
	// ClientStreams and ServerStreams are false and Handler is nil.
	desc grpc.StreamDesc
	// authority is the value of the :authority incoming metadata key.
	authority []string
	// peerCtx is an empty context carrying only the peer. Handler contexts are
	// derived from it so that none of the caller's values reach the handler.
	peerCtx context.Context
	// baseCtx is peerCtx with the incoming metadata of a call whose caller
	// sent no metadata, shared by all such calls.
	baseCtx context.Context
}

// New returns a Conn that dispatches to services by full method name
// ("/pkg.Service/Method"). unary and stream are server interceptors,
// applied in order (the first is outermost), exactly like
// grpc.ChainUnaryInterceptor / grpc.ChainStreamInterceptor on a real
// *grpc.Server. Either may be empty.
//
// It panics if a service is registered twice or if an implementation does not
// satisfy its service's HandlerType; grpc.Server.RegisterService treats both
// as fatal too.
func New(services []Service, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) *Conn {
	p := &peer.Peer{Addr: addr{}, LocalAddr: addr{}}
	peerCtx := peer.NewContext(context.Background(), p)
	c := &Conn{
		methods:   make(map[string]*registeredMethod),
		services:  make(map[string]struct{}, len(services)),
		unaryInt:  ChainUnaryServerInterceptors(unary),
		streamInt: chainStreamServerInterceptors(stream),
		peer:      p,
	}
	c.closed, c.close = context.WithCancel(context.Background())
	c.isClosed = new(atomic.Bool)
	for _, svc := range services {
		sd := svc.Desc
		if _, dup := c.services[sd.ServiceName]; dup {
			panic(fmt.Sprintf("inprocess: service %q registered twice", sd.ServiceName))
		}
		if sd.HandlerType != nil {
			want := reflect.TypeOf(sd.HandlerType).Elem()
			if got := reflect.TypeOf(svc.Impl); got == nil || !got.Implements(want) {
				panic(fmt.Sprintf("inprocess: handler of type %v does not satisfy %v", got, want))
			}
		}
		c.services[sd.ServiceName] = struct{}{}
		authority := []string{sd.ServiceName}
		baseCtx := baseIncoming(peerCtx, authority)
		add := func(name string, m *registeredMethod) {
			m.impl = svc.Impl
			m.authority = authority
			m.peerCtx = peerCtx
			m.baseCtx = baseCtx
			c.methods["/"+sd.ServiceName+"/"+name] = m
		}
		for _, md := range sd.Methods {
			add(md.MethodName, &registeredMethod{
				unary: md.Handler,
				desc:  grpc.StreamDesc{StreamName: md.MethodName},
			})
		}
		for _, d := range sd.Streams {
			add(d.StreamName, &registeredMethod{desc: d})
		}
	}
	return c
}

// ForGateway returns a conn to the same services for grpc-gateway's
// generated client handlers (Register<Service>HandlerClient), which save
// work a general caller needs:
//
//   - The gateway reads the response header and trailer only to turn them
//     into HTTP headers, and drops the content-type: this conn leaves the
//     content-type out and gives nil metadata when the handler set none.
//   - A handler's incoming metadata is built when something looks it up
//     (see [lazyIncoming]), not on every call, and is not checked as a
//     client's would be: grpc-gateway forwards only valid keys and values.
//
// Everything else is as with c.
func (c *Conn) ForGateway() *Conn {
	g := *c
	g.gateway = true
	return &g
}

// Via returns a conn to the same services whose calls report a peer of
// the given network (net.Addr.Network) to handlers and interceptors, in
// place of "inprocess": a front end that calls in-process, such as MCP,
// is then told apart in metrics and logs. It shares c's interceptors and
// Close.
func (c *Conn) Via(network string) *Conn {
	g := *c
	g.peer = &peer.Peer{Addr: addr{network}, LocalAddr: addr{network}}
	peerCtx := peer.NewContext(context.Background(), g.peer)
	g.methods = make(map[string]*registeredMethod, len(c.methods))
	for name, m := range c.methods {
		mm := *m
		mm.peerCtx = peerCtx
		mm.baseCtx = baseIncoming(peerCtx, m.authority)
		g.methods[name] = &mm
	}
	return &g
}

// Close cancels the streams in flight, as closing a grpc-go server's
// connections does, and makes new calls fail with UNAVAILABLE. A unary
// call runs on its caller's goroutine and keeps its caller's context.
func (c *Conn) Close() {
	c.isClosed.Store(true)
	c.close()
}

// errClosed is the error of a call made after [Conn.Close].
var errClosed = status.Error(codes.Unavailable, "inprocess: connection closed")

// Invoke performs a unary RPC and returns after the response is received into
// reply.
//
// A unary handler runs synchronously on the caller's goroutine, which is what
// makes the call cheap. As a consequence the caller waits for the handler to
// return even if its context is done before that; over the network the client
// would return at the deadline while the handler kept running. The handler's
// context is done at the same time as the caller's, and if the caller's
// context is done when the handler returns, the call fails with the context's
// status, as it would over the network.
func (c *Conn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m := c.methods[method]
	if m == nil || m.unary == nil {
		// Unknown methods, and streaming methods called as unary (which
		// grpc-go allows), take the stream path, as they do in grpc-go.
		return c.invokeStream(ctx, method, args, reply, opts)
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	if c.isClosed.Load() {
		return errClosed
	}
	req, ok := protoMessageOf(args)
	if !ok {
		return marshalError(args)
	}
	dst, ok := protoMessageOf(reply)
	if !ok {
		return unmarshalError(reply)
	}
	var call *unaryCall
	var lazy *lazyIncoming
	if c.gateway {
		g := new(gatewayUnaryCall)
		call, lazy = &g.unaryCall, &g.incoming
	} else {
		call = new(unaryCall)
	}
	md, err := c.handlerValues(ctx, m, lazy)
	if err != nil {
		return err
	}
	co := parseCallOptions(opts)

	call.method = method
	call.bare = c.gateway
	resp, appErr, headerSent := c.runUnary(ctx, m, call, md, req)

	co.setPeer(c.peer)
	if err := ctx.Err(); err != nil {
		// Over the network the client would have given up at this point and
		// only seen a header sent before.
		if co.header != nil {
			*co.header = nil
			if headerSent {
				*co.header = call.responseHeader()
			}
		}
		if co.trailer != nil {
			*co.trailer = nil
		}
		return status.FromContextError(err).Err()
	}
	var st *status.Status
	if appErr != nil {
		st = handlerStatus(appErr)
	}
	if co.header != nil {
		*co.header = call.responseHeader()
	}
	if co.trailer != nil {
		*co.trailer = call.responseTrailer(st)
	}
	if appErr != nil {
		if st.Code() == codes.OK {
			// The handler failed with an OK status, which grpc-go's server
			// sends without a response message.
			return errNoResponse
		}
		return st.Err()
	}
	src, ok := protoMessageOf(resp)
	if !ok {
		return marshalError(resp)
	}
	return copyMessage(dst, src)
}

// runUnary calls m's unary handler, through the unary interceptors, with a
// context derived from ctx and carrying md, and req as the request. It
// reports whether the header was sent before the handler returned or with
// the response. The handler's context is cancelled when it returns.
func (c *Conn) runUnary(ctx context.Context, m *registeredMethod, call *unaryCall, md context.Context, req proto.Message) (resp any, appErr error, headerSent bool) {
	hctx := &call.hctx
	hctx.init(ctx, md, &call.serverTransportStream)
	call.ctx = hctx
	d := decoders.Get().(*decoder)
	d.req = req
	defer func() {
		d.req = nil
		decoders.Put(d)
		hctx.returned()
		headerSent = call.end(appErr == nil && ctx.Err() == nil && isProtoMessage(resp))
	}()
	resp, appErr = m.unary(m.impl, hctx, d.dec, c.unaryInt)
	return resp, appErr, false
}

// invokeStream performs a unary RPC over a stream, as grpc-go's ClientConn
// does for every unary call.
func (c *Conn) invokeStream(ctx context.Context, method string, args, reply any, opts []grpc.CallOption) error {
	cs, err := c.NewStream(ctx, &unaryStreamDesc, method, opts...)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(args); err != nil {
		return err
	}
	return cs.RecvMsg(reply)
}

// NewStream begins a streaming RPC. desc describes the RPC as the client sees
// it; the handler runs on its own goroutine until it returns.
//
// As with grpc-go, the stream's resources are released when the caller's
// context is done, when RecvMsg returns a non-nil error, or when SendMsg
// returns an error other than io.EOF.
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	if c.isClosed.Load() {
		return nil, errClosed
	}
	m := c.methods[method]
	s := &stream{
		conn:      c,
		m:         m,
		desc:      desc,
		opts:      parseCallOptions(opts),
		requests:  make(chan proto.Message, streamBuffer),
		responses: make(chan proto.Message, streamBuffer),
		finished:  make(chan struct{}),
	}
	var md context.Context
	if m != nil {
		var err error
		if md, err = c.handlerValues(ctx, m, &s.incoming); err != nil {
			return nil, err
		}
	} else if _, err := outgoingMetadata(ctx); err != nil {
		return nil, err
	}
	s.method = method
	s.bare = c.gateway
	s.headerSentCh = make(chan struct{})
	s.client.s = s
	s.server.s = s
	s.ctx, s.cancel = context.WithCancel(ctx)
	if m == nil {
		// Like grpc-go's server, answer with a trailers-only response.
		s.end(c.unknownMethodError(method))
		return &s.client, nil
	}
	s.hctx, s.cancelHandler, s.stopCancelPropagation = newHandlerContext(s.ctx, grpc.NewContextWithServerTransportStream(md, &s.serverTransportStream))
	s.serverTransportStream.ctx = s.hctx
	s.unlinkClose = context.AfterFunc(c.closed, s.cancel)
	go s.serve()
	return &s.client, nil
}

// unknownMethodError returns the error grpc-go's server returns for a method
// it does not know.
func (c *Conn) unknownMethodError(method string) error {
	sm, ok := strings.CutPrefix(method, "/")
	pos := strings.LastIndex(sm, "/")
	if !ok || pos == -1 {
		return status.Errorf(codes.Unimplemented, "malformed method name: %q", method)
	}
	service, name := sm[:pos], sm[pos+1:]
	if _, ok := c.services[service]; !ok {
		return status.Errorf(codes.Unimplemented, "unknown service %v", service)
	}
	return status.Errorf(codes.Unimplemented, "unknown method %v for service %v", name, service)
}

// newHandlerContext returns the context a stream handler runs with (unary
// handlers get a [unaryContext]). It is derived from vals, which must not
// carry any of the caller's values, and is done when caller is: it has the
// caller's deadline (with its own timer, so that its error is
// context.DeadlineExceeded as the caller's) and is cancelled when the caller's
// context is cancelled. Like the context of a grpc-go server handler, it is an
// ordinary context, so deriving from it is as cheap as usual.
//
// The caller must call cancel when the handler returns and, if it is not nil,
// stop, to release the link to the caller's context.
func newHandlerContext(caller, vals context.Context) (ctx context.Context, cancel context.CancelFunc, stop func() bool) {
	deadline, hasDeadline := caller.Deadline()
	if hasDeadline {
		ctx, cancel = context.WithDeadline(vals, deadline)
	} else {
		ctx, cancel = context.WithCancel(vals)
	}
	if caller.Done() == nil {
		return ctx, cancel, nil
	}
	return ctx, cancel, propagateCancel(caller, cancel, hasDeadline)
}

// propagateCancel arranges for cancel to be called when caller is done, and
// returns the function that undoes it. If ownTimer is set, the handler's
// context has its own timer for the caller's deadline, and cancel is not
// called when caller expires. (This is a separate function so that, when it is
// not needed, the closure does not move newHandlerContext's variables to the
// heap.)
func propagateCancel(caller context.Context, cancel context.CancelFunc, ownTimer bool) (stop func() bool) {
	return context.AfterFunc(caller, func() {
		if ownTimer && errors.Is(caller.Err(), context.DeadlineExceeded) {
			// The handler's own timer, set to the same deadline, expires
			// now too and reports the right error.
			return
		}
		cancel()
	})
}

// unaryCall is the state of a unary call made with Invoke.
type unaryCall struct {
	serverTransportStream
	// hctx is the handler's context (part of the call's one allocation).
	hctx unaryContext
}

// gatewayUnaryCall is a unary call of the gateway's conn, with the
// handler's values (see [Conn.ForGateway]) in the same allocation. Other
// calls allocate the smaller unaryCall alone.
type gatewayUnaryCall struct {
	unaryCall
	incoming lazyIncoming
}

// decoder holds a unary handler's dec function, which copies the caller's
// request into the handler's message. Decoders are pooled with dec bound
// to them, so that a call does not allocate the function (a method value
// per call was an eighth of a co-located call's allocations). dec must not
// be called once the handler returned, as with grpc-go's server, whose dec
// reads a buffer it frees then; generated handlers call it first thing.
type decoder struct {
	// req is the caller's request, only read; nil while the decoder is
	// not in use.
	req proto.Message
	dec func(any) error
}

// decoders pools decoders.
var decoders = sync.Pool{New: func() any {
	d := new(decoder)
	d.dec = d.decode
	return d
}}

// errLateDecode is the error of a dec function called after its handler
// returned.
var errLateDecode = status.Error(codes.Internal, "inprocess: request decoded after the handler returned")

// decode copies the request into v.
func (d *decoder) decode(v any) error {
	dst, ok := protoMessageOf(v)
	if !ok {
		return unmarshalError(v)
	}
	req := d.req
	if req == nil {
		return errLateDecode
	}
	return copyMessage(dst, req)
}

// end marks the call as ended once the handler returned, after sending the
// header if withResponse reports that a response message goes out. It reports
// whether the header had been sent before.
func (c *unaryCall) end(withResponse bool) (headerSent bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	headerSent = c.headerSent
	if withResponse && !c.headerSent {
		c.sendHeaderLocked()
	}
	c.endLocked()
	return headerSent
}

// callOptions holds the call options an in-process call honours.
type callOptions struct {
	header  *metadata.MD
	trailer *metadata.MD
	peer    *peer.Peer
}

// parseCallOptions extracts the options an in-process call honours from
// opts: grpc.Header, grpc.Trailer and grpc.Peer. Others are ignored.
func parseCallOptions(opts []grpc.CallOption) callOptions {
	var co callOptions
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			co.header = o.HeaderAddr
		case grpc.TrailerCallOption:
			co.trailer = o.TrailerAddr
		case grpc.PeerCallOption:
			co.peer = o.PeerAddr
		}
	}
	return co
}

// setPeer stores p where a grpc.Peer option asked for it.
func (co *callOptions) setPeer(p *peer.Peer) {
	if co.peer != nil {
		*co.peer = *p
	}
}

// errNoResponse is the error of a unary or client-streaming RPC whose server
// ended successfully without sending a response.
var errNoResponse = status.Error(codes.Internal, "cardinality violation: received no response message from non-server-streaming RPC")

// handlerStatus returns the status a handler's error is sent as: OK for nil,
// the error's status if it has one, and otherwise codes.DeadlineExceeded or
// codes.Canceled for context errors and codes.Unknown for anything else. The
// status is a copy, so that the caller does not share its details with the
// handler.
func handlerStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	st, ok := status.FromError(err)
	if !ok {
		return status.FromContextError(err)
	}
	return status.FromProto(st.Proto())
}

// contextStatusError returns the status error of ctx's error, or of
// context.Canceled if ctx is not done.
func contextStatusError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		err = context.Canceled
	}
	return status.FromContextError(err).Err()
}

// protoMessageOf returns v as a protobuf message, accepting messages of the
// legacy (APIv1) API like grpc-go's codec.
func protoMessageOf(v any) (proto.Message, bool) {
	switch m := v.(type) {
	case proto.Message:
		return m, true
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(m), true
	}
	return nil, false
}

// isProtoMessage reports whether v is a protobuf message.
func isProtoMessage(v any) bool {
	_, ok := protoMessageOf(v)
	return ok
}

// marshalError is the error grpc-go returns when sending v, which is not a
// protobuf message.
func marshalError(v any) error {
	return status.Errorf(codes.Internal, "grpc: error while marshaling: proto: failed to marshal, message is %T, want proto.Message", v)
}

// unmarshalError is the error grpc-go returns when receiving into v, which is
// not a protobuf message.
func unmarshalError(v any) error {
	return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: failed to unmarshal, message is %T, want proto.Message", v)
}

// moveMemo remembers whether the last Go type a stream moved messages of
// is a generated message's (see [moveMemo.move]): a stream's messages in
// one direction are all of one type.
type moveMemo struct {
	t       reflect.Type
	movable bool
}

// messageStateType is the type of a generated message struct's first
// field.
var messageStateType = reflect.TypeFor[protoimpl.MessageState]()

// move makes dst what src is, src being a copy that nothing else holds
// (the one the sender made): for two messages of one generated Go type,
// by moving src's struct into dst, which is what resetting dst and
// merging src into it would copy, field by field and at several times
// the cost; for any other pair, by [copyMessage]. src must not be used
// afterwards.
func (c *moveMemo) move(dst, src proto.Message) error {
	t := reflect.TypeOf(dst)
	if t != c.t {
		c.t = t
		c.movable = t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct &&
			t.Elem().NumField() > 0 && t.Elem().Field(0).Type == messageStateType
	}
	if c.movable && reflect.TypeOf(src) == t {
		d := reflect.ValueOf(dst)
		if d.IsNil() {
			return copyMessage(dst, src) // its error
		}
		d.Elem().Set(reflect.ValueOf(src).Elem())
		return nil
	}
	return copyMessage(dst, src)
}

// copyMessage resets dst and deep-copies src into it. Messages of the same
// type are merged; others, which may still be wire-compatible, are copied by
// marshaling, as the network would.
func copyMessage(dst, src proto.Message) error {
	d := dst.ProtoReflect()
	if !d.IsValid() {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: invalid nil %T", dst)
	}
	proto.Reset(dst)
	if d.Descriptor() == src.ProtoReflect().Descriptor() {
		proto.Merge(dst, src)
		return nil
	}
	b, err := proto.Marshal(src)
	if err != nil {
		return status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	if err := proto.Unmarshal(b, dst); err != nil {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}

// ChainUnaryServerInterceptors returns an interceptor that runs ints in
// order, the first outermost, as grpc.ChainUnaryInterceptor does on a
// server, or nil if ints is empty.
func ChainUnaryServerInterceptors(ints []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	switch len(ints) {
	case 0:
		return nil
	case 1:
		return ints[0]
	}
	ints = append([]grpc.UnaryServerInterceptor(nil), ints...)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return ints[0](ctx, req, info, unaryChainHandler(ints[1:], info, handler))
	}
}

// unaryChainHandler returns the handler that runs the interceptors rest, then
// final.
func unaryChainHandler(rest []grpc.UnaryServerInterceptor, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
	if len(rest) == 0 {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return rest[0](ctx, req, info, unaryChainHandler(rest[1:], info, final))
	}
}

// chainStreamServerInterceptors returns an interceptor that runs ints in
// order, the first outermost, or nil if ints is empty.
func chainStreamServerInterceptors(ints []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	switch len(ints) {
	case 0:
		return nil
	case 1:
		return ints[0]
	}
	ints = append([]grpc.StreamServerInterceptor(nil), ints...)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return ints[0](srv, ss, info, streamChainHandler(ints[1:], info, handler))
	}
}

// streamChainHandler returns the handler that runs the interceptors rest,
// then final.
func streamChainHandler(rest []grpc.StreamServerInterceptor, info *grpc.StreamServerInfo, final grpc.StreamHandler) grpc.StreamHandler {
	if len(rest) == 0 {
		return final
	}
	return func(srv any, ss grpc.ServerStream) error {
		return rest[0](srv, ss, info, streamChainHandler(rest[1:], info, final))
	}
}
