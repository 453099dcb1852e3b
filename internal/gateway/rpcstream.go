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
	// inputOpen, set for a client stream over HTTP/1, reports that its
	// request body is still being read: see [rpcHandler.serveClientStream].
	inputOpen func() bool
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
	if s.inputOpen != nil && s.inputOpen() {
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
	if text {
		fr.r = &textReader{r: r.Body}
	}
	if !m.desc.ClientStreams {
		h.serveOneRequest(ctx, sw, m, fr, c)
		return
	}
	h.serveClientStream(ctx, w, sw, m, fr, c)
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
// they come.
func (h *rpcHandler) serveClientStream(ctx context.Context, w http.ResponseWriter, sw *streamWriter, m *rpcMethod, fr *frameReader, c codec) {
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
	if sw.http1 {
		// An answer that starts while the body is still being read ends
		// the connection: cutting that read short below (the read
		// deadline) cancels the HTTP/1 connection's context, which
		// net/http would otherwise hand to every later request on it.
		sw.inputOpen = func() bool {
			select {
			case <-done:
				return false
			default:
				return true
			}
		}
	}
	go func() {
		defer close(done)
		var buf []byte
		for {
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
						return // the stream is over; RecvMsg tells why
					}
					continue
				}
			}
			in.set(err)
			cancel()
			return
		}
	}()
	h.receive(ctx, sw, m, cs, in)
	// The call is over; the body must not be read after the handler
	// returns. A client still sending (the service answered early) has
	// its read cut short.
	cancel()
	select {
	case <-done:
	default:
		if http.NewResponseController(w).SetReadDeadline(time.Now()) == nil {
			<-done
		}
	}
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
