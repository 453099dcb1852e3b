package inprocess

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// grpcStatusDetailsKey is the trailer key grpc-go sends a status with details
// in, as a serialized google.rpc.Status.
const grpcStatusDetailsKey = "grpc-status-details-bin"

// contentType is the content-type gRPC uses on the wire for protobuf
// messages. It is reported in metadata as it would be over the network.
const contentType = "application/grpc"

var (
	// contentTypeValue and userAgentValue are the values of the content-type
	// and user-agent incoming metadata keys. They are shared by every call:
	// the incoming metadata map is never handed to user code directly, since
	// metadata.FromIncomingContext returns a copy.
	contentTypeValue = []string{contentType}
	userAgentValue   = []string{"grpc-go/" + grpc.Version}

	// errIllegalHeaderWrite is returned, as by grpc-go's server transport, when
	// header metadata is set after the header was sent or trailer metadata is
	// set after the RPC ended.
	errIllegalHeaderWrite = status.Error(codes.Internal, "transport: SendHeader called multiple times")
)

// outgoingMetadata returns a copy of the caller's outgoing metadata, checked
// as grpc-go's client checks it.
func outgoingMetadata(ctx context.Context) (metadata.MD, error) {
	md, ok := metadata.FromOutgoingContext(ctx)
	if !ok {
		return nil, nil
	}
	for k, vs := range md {
		if err := validateMetadata(k, vs); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return md, nil
}

// baseIncoming returns peerCtx with the incoming metadata a handler sees
// when its caller sent none: :authority, content-type and user-agent as a
// grpc-go client would send them.
func baseIncoming(peerCtx context.Context, authority []string) context.Context {
	return metadata.NewIncomingContext(peerCtx, metadata.MD{
		":authority":   authority,
		"content-type": contentTypeValue,
		"user-agent":   userAgentValue,
	})
}

// incomingMetadata returns the context, derived from an empty one, that holds
// the peer and the incoming metadata a handler of m sees when called with ctx:
// a copy of the caller's outgoing metadata without the keys gRPC reserves for
// itself, plus :authority, content-type and user-agent as a grpc-go client
// would send them. With check, the metadata is first checked as grpc-go's
// client checks it.
func incomingMetadata(ctx context.Context, m *registeredMethod, check bool) (context.Context, error) {
	md, ok := metadata.FromOutgoingContext(ctx) // a copy, keys lowercased
	if !ok {
		return m.baseCtx, nil
	}
	// One pass over the copy: check it as outgoingMetadata does, and drop
	// the reserved keys (map iteration is most of the cost here).
	for k, vs := range md {
		if check {
			if err := validateMetadata(k, vs); err != nil {
				return nil, status.Error(codes.Internal, err.Error())
			}
		}
		if isReservedHeader(k) {
			delete(md, k)
		}
	}
	md[":authority"] = m.authority
	md["content-type"] = contentTypeValue
	md["user-agent"] = userAgentValue
	return metadata.NewIncomingContext(m.peerCtx, md), nil
}

// handlerValues returns the context the values of a handler of m come
// from, for a call made with ctx: the peer and the incoming metadata. For
// the gateway's conn it is lazy, kept in lazy (see [lazyIncoming]), which
// may be nil for other conns.
func (c *Conn) handlerValues(ctx context.Context, m *registeredMethod, lazy *lazyIncoming) (context.Context, error) {
	if !c.gateway {
		return incomingMetadata(ctx, m, true)
	}
	lazy.Context, lazy.caller, lazy.m = m.peerCtx, ctx, m
	return lazy, nil
}

// lazyIncoming is the values context of a handler called through the
// gateway's conn: the incoming metadata is built from the caller's
// outgoing metadata the first time a lookup needs it, which many calls
// never do (turning grpc-gateway's metadata into the handler's is most of
// what an in-process call costs otherwise). Lookups the peer context
// answers, such as the peer itself, do not build it. The metadata is not
// checked as a client's would be: grpc-gateway forwards only valid keys
// and values.
type lazyIncoming struct {
	context.Context // m.peerCtx: the peer; no deadline, never done
	caller          context.Context
	m               *registeredMethod

	once     sync.Once
	incoming context.Context
}

// Value returns the peer context's value for key, or else the incoming
// metadata context's.
func (l *lazyIncoming) Value(key any) any {
	if v := l.Context.Value(key); v != nil {
		return v
	}
	l.once.Do(l.build)
	return l.incoming.Value(key)
}

func (l *lazyIncoming) build() {
	l.incoming, _ = incomingMetadata(l.caller, l.m, false) // fails only when checking
}

// isReservedHeader reports whether key is used by gRPC itself on the wire, in
// which case grpc-go does not transmit it as metadata.
func isReservedHeader(key string) bool {
	if key != "" && key[0] == ':' {
		return true
	}
	switch key {
	case "content-type", "user-agent", "grpc-message-type", "grpc-encoding",
		"grpc-message", "grpc-status", "grpc-timeout", "te":
		return true
	}
	return false
}

// validateMetadataMap checks md as grpc-go's server stream does.
func validateMetadataMap(md metadata.MD) error {
	for k, vs := range md {
		if err := validateMetadata(k, vs); err != nil {
			return status.Error(codes.Internal, err.Error())
		}
	}
	return nil
}

// validateMetadata checks a metadata key and its values as grpc-go does: keys
// are non-empty and made of [0-9a-z-_.] (pseudo-headers are not checked), and
// values of keys not ending in "-bin" are printable ASCII.
func validateMetadata(key string, vals []string) error {
	if key == "" {
		return errors.New("there is an empty key in the header")
	}
	if key[0] == ':' {
		return nil
	}
	for i := 0; i < len(key); i++ {
		r := key[i]
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '.' && r != '-' && r != '_' {
			return fmt.Errorf("header key %q contains illegal characters not in [0-9a-z-_.]", key)
		}
	}
	if strings.HasSuffix(key, "-bin") {
		return nil
	}
	for _, v := range vals {
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return fmt.Errorf("header key %q contains value with non-printable ASCII characters", key)
			}
		}
	}
	return nil
}

