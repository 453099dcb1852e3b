package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Envelope flags: Connect's and gRPC-Web's framing share the layout (one
// flag byte, a 4-byte big-endian length, the message).
const (
	flagCompressed = 0x01
	flagEndStream  = 0x02 // Connect: the end-of-stream message
	flagTrailers   = 0x80 // gRPC-Web: the trailers
)

func appendEnvelope(b []byte, flags byte, payload []byte) []byte {
	b = append(b, flags, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(b)-4:], uint32(len(payload)))
	return append(b, payload...)
}

// frameReader reads the enveloped messages of a request body.
type frameReader struct {
	r        io.Reader
	max      int    // the largest message accepted
	encoding string // of compressed messages
	h        *rpcHandler
	hdr      [5]byte
}

// next returns the next message, io.EOF at the end of the body, or a
// status error.
func (f *frameReader) next(buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, frameError(err)
	}
	n := int(binary.BigEndian.Uint32(f.hdr[1:]))
	if n > f.max {
		return nil, status.Errorf(codes.ResourceExhausted, "request message larger than %d bytes", f.max)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(f.r, buf); err != nil {
		return nil, frameError(err)
	}
	if f.hdr[0]&flagCompressed != 0 {
		if f.encoding == "" || f.encoding == "identity" {
			return nil, status.Error(codes.InvalidArgument, "compressed message without a compression header")
		}
		return f.h.decompress(f.encoding, buf)
	}
	return buf, nil
}

func frameError(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return status.Error(codes.InvalidArgument, "request body ends inside a message")
	case errors.As(err, new(base64.CorruptInputError)):
		return status.Error(codes.InvalidArgument, "request body: invalid base64")
	}
	return status.Error(codes.InvalidArgument, "request body could not be read")
}

// textReader decodes a grpc-web-text body: base64, possibly the
// concatenation of separately padded chunks.
type textReader struct {
	r   io.Reader
	in  [4]byte
	n   int // bytes in in
	out []byte
	err error
}

func (t *textReader) Read(p []byte) (int, error) {
	for len(t.out) == 0 {
		if t.err != nil {
			return 0, t.err
		}
		m, err := t.r.Read(t.in[t.n:])
		t.n += m
		if t.n == 4 {
			var dec [3]byte
			k, derr := base64.StdEncoding.Decode(dec[:], t.in[:])
			if derr != nil {
				t.err = derr
				return 0, derr
			}
			t.out = append(t.out[:0], dec[:k]...)
			t.n = 0
		}
		if err != nil {
			if err == io.EOF && t.n != 0 {
				err = base64.CorruptInputError(0)
			}
			t.err = err
		}
	}
	n := copy(p, t.out)
	t.out = t.out[n:]
	return n, nil
}

// streamWriter writes the answer of a stream request.
type streamWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	web   bool
	text  bool
	codec codec
	ct    string
	buf   []byte
	wrote bool
	http1 bool // the request came over HTTP/1
	// tail, set for a client or bidirectional stream over HTTP/1, is the
	// rest of its request body: see [bodyTail].
	tail *bodyTail
	bidi bool
}

// start writes the status line and headers, with the service's header
// metadata.
func (s *streamWriter) start(header metadata.MD) {
	if s.wrote {
		return
	}
	s.wrote = true
	hd := s.w.Header()
	writeMD(hd, header, "")
	hd["Content-Type"] = []string{s.ct}
	if s.tail != nil && !s.tail.keep(s.bidi, s.rc) {
		// The rest of the body is left unread on the connection.
		hd["Connection"] = []string{"close"}
	}
	s.w.WriteHeader(http.StatusOK)
}

// frame writes one envelope.
func (s *streamWriter) frame(flags byte, payload []byte) error {
	s.buf = appendEnvelope(s.buf[:0], flags, payload)
	out := s.buf
	if s.text {
		out = base64.StdEncoding.AppendEncode(nil, out)
	}
	if _, err := s.w.Write(out); err != nil {
		return err
	}
	return s.rc.Flush()
}

// message writes one response message.
func (s *streamWriter) message(h *rpcHandler, m proto.Message) error {
	b := bufs.Get().(*bytes.Buffer)
	defer bufs.Put(b)
	payload, err := h.encode(s.codec, b.Bytes()[:0], m)
	if err != nil {
		return status.Errorf(codes.Internal, "response message: %v", err)
	}
	return s.frame(0, payload)
}

