package goms

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"

	"google.golang.org/grpc/resolver"
)

// Discovery is a service discovery backend: it registers the services a
// [Server] hosts, so that other processes find them, and resolves the
// services the server calls that have no target. GoMs links none by
// default; the package github.com/goms-io/goms/etcd provides one through
// [RegisterDiscovery], turned on by the etcd.* settings ([EtcdConfig]).
type Discovery interface {
	// Target returns the gRPC target at which the named service is found,
	// such as etcd:///goms/<service>. Its scheme is the one of Resolver.
	Target(service string) string
	// Resolver returns the gRPC resolver of Target's targets.
	Resolver() resolver.Builder
	// Register announces that addr serves the named services over gRPC,
	// until Deregister. ctx bounds the registration itself, not how long
	// it lasts: the backend keeps it alive in the background, and renews
	// it if it is lost.
	Register(ctx context.Context, services []string, addr string) error
	// Deregister withdraws what Register announced, so that clients stop
	// picking this server, and stops keeping it alive. The server calls it
	// at the start of a graceful stop, before draining; ctx bounds it. It
	// returns nil when nothing was registered.
	Deregister(ctx context.Context) error
	// Close releases the backend's connections. The server calls it last,
	// after Deregister, or when Start fails.
	Close() error
}

var (
	discoveryMu   sync.Mutex
	openDiscovery func(Config, *slog.Logger) (Discovery, error)
)

// RegisterDiscovery installs the discovery backend of the program: a
// [Server] whose configuration sets etcd.endpoints calls open when it
// starts, with its configuration and logger, and uses the Discovery it
// returns until it stops. The package providing the backend calls it from
// its init function, so that importing it (import _
// "github.com/goms-io/goms/etcd") turns discovery on; without it, Start
// fails when etcd.endpoints is set. RegisterDiscovery panics if open is nil
// or if it is called twice.
func RegisterDiscovery(open func(cfg Config, log *slog.Logger) (Discovery, error)) {
	discoveryMu.Lock()
	defer discoveryMu.Unlock()
	if open == nil {
		panic("goms: RegisterDiscovery(nil)")
	}
	if openDiscovery != nil {
		panic("goms: RegisterDiscovery called twice")
	}
	openDiscovery = open
}

// newDiscovery returns the discovery cfg asks for, nil when it asks for
// none.
func newDiscovery(cfg Config, log *slog.Logger) (Discovery, error) {
	if len(cfg.Etcd.Endpoints) == 0 {
		return nil, nil
	}
	discoveryMu.Lock()
	open := openDiscovery
	discoveryMu.Unlock()
	if open == nil {
		return nil, errors.New(`etcd.endpoints is set, but this program has no etcd discovery: add import _ "github.com/goms-io/goms/etcd"`)
	}
	return open(cfg, log)
}

// advertiseAddr is the address other processes dial to reach this server
// over gRPC: etcd.advertise_addr, or the address the gRPC server listens
// on when it names a host.
func advertiseAddr(cfg Config, listening string) (string, error) {
	if cfg.Etcd.AdvertiseAddr != "" {
		return cfg.Etcd.AdvertiseAddr, nil
	}
	host, _, err := net.SplitHostPort(listening)
	if err != nil || host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		return "", errors.New("etcd.advertise_addr: the gRPC server listens on all interfaces (" + listening +
			"); set the address other processes should dial, such as the pod IP and port")
	}
	return listening, nil
}
