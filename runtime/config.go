package runtime

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"
)

// Mode says which servers a process runs.
type Mode string

const (
	// ModeGateway serves gRPC and the HTTP/JSON gateway in one process. The
	// gateway calls the local services in-process, without a network hop.
	ModeGateway Mode = "gateway"
	// ModeGRPC serves gRPC only.
	ModeGRPC Mode = "grpc"
	// ModeHTTP serves the HTTP/JSON gateway only and forwards every call to
	// the remote gRPC server named by [Config.Upstream].
	ModeHTTP Mode = "http"
)

// modes lists the accepted modes, in the order help texts show them.
var modes = []Mode{ModeGateway, ModeGRPC, ModeHTTP}

// String implements [flag.Value].
func (m *Mode) String() string { return string(*m) }

// Set implements [flag.Value]; it accepts only the defined modes.
func (m *Mode) Set(s string) error {
	for _, ok := range modes {
		if Mode(s) == ok {
			*m = ok
			return nil
		}
	}
	return fmt.Errorf("invalid mode %q: want %s", s, joinModes())
}

func joinModes() string {
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = fmt.Sprintf("%q", m)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// servesGRPC reports whether a process in mode m listens for gRPC.
func (m Mode) servesGRPC() bool { return m == ModeGateway || m == ModeGRPC }

// servesHTTP reports whether a process in mode m runs the HTTP gateway.
func (m Mode) servesHTTP() bool { return m == ModeGateway || m == ModeHTTP }

// Defaults, as in the original GoMs.
const (
	DefaultGRPCAddr      = "127.0.0.1:42001"
	DefaultHTTPAddr      = "127.0.0.1:8080"
	DefaultShutdownGrace = 10 * time.Second
)

// Config is what a [Server] needs to know about its deployment. Build it
// with [DefaultConfig], then override fields, or let [Config.LoadEnv] and
// [Config.BindFlags] fill it (flags win over the environment, which wins
// over the defaults).
type Config struct {
	// Mode selects the servers to run. Default [ModeGateway].
	// Flag -mode, environment GOMS_MODE.
	Mode Mode
	// GRPCAddr is the host:port the gRPC server listens on in
	// [ModeGateway] and [ModeGRPC]. Port 0 picks a free port.
	// Default 127.0.0.1:42001. Flag -grpc-addr, environment GOMS_GRPC_ADDR.
	GRPCAddr string
	// HTTPAddr is the host:port the HTTP gateway listens on in
	// [ModeGateway] and [ModeHTTP]. Port 0 picks a free port.
	// Default 127.0.0.1:8080. Flag -http-addr, environment GOMS_HTTP_ADDR.
	HTTPAddr string
	// Upstream is the gRPC target (grpc-go syntax, for example
	// "127.0.0.1:42001" or "dns:///orders:42001") that the gateway
	// forwards to in [ModeHTTP]; required there, unused otherwise.
	// Flag -upstream, environment GOMS_UPSTREAM.
	Upstream string
	// ShutdownGrace bounds a graceful stop: in-flight calls get this long to
	// finish before connections are closed. Default 10s.
	// Flag -shutdown-grace, environment GOMS_SHUTDOWN_GRACE.
	ShutdownGrace time.Duration
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Mode:          ModeGateway,
		GRPCAddr:      DefaultGRPCAddr,
		HTTPAddr:      DefaultHTTPAddr,
		ShutdownGrace: DefaultShutdownGrace,
	}
}

// setting ties one Config field to its flag and environment variable, so
// each is named once.
type setting struct {
	flag, env, usage string
	value            func(c *Config) flag.Value
}

func settings() []setting {
	return []setting{
		{"mode", "GOMS_MODE", "servers to run: " + joinModes(),
			func(c *Config) flag.Value { return &c.Mode }},
		{"grpc-addr", "GOMS_GRPC_ADDR", "gRPC listen address (host:port) in gateway and grpc modes",
			func(c *Config) flag.Value { return (*addrValue)(&c.GRPCAddr) }},
		{"http-addr", "GOMS_HTTP_ADDR", "HTTP listen address (host:port) in gateway and http modes",
			func(c *Config) flag.Value { return (*addrValue)(&c.HTTPAddr) }},
		{"upstream", "GOMS_UPSTREAM", "gRPC target the HTTP gateway forwards to in http mode",
			func(c *Config) flag.Value { return (*stringValue)(&c.Upstream) }},
		{"shutdown-grace", "GOMS_SHUTDOWN_GRACE", "time in-flight calls get to finish on shutdown",
			func(c *Config) flag.Value { return (*durationValue)(&c.ShutdownGrace) }},
	}
}

// BindFlags defines one flag per field on fs, with c's current values as
// defaults; parsing fs then writes into c.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	for _, s := range settings() {
		fs.Var(s.value(c), s.flag, fmt.Sprintf("%s (env %s)", s.usage, s.env))
	}
}

// LoadEnv overrides fields from GOMS_* environment variables, read through
// lookup (usually [os.LookupEnv]). An invalid value is an error naming the
// variable.
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	for _, s := range settings() {
		if v, ok := lookup(s.env); ok {
			if err := s.value(c).Set(v); err != nil {
				return fmt.Errorf("environment %s: %w", s.env, err)
			}
		}
	}
	return nil
}

// Validate reports the first inconsistency in c.
func (c Config) Validate() error {
	var m Mode
	if err := m.Set(string(c.Mode)); err != nil {
		return err
	}
	if c.Mode.servesGRPC() {
		if err := checkAddr(c.GRPCAddr); err != nil {
			return fmt.Errorf("gRPC address: %w", err)
		}
	}
	if c.Mode.servesHTTP() {
		if err := checkAddr(c.HTTPAddr); err != nil {
			return fmt.Errorf("HTTP address: %w", err)
		}
	}
	if c.Mode == ModeHTTP && c.Upstream == "" {
		return errors.New("mode \"http\" needs an upstream gRPC target (flag -upstream or GOMS_UPSTREAM)")
	}
	if c.ShutdownGrace < 0 {
		return fmt.Errorf("shutdown grace %s is negative", c.ShutdownGrace)
	}
	return nil
}

// checkAddr accepts host:port with a numeric or named port.
func checkAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("invalid address %q: want host:port", addr)
	}
	return nil
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

// addrValue is a host:port checked when set.
type addrValue string

func (v *addrValue) String() string { return string(*v) }
func (v *addrValue) Set(s string) error {
	if err := checkAddr(s); err != nil {
		return err
	}
	*v = addrValue(s)
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit, such as 10s or 500ms", s)
	}
	if d < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	*v = durationValue(d)
	return nil
}
