package inprocess

import (
	"context"
	"sync"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

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
	// bare is set for calls of the gateway's conn (see [Conn.ForGateway]):
	// response metadata without content-type, nil when empty.
	bare bool

	mu      sync.Mutex
	header  metadata.MD
	trailer metadata.MD
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
