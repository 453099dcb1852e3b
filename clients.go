package goms

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Conn returns the connection for calls to the named service (its
// fully-qualified name, such as the generated <Service>Name constant).
// When this process hosts the service, calls go in-process: no socket, no
// serialization, but through the server interceptors, with deadlines,
// metadata and status errors as over the network. Otherwise they go to
// the service's entry in [Config.Targets] over a pooled connection, which
// the server dials at start-up, balances round-robin across the addresses
// the target resolves to, and retries on UNAVAILABLE for methods declared
// idempotent (option idempotency_level). Either way a call whose context
// has no deadline gets [ClientConfig.CallTimeout].
//
// Conn may be called before [Server.Start], typically while registering
// services; where the service is served is decided at Start. Calls made
// before Start fail with codes.Unavailable, and so do calls to a service
// that is neither hosted nor has a target, with a message saying what to
// configure: a process may build services it does not host, whose
// clients it never uses.
func (s *Server) Conn(service string) grpc.ClientConnInterface {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clientFor(service)
	if s.started && c.conn.Load() == nil && c.err == nil {
		if err := s.resolveClients(); err != nil {
			c.err = status.Error(codes.Unavailable, err.Error())
		}
	}
	return c
}

// clientFor returns the serviceConn of the named service, creating it.
// s.mu must be held.
func (s *Server) clientFor(service string) *serviceConn {
	if s.clients == nil {
		s.clients = make(map[string]*serviceConn)
	}
	c, ok := s.clients[service]
	if !ok {
		c = &serviceConn{service: service, timeout: s.cfg.Client.CallTimeout, propagate: s.cfg.Client.PropagateMetadata}
		s.clients[service] = c
	}
	return c
}

// serviceConn is what [Server.Conn] returns: a stable handle whose
// destination, in-process or remote, is set when the server starts.
type serviceConn struct {
	service   string
	timeout   time.Duration
	propagate []string // incoming metadata keys passed on
	conn      atomic.Pointer[grpc.ClientConnInterface]
	err       error // why there is no destination, after Start
}

func (c *serviceConn) dest() (grpc.ClientConnInterface, error) {
	if p := c.conn.Load(); p != nil {
		return *p, nil
	}
	if c.err != nil {
		return nil, c.err
	}
	return nil, status.Errorf(codes.Unavailable, "goms: no connection to %s: the server has not started", c.service)
}

func (c *serviceConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	conn, err := c.dest()
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	return conn.Invoke(c.passOn(ctx), method, args, reply, opts...)
}

// passOn copies the configured keys of the incoming metadata (the call
// being handled) to the outgoing metadata, unless already set there.
func (c *serviceConn) passOn(ctx context.Context) context.Context {
	if len(c.propagate) == 0 {
		return ctx
	}
	in, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	out, _ := metadata.FromOutgoingContext(ctx)
	var kv []string
	for _, k := range c.propagate {
		if vs := in.Get(k); len(vs) > 0 && len(out.Get(k)) == 0 {
			for _, v := range vs {
				kv = append(kv, k, v)
			}
		}
	}
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// NewStream does not apply the call timeout: streams are often meant to
// last; give them a deadline through their context.
func (c *serviceConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	conn, err := c.dest()
	if err != nil {
		return nil, err
	}
	return conn.NewStream(c.passOn(ctx), desc, method, opts...)
}

// hosted reports whether this process serves the named service itself:
// it is registered with an implementation, the mode runs services, and
// [Config.Serve] is empty or names it.
func (s *Server) hosted(name string) bool {
	return s.served(name) && slices.ContainsFunc(s.services, func(svc Service) bool { return svc.name() == name && svc.Impl != nil })
}

// served reports whether the configuration has this process serve the
// named service, if registered.
func (s *Server) served(name string) bool {
	return s.cfg.Mode != ModeHTTP && (len(s.cfg.Serve) == 0 || slices.Contains(s.cfg.Serve, name))
}

// resolveClients gives every serviceConn its destination: the in-process
// connection, or a pooled connection to its target (one per distinct
// target, shared by the services behind it).
func (s *Server) resolveClients() error {
	byTarget := make(map[string][]string)
	for name, c := range s.clients {
		if c.conn.Load() != nil {
			continue
		}
		if s.hosted(name) {
			local := s.localClient()
			c.conn.Store(&local)
			continue
		}
		target := s.cfg.Targets[name]
		if target == "" && s.cfg.Mode == ModeHTTP {
			target = s.cfg.Upstream
		}
		if target == "" && s.discover != nil {
			target = s.discover.Target(name)
		}
		if target == "" {
			// Not fatal: a process often builds services it does not host,
			// whose clients it never uses. Calls say what is missing.
			c.err = status.Errorf(codes.Unavailable,
				"goms: %s is not hosted by this process and has no target; set targets (flag -targets %s=<target>, or GOMS_TARGETS) or etcd.endpoints",
				name, name)
			continue
		}
		byTarget[target] = append(byTarget[target], name)
	}
	for _, target := range slices.Sorted(maps.Keys(byTarget)) {
		names := byTarget[target]
		slices.Sort(names)
		conn, err := s.dialPooled(target, names)
		if err != nil {
			return err
		}
		for _, name := range names {
			var cc grpc.ClientConnInterface = conn
			s.clients[name].conn.Store(&cc)
		}
	}
	return nil
}

// dialPooled dials target for the named services and starts watching it
// for readiness.
func (s *Server) dialPooled(target string, services []string) (*grpc.ClientConn, error) {
	extra := []grpc.DialOption{
		grpc.WithDefaultServiceConfig(serviceConfig(services, s.cfg.Client.CallTimeout)),
		grpc.WithIdleTimeout(0), // stay connected: calls never wait for a dial
	}
	dialTarget := target
	if strings.HasPrefix(target, "etcd://") {
		if s.discover == nil {
			return nil, fmt.Errorf("goms: target %q of %s needs etcd.endpoints", target, strings.Join(services, ", "))
		}
		extra = append(extra, grpc.WithResolvers(s.discover.Resolver()))
	}
	if addrs, ok := staticAddresses(target); ok {
		r := manual.NewBuilderWithScheme("goms-static")
		state := resolver.State{}
		for _, a := range addrs {
			state.Addresses = append(state.Addresses, resolver.Address{Addr: a})
		}
		r.InitialState(state)
		extra = append(extra, grpc.WithResolvers(r))
		dialTarget = "goms-static:///" + strings.Join(addrs, ",")
	}
	opts, err := s.dialOptions(extra)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(dialTarget, opts...)
	if err != nil {
		return nil, fmt.Errorf("goms: target %q of %s: %w", target, strings.Join(services, ", "), err)
	}
	conn.Connect()
	s.pooled = append(s.pooled, conn)
	dep := &dependency{services: strings.Join(services, ", ")}
	dep.what = dep.services + " at " + target
	s.deps = append(s.deps, dep)
	go s.watchReady(conn, dep)
	return conn, nil
}

// staticAddresses splits a scheme-less, comma-separated address list.
func staticAddresses(target string) ([]string, bool) {
	if strings.Contains(target, "://") || strings.Contains(target, ":///") || !strings.Contains(target, ",") {
		return nil, false
	}
	var addrs []string
	for a := range strings.SplitSeq(target, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs, true
}

// dependency is a remote target the server waits for before it is ready.
type dependency struct {
	services string // the services it serves, comma-separated
	what     string // the services and the target, for the log
	ready    atomic.Bool
}

// watchReady marks dep ready once conn first reaches READY, and logs an
// error naming it when that takes longer than [ClientConfig.ConnectTimeout].
func (s *Server) watchReady(conn *grpc.ClientConn, dep *dependency) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(s.stopping, cancel)
	defer stop()
	warn := time.AfterFunc(s.cfg.Client.ConnectTimeout, func() {
		s.log.Error("dependency not reachable; not ready", "dependency", dep.what, "waited", s.cfg.Client.ConnectTimeout, "state", conn.GetState().String())
	})
	defer warn.Stop()
	for state := conn.GetState(); state != connectivity.Ready; state = conn.GetState() {
		if !conn.WaitForStateChange(ctx, state) {
			return
		}
	}
	dep.ready.Store(true)
	s.log.Info("dependency reachable", "dependency", dep.what)
}

// waitingFor lists the dependencies not reachable yet, by the services
// they serve. /readyz shows the list, on the HTTP port unless admin.addr is
// set, so it names no target: the addresses of the services behind are
// in the log lines of the dependency.
func (s *Server) waitingFor() []string {
	var out []string
	for _, d := range s.deps {
		if !d.ready.Load() {
			out = append(out, d.services)
		}
	}
	return out
}

// serviceConfig is the grpc-go service config of a pooled connection:
// round-robin balancing, the default call timeout, and retries on
// UNAVAILABLE for the idempotent methods of services (found in the
// global protobuf registry, where generated code registers them).
func serviceConfig(services []string, timeout time.Duration) string {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method,omitempty"`
	}
	type retry struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []name `json:"name"`
		Timeout     string `json:"timeout,omitempty"`
		RetryPolicy *retry `json:"retryPolicy,omitempty"`
	}
	cfg := struct {
		LoadBalancingConfig []map[string]struct{} `json:"loadBalancingConfig"`
		MethodConfig        []methodConfig        `json:"methodConfig,omitempty"`
	}{LoadBalancingConfig: []map[string]struct{}{{"round_robin": {}}}}
	var timeoutText string
	if timeout > 0 {
		timeoutText = fmt.Sprintf("%.3fs", timeout.Seconds())
	}
	policy := &retry{MaxAttempts: 3, InitialBackoff: "0.05s", MaxBackoff: "1s", BackoffMultiplier: 2,
		RetryableStatusCodes: []string{"UNAVAILABLE"}}
	for _, svc := range services {
		if timeoutText != "" {
			cfg.MethodConfig = append(cfg.MethodConfig, methodConfig{Name: []name{{Service: svc}}, Timeout: timeoutText})
		}
		var idempotent []name
		for _, m := range idempotentMethods(svc) {
			idempotent = append(idempotent, name{Service: svc, Method: m})
		}
		if len(idempotent) > 0 {
			cfg.MethodConfig = append(cfg.MethodConfig, methodConfig{Name: idempotent, Timeout: timeoutText, RetryPolicy: policy})
		}
	}
	out, _ := json.Marshal(cfg)
	return string(out)
}