// end writes the end of the stream: err (nil: OK) and the trailers.
func (s *streamWriter) end(err error, trailer metadata.MD) {
	s.start(nil)
	if !s.web {
		s.buf = endStream(s.buf[:0], err, trailer)
		out := s.buf
		if s.text {
			out = base64.StdEncoding.AppendEncode(nil, out)
		}
		_, _ = s.w.Write(out)
		return
	}
	st := status.Convert(err)
	var b strings.Builder
	b.WriteString("grpc-status: ")
	b.WriteString(strconv.Itoa(int(st.Code())))
	b.WriteString("\r\n")
	if st.Code() != codes.OK {
		b.WriteString("grpc-message: ")
		b.WriteString(percentEncode(st.Message()))
		b.WriteString("\r\n")
		if len(st.Proto().GetDetails()) > 0 {
			if raw, err := proto.Marshal(st.Proto()); err == nil {
				b.WriteString("grpc-status-details-bin: ")
				b.WriteString(base64.RawStdEncoding.EncodeToString(raw))
				b.WriteString("\r\n")
			}
		}
	}
	hd := http.Header{}
	writeMD(hd, trailer, "")
	for k, vs := range hd {
		for _, v := range vs {
			b.WriteString(strings.ToLower(k))
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	_ = s.frame(flagTrailers, []byte(b.String()))
}

// percentEncode encodes a grpc-message value as gRPC does.
func percentEncode(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// serveStream serves a Connect streaming or gRPC-Web request: every kind
// of method over gRPC-Web, the streaming kinds over Connect.
func (h *rpcHandler) serveStream(w http.ResponseWriter, r *http.Request, m *rpcMethod, c codec, web, text bool) {
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), web: web, text: text, codec: c, http1: r.ProtoMajor == 1}
	switch {
	case !web && c == codecProto:
		sw.ct = ctConnectProto
	case !web:
		sw.ct = ctConnectJSON
	case text:
		sw.ct = ctGRPCWebTextPrt
	case c == codecProto:
		sw.ct = ctGRPCWebProto
	default:
		sw.ct = ctGRPCWebJSON
	}
	if !web && !m.desc.ClientStreams && !m.desc.ServerStreams {
		// Connect's unary calls are not enveloped.
		sw.end(status.Errorf(codes.InvalidArgument, "%s is a unary method: send it with Content-Type %s or %s", m.path, ctJSON, ctProto), nil)
		return
	}
	if headerSize(r) > h.maxHeader {
		sw.end(status.Errorf(codes.ResourceExhausted, "request headers larger than %d bytes", h.maxHeader), nil)
		return
	}
	md := incomingMD(r.Header)
	var (
		ctx    context.Context
		cancel context.CancelFunc
		err    error
		fr     = &frameReader{r: r.Body, max: h.maxBody, h: h}
	)
	if web {
		ctx, cancel, err = grpcContext(r, md)
		fr.encoding = r.Header.Get("Grpc-Encoding")
	} else {
		ctx, cancel, err = connectContext(r, md)
		fr.encoding = r.Header.Get("Connect-Content-Encoding")
	}
	if err == nil {
		switch fr.encoding {
		case "", "identity", "gzip":
		default:
			err = status.Errorf(codes.Unimplemented, "unknown compression %q: supported are gzip and identity", Truncate(fr.encoding, 64))
		}
	}
	if err != nil {
		sw.end(err, nil)
		return
	}
	if cancel != nil {
		defer cancel()
	}
	if !m.desc.ClientStreams {
		if text {
			fr.r = &textReader{r: r.Body}
		}
		h.serveOneRequest(ctx, sw, m, fr, c)
		return
	}
	var tail *bodyTail
	if sw.http1 {
		tail = &bodyTail{r: r.Body, left: maxDrainBytes, done: make(chan struct{})}
		fr.r = tail
	}
	if text {
		fr.r = &textReader{r: fr.r}
	}
	h.serveClientStream(ctx, w, sw, m, fr, c, tail)
}

// serveOneRequest serves a unary (gRPC-Web) or server-streaming method:
// one request message.
func (h *rpcHandler) serveOneRequest(ctx context.Context, sw *streamWriter, m *rpcMethod, fr *frameReader, c codec) {
	payload, err := fr.next(nil)
	if err == io.EOF {
		err = status.Error(codes.InvalidArgument, "request has no message")
	}
	if err != nil {
		sw.end(err, nil)
		return
	}
	req := m.in.New().Interface()
	if err := h.decode(c, payload, req); err != nil {
		sw.end(err, nil)
		return
	}
	if _, err := fr.next(nil); err != io.EOF {
		if err == nil {
			err = status.Error(codes.InvalidArgument, "more than one request message for a method that takes one")
		}
		sw.end(err, nil)
		return
	}
	if !m.desc.ServerStreams {
		var header, trailer metadata.MD
		resp := m.out.New().Interface()
		if err := m.conn.Invoke(ctx, m.path, req, resp, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
			sw.start(header)
			sw.end(h.callError(ctx, m.path, err), trailer)
			return
		}
		sw.start(header)
		if err := sw.message(h, resp); err != nil {
			sw.end(err, trailer)
			return
		}
		sw.end(nil, trailer)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := m.conn.NewStream(ctx, &m.desc, m.path)
	if err != nil {
		sw.end(h.callError(ctx, m.path, err), nil)
		return
	}
	if err := cs.SendMsg(req); err != nil && err != io.EOF {
		sw.end(h.callError(ctx, m.path, err), nil)
		return
	}
	_ = cs.CloseSend()
	h.receive(ctx, sw, m, cs, nil)
}

// serveClientStream serves a client- or bidirectional-streaming method:
// the request's messages are sent as they arrive, the answers written as
// they come. Over HTTP/1, tail is the request body (see [bodyTail]).
func (h *rpcHandler) serveClientStream(ctx context.Context, w http.ResponseWriter, sw *streamWriter, m *rpcMethod, fr *frameReader, c codec, tail *bodyTail) {
	if m.desc.ServerStreams {
		// Fails for HTTP/2, which needs nothing: HTTP/1 becomes full duplex.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := m.conn.NewStream(ctx, &m.desc, m.path)
	if err != nil {
		sw.end(h.callError(ctx, m.path, err), nil)
		return
	}
	in := &inputFailure{}
	done := make(chan struct{})
	if tail != nil {
		done = tail.done
		sw.tail, sw.bidi = tail, m.desc.ServerStreams
	}
	over := func() bool { return tail != nil && tail.over.Load() }
	go func() {
		defer close(done)
		var buf []byte
		for !over() {
			payload, err := fr.next(buf)
			if err == io.EOF {
				_ = cs.CloseSend()
				return
			}
			if err == nil {
				buf = payload[:0]
				req := m.in.New().Interface()
				if err = h.decode(c, payload, req); err == nil {
					if cs.SendMsg(req) != nil {
						break // the stream is over; RecvMsg tells why
					}
					continue
				}
			}
			if !over() { // not the end of the drain below
				in.set(err)
				cancel()
			}
			break
		}
		if tail != nil {
			tail.drain()
		}
	}()
	h.receive(ctx, sw, m, cs, in)
	// The call is over; the body must not be read after the handler
	// returns.
	cancel()
	if tail != nil {
		// A client stream's answer read the rest of the body before it
		// started (streamWriter.start); a bidirectional stream's is read
		// now, after the answer, by the same bounds.
		tail.settle(sw.rc)
		return
	}
	// HTTP/2: a client still sending has its read cut short; the stream
	// ends, not the connection.
	select {
	case <-done:
	default:
		if http.NewResponseController(w).SetReadDeadline(time.Now()) == nil {
			<-done
		}
	}
}

// The bounds on what is left of a client stream's HTTP/1 request body when
// its answer is ready (see [bodyTail]).
const (
	// maxDrainBytes is how much of the rest GoMs reads and drops:
	// net/http's own bound on what it reads of a body its handler left
	// (maxPostHandlerReadBytes, 256 KiB, "approximately what a typical
	// machine's TCP buffer size is").
	maxDrainBytes = 256 << 10
	// maxDrainTime is how long GoMs waits for the rest: time for the
	// messages in flight and the body's end to arrive, not for a client
	// that keeps its body open.
	maxDrainTime = time.Second
)

// errDrainLimit ends a drain that reached [maxDrainBytes].
var errDrainLimit = errors.New("request body: more than the drain limit after the answer")

// bodyTail is the request body of a client or bidirectional stream over
// HTTP/1, where a connection carries one request after another: the body
// must be read to its end before the connection can carry the next.
//
// A service may answer before the client has sent its whole body (a
// message broke a rule; the service had what it needed). HTTP/1 then
// offers two ways out, both bad unbounded: close the connection (the
// client, still writing, gets a reset that can destroy the answer
// unread in its socket: the close races the client's read), or read the
// rest (a client that never stops holds the handler). net/http itself
// reads up to 256 KiB of a body its handler left, with no bound in time
// but http.read_timeout, and closes past that; it cannot be left to do so
// here, since the stream's reader is still inside the body.
//
// So: once the answer is ready, the stream's reader stops forwarding
// messages and reads what is left of the body and drops it, up to
// [maxDrainBytes] and for at most [maxDrainTime] (then the read is cut by
// the read deadline). A body read to its end keeps the connection (the
// answer goes out as any other); one that was not closes it
// (Connection: close), and only then can the answer be lost, to a client
// that kept sending. A client stream's answer waits for the drain (its
// header must say whether the connection stays); a bidirectional
// stream's, which starts while the body is still open by design, closes
// the connection if the body is still open at its first message, and
// the drain runs after its end, so that the close resets nothing the
// client sent in time.
type bodyTail struct {
	r    io.Reader     // the request body
	over atomic.Bool   // the answer is ready: reads count against left
	left int64         // bytes the drain may still read; the reader's only
	eof  atomic.Bool   // the body was read to its end
	done chan struct{} // closed when the stream's reader is done with the body
	kept bool          // settle's answer; the handler's only
	ran  bool          // settle has run; the handler's only
}

func (b *bodyTail) Read(p []byte) (int, error) {
	if b.over.Load() {
		if b.left <= 0 {
			return 0, errDrainLimit
		}
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
	}
	n, err := b.r.Read(p)
	if b.over.Load() {
		b.left -= int64(n)
	}
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

// drain reads the rest of the body, within the bounds; the stream's
// reader calls it when it stops.
func (b *bodyTail) drain() {
	b.over.Store(true)
	if !b.eof.Load() {
		_, _ = io.Copy(io.Discard, b)
	}
}

// keep reports whether the connection may carry another request after
// this one, as the answer starts: for a bidirectional stream (bidi),
// whether the body has ended; for a client stream, whether [settle]
// reads it to its end.
func (b *bodyTail) keep(bidi bool, rc *http.ResponseController) bool {
	if bidi {
		return b.eof.Load()
	}
	return b.settle(rc)
}

// settle ends the stream's reader: it stops forwarding messages and
// drains the rest of the body; settle waits for it, at most
// [maxDrainTime], and reports whether the body was read to its end, so
// the connection may carry another request. It is the handler's to call,
// more than once.
func (b *bodyTail) settle(rc *http.ResponseController) bool {
	if b.ran {
		return b.kept
	}
	b.ran = true
	b.over.Store(true)
	if b.eof.Load() {
		// Read to its end: the reader reads no more, nothing to cut.
		<-b.done
		b.kept = true
		return true
	}
	select {
	case <-b.done:
		b.kept = b.eof.Load()
		return b.kept
	default:
	}
	// The cut sets the connection's read deadline in the past: the
	// connection cannot be kept after it, even if the body ends first
	// (net/http's background read, which starts at the body's end, would
	// fail and cancel the connection's context, and with it the next
	// request's). A writer a middleware wrapped without Unwrap has no
	// deadline: then http.read_timeout ends the read.
	cut := time.AfterFunc(maxDrainTime, func() { _ = rc.SetReadDeadline(time.Now()) })
	<-b.done
	b.kept = cut.Stop() && b.eof.Load()
	return b.kept
}

// inputFailure is the error of a stream's request body, which ends the
// call and is its answer.
type inputFailure struct {
	mu  sync.Mutex
	err error
}

func (f *inputFailure) set(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *inputFailure) get() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// receive writes the stream's answers and its end.
func (h *rpcHandler) receive(ctx context.Context, sw *streamWriter, m *rpcMethod, cs grpc.ClientStream, in *inputFailure) {
	header, _ := cs.Header()
	var err error
	for {
		resp := m.out.New().Interface()
		if err = cs.RecvMsg(resp); err != nil {
			break
		}
		sw.start(header)
		if err = sw.message(h, resp); err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	if ie := in.get(); ie != nil {
		err = ie
	} else if err != nil {
		err = h.callError(ctx, m.path, err)
	}
	sw.start(header)
	sw.end(err, cs.Trailer())
}
