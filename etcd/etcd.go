// Package etcd is the etcd service discovery of GoMs: servers register the
// services they host in etcd under a lease, and find the services they call
// that have no target at etcd:///<prefix>/<service>. Import it for its side
// effect, import _ "github.com/goms-io/goms/etcd", and set etcd.endpoints
// (the other etcd.* settings are optional).
package etcd

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/goms-io/goms"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	etcdresolver "go.etcd.io/etcd/client/v3/naming/resolver"
	"go.uber.org/zap"
	"google.golang.org/grpc/resolver"
)

func init() {
	goms.RegisterDiscovery(func(cfg goms.Config, log *slog.Logger) (goms.Discovery, error) {
		return newRegistry(cfg, log)
	})
}

// registry registers the services a server hosts in etcd, under a lease,
// and resolves etcd:/// targets, with etcd's own naming packages: a
// service's endpoints are the keys <prefix>/<service>/<address>, which
// etcd's gRPC resolver watches.
type registry struct {
	client   *clientv3.Client
	resolver resolver.Builder
	prefix   string
	ttl      time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	lease  clientv3.LeaseID
	cancel context.CancelFunc // stops the keep-alive loop
	done   chan struct{}
}

// newRegistry connects to etcd and checks that it answers within
// client.connect_timeout.
func newRegistry(cfg goms.Config, log *slog.Logger) (*registry, error) {
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Etcd.Endpoints,
		DialTimeout: cfg.Client.ConnectTimeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(cfg.Etcd.Endpoints, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Client.ConnectTimeout)
	defer cancel()
	if _, err := client.Get(ctx, cfg.Etcd.Prefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		client.Close()
		return nil, fmt.Errorf("etcd %s: not reachable within %s (client.connect_timeout): %w",
			strings.Join(cfg.Etcd.Endpoints, ","), cfg.Client.ConnectTimeout, err)
	}
	b, err := etcdresolver.NewBuilder(client)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &registry{client: client, resolver: b, prefix: cfg.Etcd.Prefix, ttl: cfg.Etcd.LeaseTTL, log: log}, nil
}

// Target is the etcd target of a service: etcd:///<prefix>/<service>.
func (r *registry) Target(service string) string { return "etcd:///" + r.prefix + "/" + service }

// Resolver is etcd's gRPC resolver, for the etcd scheme.
func (r *registry) Resolver() resolver.Builder { return r.resolver }

// Register puts addr under every service name, on one lease kept alive
// until Deregister; if the lease is lost (etcd unreachable for longer than
// the TTL), it registers again once etcd answers.
func (r *registry) Register(ctx context.Context, services []string, addr string) error {
	if err := r.put(ctx, services, addr); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		for {
			r.mu.Lock()
			lease := r.lease
			r.mu.Unlock()
			alive, err := r.client.KeepAlive(ctx, lease)
			if err == nil {
				for range alive { // drained until the lease is lost or ctx ends
				}
			}
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("etcd lease lost; registering again", "services", strings.Join(services, ","), "addr", addr)
			for ctx.Err() == nil {
				if err := r.put(ctx, services, addr); err == nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	r.log.Info("registered in etcd", "services", strings.Join(services, ","), "addr", addr)
	return nil
}

// put grants a lease and writes one endpoint key per service on it.
func (r *registry) put(ctx context.Context, services []string, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	grant, err := r.client.Grant(ctx, int64(r.ttl/time.Second))
	if err != nil {
		return fmt.Errorf("etcd: lease: %w", err)
	}
	for _, svc := range services {
		em, err := endpoints.NewManager(r.client, r.prefix+"/"+svc)
		if err == nil {
			err = em.AddEndpoint(ctx, r.prefix+"/"+svc+"/"+addr, endpoints.Endpoint{Addr: addr}, clientv3.WithLease(grant.ID))
		}
		if err != nil {
			return fmt.Errorf("etcd: register %s at %s: %w", svc, addr, err)
		}
	}
	r.mu.Lock()
	r.lease = grant.ID
	r.mu.Unlock()
	return nil
}

// Deregister revokes the lease, which deletes every endpoint key at once,
// and stops the keep-alive loop. Once done, it does nothing.
func (r *registry) Deregister(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	<-r.done
	r.cancel = nil
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := r.client.Revoke(ctx, lease); err != nil {
		return fmt.Errorf("etcd: revoke the lease of the registration: %w", err)
	}
	return nil
}

// Close closes the etcd client.
func (r *registry) Close() error { return r.client.Close() }