// idempotentMethods lists the methods of the named service declared
// IDEMPOTENT or NO_SIDE_EFFECTS.
func idempotentMethods(service string) []string {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if err != nil || !ok {
		return nil
	}
	var out []string
	for i := range sd.Methods().Len() {
		m := sd.Methods().Get(i)
		opts, _ := m.Options().(*descriptorpb.MethodOptions)
		if level := opts.GetIdempotencyLevel(); level == descriptorpb.MethodOptions_IDEMPOTENT || level == descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
			out = append(out, string(m.Name()))
		}
	}
	return out
}

// interceptedConn runs client interceptors, first outermost, around calls
// on an in-process connection (grpc-go applies them only to its own
// connections).
type interceptedConn struct {
	conn   grpc.ClientConnInterface
	unary  []grpc.UnaryClientInterceptor
	stream []grpc.StreamClientInterceptor
}

func (c interceptedConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.invoke(0, ctx, method, args, reply, opts)
}

func (c interceptedConn) invoke(i int, ctx context.Context, method string, args, reply any, opts []grpc.CallOption) error {
	if i == len(c.unary) {
		return c.conn.Invoke(ctx, method, args, reply, opts...)
	}
	return c.unary[i](ctx, method, args, reply, nil,
		func(ctx context.Context, method string, args, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
			return c.invoke(i+1, ctx, method, args, reply, opts)
		}, opts...)
}

func (c interceptedConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.newStream(0, ctx, desc, method, opts)
}

func (c interceptedConn) newStream(i int, ctx context.Context, desc *grpc.StreamDesc, method string, opts []grpc.CallOption) (grpc.ClientStream, error) {
	if i == len(c.stream) {
		return c.conn.NewStream(ctx, desc, method, opts...)
	}
	return c.stream[i](ctx, desc, nil, method,
		func(ctx context.Context, desc *grpc.StreamDesc, _ *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return c.newStream(i+1, ctx, desc, method, opts)
		}, opts...)
}