// serverTransportStream records the header and trailer metadata a handler
// sets, with the rules of grpc-go's server transport: the header may be set
// until it is sent, explicitly or with the first response message or the
// status, and the trailer until the RPC ends. It is the
// grpc.ServerTransportStream of in-process handler contexts, so that
// grpc.SetHeader, grpc.SendHeader, grpc.SetTrailer and grpc.Method work.
type serverTransportStream struct {
	method string
	// ctx is the handler's context, used for the error of SendHeader once
	// the RPC ended.
	ctx context.Context
	// headerSentCh, if not nil, is closed when the header is sent.
	headerSentCh chan struct{}

	mu      sync.Mutex
	header  metadata.MD
	trailer metadata.MD
	// bare is set for calls of the gateway's conn (see [Conn.ForGateway]):
	// response metadata without content-type, nil when empty. (It is
	// next to the other bools, which keeps the struct 8 bytes smaller.)
	bare bool
	// headerSent reports whether the header was sent.
	headerSent bool
	// trailersOnly reports whether the RPC ended without a header, in which
	// case grpc-go sends the status and trailer alone, and the client sees
	// no header.
	trailersOnly bool
	// done reports whether the RPC ended.
	done bool
}

// Method returns the full method name of the RPC.
func (t *serverTransportStream) Method() string { return t.method }

// SetHeader merges md into the header. It fails once the header was sent.
func (t *serverTransportStream) SetHeader(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.headerSent || t.done {
		return errIllegalHeaderWrite
	}
	t.header = metadata.Join(t.header, md)
	return nil
}

// SendHeader merges md into the header and sends it. It may be called at most
// once, and not after the header was sent otherwise.
func (t *serverTransportStream) SendHeader(md metadata.MD) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return contextStatusError(t.ctx)
	}
	if t.headerSent {
		return errIllegalHeaderWrite
	}
	if md.Len() > 0 {
		t.header = metadata.Join(t.header, md)
	}
	t.sendHeaderLocked()
	return nil
}

// SetTrailer merges md into the trailer. It fails once the RPC ended.
func (t *serverTransportStream) SetTrailer(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errIllegalHeaderWrite
	}
	t.trailer = metadata.Join(t.trailer, md)
	return nil
}

// sendHeaderForMessage sends the header, if it was not sent yet, ahead of a
// response message. It fails once the RPC ended.
func (t *serverTransportStream) sendHeaderForMessage() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return contextStatusError(t.ctx)
	}
	if !t.headerSent {
		t.sendHeaderLocked()
	}
	return nil
}

// sendHeaderLocked marks the header as sent. t.mu must be held.
func (t *serverTransportStream) sendHeaderLocked() {
	t.headerSent = true
	if t.headerSentCh != nil {
		close(t.headerSentCh)
	}
}

// endLocked marks the RPC as ended, which sends the header if it was not sent
// yet; with an empty header, the response is trailers-only. t.mu must be
// held, and t must not have ended already.
func (t *serverTransportStream) endLocked() {
	t.done = true
	if !t.headerSent {
		t.trailersOnly = len(t.header) == 0
		t.sendHeaderLocked()
	}
}

// responseHeader returns a copy of the header as the client receives it, or
// nil if the header was not sent or the response is trailers-only.
func (t *serverTransportStream) responseHeader() metadata.MD {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.headerSent || t.trailersOnly {
		return nil
	}
	return responseMetadata(t.header, true, t.bare)
}

// responseTrailer returns a copy of the trailer as the client receives it
// with status st, which may be nil for OK. Like grpc-go, it carries the
// status in grpc-status-details-bin if the status has details. It must only
// be called once the RPC ended.
func (t *serverTransportStream) responseTrailer(st *status.Status) metadata.MD {
	t.mu.Lock()
	md := responseMetadata(t.trailer, t.trailersOnly, t.bare)
	t.mu.Unlock()
	if p := st.Proto(); len(p.GetDetails()) > 0 {
		if b, err := proto.Marshal(p); err == nil {
			if md == nil {
				md = make(metadata.MD, 1)
			}
			md[grpcStatusDetailsKey] = []string{string(b)}
		}
	}
	return md
}

// responseMetadata returns a copy of md as a client receives it from a
// grpc-go server: without the keys gRPC reserves for itself, and with the
// content-type if withContentType is set (grpc-go reports it in the header,
// and in the trailer of trailers-only responses). For the gateway (bare),
// there is no content-type, and no map when md is empty.
func responseMetadata(md metadata.MD, withContentType, bare bool) metadata.MD {
	if bare {
		if len(md) == 0 {
			return nil
		}
		withContentType = false
	}
	out := make(metadata.MD, len(md)+1)
	for k, vs := range md {
		k = strings.ToLower(k)
		if isReservedHeader(k) {
			continue
		}
		out[k] = append(out[k], vs...)
	}
	if withContentType {
		out["content-type"] = []string{contentType}
	}
	return out
}
