package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The Connect protocol and gRPC-Web, served on the HTTP port beside the
// REST routes, for every method of the edge's services, at the method's
// gRPC path (/pkg.Service/Method).
//
// Why GoMs's own protocol code rather than connect-go's handlers or
// vanguard's transcoder: both call a typed handler (connect-go's need the
// request and response Go types at compile time, vanguard transcodes to
// one), so serving the edge's connection (the in-process one, or the pool
// to the upstream) through them would put a second hop in every call,
// and their code would enter every GoMs binary. This file reads the
// message, calls the route's connection (Invoke or NewStream, as the REST
// routes do, so the same server interceptors run once), and writes the
// answer. By the numbers (BENCHMARKS.md, "Connect and gRPC-Web"): a
// Connect-JSON unary call through GoMs with its default interceptors
// costs 0.93× the instructions of connect-go's own handler without any
// (bench: impl=goms-connect against impl=connect), with fewer
// allocations; vanguard in front of connect-go costs what GoMs's REST
// does.
//
// What is served:
//
//   - Connect unary: POST application/json or application/proto, and GET
//     (?encoding=…&message=…[&base64=1][&compression=…][&connect=v1]) for
//     methods whose idempotency_level is NO_SIDE_EFFECTS. Errors are
//     Connect's JSON error body with its code→HTTP status table.
//   - Connect streaming (all three kinds): application/connect+json and
//     application/connect+proto, enveloped messages, the end-of-stream
//     message carrying the error and trailers.
//   - gRPC-Web (every kind; client and bidirectional streams need a
//     client that streams its request): application/grpc-web[+proto|+json]
//     and application/grpc-web-text[+proto] (base64), the trailers in the
//     body's last frame.
//
// Request headers become the call's metadata (keys lower-cased, -Bin
// values base64-decoded; the protocols' own headers stay out), the
// service's header and trailer metadata come back as headers (and, for
// Connect unary, Trailer- headers) or in the end-of-stream message.
// Requests may be gzip-compressed; answers are not compressed.
// The limits are the REST routes': http.max_body_bytes for a unary body
// and for each stream message, the gRPC message limits, the unary deadline
// cap (Connect-Timeout-Ms or Grpc-Timeout asks for a deadline).

// rpcMethod is one method served over Connect and gRPC-Web.
type rpcMethod struct {
	path          string // "/pkg.Service/Method"
	desc          grpc.StreamDesc
	in, out       protoreflect.MessageType
	noSideEffects bool
	conn          grpc.ClientConnInterface
}

// rpcHandler serves Connect and gRPC-Web requests to methods, and passes
// every other request to next.
type rpcHandler struct {
	methods   map[string]*rpcMethod
	next      http.Handler
	maxBody   int
	maxHeader int
	unmarshal protojson.UnmarshalOptions
	marshal   protojson.MarshalOptions
	log       *slog.Logger
}

// rpcMethods returns the methods of r's service, with their message types
// from the global registry. A service whose descriptor is not registered
// has none (it cannot be decoded).
func rpcMethods(r Route, conn grpc.ClientConnInterface) ([]*rpcMethod, error) {
	if r.Desc == nil {
		return nil, nil
	}
	sd := r.Descriptor
	if sd == nil {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(r.Service))
		if err != nil {
			return nil, nil //nolint:nilerr // not registered: served without Connect
		}
		var ok bool
		if sd, ok = d.(protoreflect.ServiceDescriptor); !ok {
			return nil, nil
		}
	}
	streams := map[string]grpc.StreamDesc{}
	for _, m := range r.Desc.Methods {
		streams[m.MethodName] = grpc.StreamDesc{StreamName: m.MethodName}
	}
	for _, s := range r.Desc.Streams {
		streams[s.StreamName] = grpc.StreamDesc{StreamName: s.StreamName, ServerStreams: s.ServerStreams, ClientStreams: s.ClientStreams}
	}
	var out []*rpcMethod
	ms := sd.Methods()
	for i := range ms.Len() {
		md := ms.Get(i)
		desc, ok := streams[string(md.Name())]
		if !ok {
			continue
		}
		in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		if err != nil {
			return nil, fmt.Errorf("method %s: request type: %w", md.FullName(), err)
		}
		resp, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
		if err != nil {
			return nil, fmt.Errorf("method %s: response type: %w", md.FullName(), err)
		}
		opts, _ := md.Options().(*descriptorpb.MethodOptions)
		out = append(out, &rpcMethod{
			path:          "/" + r.Service + "/" + string(md.Name()),
			desc:          desc,
			in:            in,
			out:           resp,
			noSideEffects: opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS,
			conn:          conn,
		})
	}
	return out, nil
}

// Content types.
const (
	ctJSON            = "application/json"
	ctProto           = "application/proto"
	ctConnectJSON     = "application/connect+json"
	ctConnectProto    = "application/connect+proto"
	ctGRPCWeb         = "application/grpc-web"
	ctGRPCWebProto    = "application/grpc-web+proto"
	ctGRPCWebJSON     = "application/grpc-web+json"
	ctGRPCWebText     = "application/grpc-web-text"
	ctGRPCWebTextPrt  = "application/grpc-web-text+proto"
	connectVersionHdr = "Connect-Protocol-Version"
)

// rpcKind is how a request speaks.
type rpcKind uint8

const (
	notRPC rpcKind = iota
	connectUnary
	connectStream
	grpcWeb
)

func (h *rpcHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.methods[r.URL.Path]
	if m == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	kind, codec, text := notRPC, codecJSON, false
	switch r.Method {
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		switch strings.ToLower(strings.TrimSpace(ct)) {
		case ctJSON:
			kind = connectUnary
		case ctProto:
			kind, codec = connectUnary, codecProto
		case ctConnectJSON:
			kind = connectStream
		case ctConnectProto:
			kind, codec = connectStream, codecProto
		case ctGRPCWeb, ctGRPCWebProto:
			kind, codec = grpcWeb, codecProto
		case ctGRPCWebJSON:
			kind = grpcWeb
		case ctGRPCWebText, ctGRPCWebTextPrt:
			kind, codec, text = grpcWeb, codecProto, true
		}
		if kind == connectUnary && (m.desc.ClientStreams || m.desc.ServerStreams) {
			kind = notRPC
		}
	case http.MethodGet:
		if m.noSideEffects && !m.desc.ClientStreams && !m.desc.ServerStreams && r.URL.Query().Has("message") {
			kind = connectUnary
		}
	}
	if kind == notRPC {
		h.next.ServeHTTP(w, r)
		return
	}
	if kind == grpcWeb {
		h.serveStream(w, r, m, codec, true, text)
		return
	}
	if v := r.Header.Get(connectVersionHdr); v != "" && v != "1" {
		h.connectError(w, kind == connectStream, nil, status.Errorf(codes.InvalidArgument, "Connect-Protocol-Version %q, want 1", v))
		return
	}
	if kind == connectStream {
		h.serveStream(w, r, m, codec, false, false)
		return
	}
	h.serveUnary(w, r, m, codec)
}

// codec is how messages are written.
type codec uint8

const (
	codecJSON codec = iota
	codecProto
)

func (h *rpcHandler) decode(c codec, b []byte, msg proto.Message) error {
	var err error
	if c == codecProto {
		err = proto.Unmarshal(b, msg)
	} else {
		err = h.unmarshal.Unmarshal(b, msg)
	}
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "request message: %v", err)
	}
	return nil
}

func (h *rpcHandler) encode(c codec, b []byte, msg proto.Message) ([]byte, error) {
	if c == codecProto {
		return proto.MarshalOptions{}.MarshalAppend(b, msg)
	}
	return appendMessageJSON(b, msg, h.marshal)
}

// bufs holds the buffers of request and response bodies.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// checkRequest applies the edge's header limit.
func (h *rpcHandler) checkRequest(r *http.Request) error {
	if headerSize(r) > h.maxHeader {
		return status.Errorf(codes.ResourceExhausted, "request headers larger than %d bytes", h.maxHeader)
	}
	if r.ContentLength > int64(h.maxBody) {
		return bodyTooLarge(h.maxBody)
	}
	return nil
}

// serveUnary serves a Connect unary request (POST or GET).
func (h *rpcHandler) serveUnary(w http.ResponseWriter, r *http.Request, m *rpcMethod, c codec) {
	if err := h.checkRequest(r); err != nil {
		h.connectError(w, false, nil, err)
		return
	}
	buf := bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufs.Put(buf)
	var payload []byte
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		switch q.Get("encoding") {
		case "json":
		case "proto":
			c = codecProto
		default:
			h.connectError(w, false, nil, status.Errorf(codes.InvalidArgument, "encoding %q: want json or proto", q.Get("encoding")))
			return
		}
		payload = []byte(q.Get("message"))
		if q.Get("base64") == "1" {
			dec, err := decodeBase64(q.Get("message"), base64.RawURLEncoding, base64.URLEncoding)
			if err != nil {
				h.connectError(w, false, nil, status.Error(codes.InvalidArgument, "message: invalid base64"))
				return
			}
			payload = dec
		}
		var err error
		if payload, err = h.decompress(q.Get("compression"), payload); err != nil {
			h.connectError(w, false, nil, err)
			return
		}
	} else {
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, int64(h.maxBody))); err != nil {
			h.connectError(w, false, nil, readError(err, h.maxBody))
			return
		}
		var err error
		if payload, err = h.decompress(r.Header.Get("Content-Encoding"), buf.Bytes()); err != nil {
			h.connectError(w, false, nil, err)
			return
		}
	}
	req := m.in.New().Interface()
	if err := h.decode(c, payload, req); err != nil {
		h.connectError(w, false, nil, err)
		return
	}
	ctx, cancel, err := connectContext(r, incomingMD(r.Header))
	if err != nil {
		h.connectError(w, false, nil, err)
		return
	}
	if cancel != nil {
		defer cancel()
	}
	var header, trailer metadata.MD
	resp := m.out.New().Interface()
	if err := m.conn.Invoke(ctx, m.path, req, resp, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		h.connectError(w, false, mergeMD(header, trailer, true), h.callError(ctx, m.path, err))
		return
	}
	out, err := h.encode(c, buf.Bytes()[:0], resp)
	if err != nil {
		h.connectError(w, false, nil, status.Errorf(codes.Internal, "response message: %v", err))
		return
	}
	hd := w.Header()
	writeMD(hd, header, "")
	writeMD(hd, trailer, "Trailer-")
	if c == codecProto {
		hd["Content-Type"] = []string{ctProto}
	} else {
		hd["Content-Type"] = []string{ctJSON}
	}
	hd["Content-Length"] = []string{strconv.Itoa(len(out))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// readError is the status of a body that could not be read.
func readError(err error, max int) error {
	if errors.As(err, new(*http.MaxBytesError)) {
		return bodyTooLarge(max)
	}
	return status.Error(codes.InvalidArgument, "request body could not be read")
}

// decompress returns b decompressed by encoding ("", identity or gzip),
// up to the body limit.
func (h *rpcHandler) decompress(encoding string, b []byte) ([]byte, error) {
	switch encoding {
	case "", "identity":
		return b, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, "request message: invalid gzip")
		}
		out, err := io.ReadAll(io.LimitReader(zr, int64(h.maxBody)+1))
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, "request message: invalid gzip")
		}
		if len(out) > h.maxBody {
			return nil, bodyTooLarge(h.maxBody)
		}
		return out, nil
	}
	return nil, status.Errorf(codes.Unimplemented, "unknown compression %q: supported are gzip and identity", Truncate(encoding, 64))
}

func decodeBase64(s string, encs ...*base64.Encoding) ([]byte, error) {
	var err error
	for _, e := range encs {
		var b []byte
		if b, err = e.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// callContext returns the request's context with md as outgoing metadata
// and the deadline of its timeout header (Connect-Timeout-Ms or
// Grpc-Timeout), read by parse; a malformed one is InvalidArgument, with
// want saying what was expected.
func callContext(r *http.Request, md metadata.MD, header string, parse func(string) (time.Duration, bool), want string) (context.Context, context.CancelFunc, error) {
	ctx := r.Context()
	if md != nil {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	t := r.Header.Get(header)
	if t == "" {
		return ctx, nil, nil
	}
	d, ok := parse(t)
	if !ok {
		return nil, nil, status.Errorf(codes.InvalidArgument, "%s %q: %s", header, Truncate(t, 16), want)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, nil
}

// connectContext is [callContext] for the Connect protocol.
func connectContext(r *http.Request, md metadata.MD) (context.Context, context.CancelFunc, error) {
	return callContext(r, md, "Connect-Timeout-Ms", connectTimeout, "want at most 10 digits")
}

// grpcContext is [callContext] for gRPC-Web.
func grpcContext(r *http.Request, md metadata.MD) (context.Context, context.CancelFunc, error) {
	return callContext(r, md, "Grpc-Timeout", grpcTimeout, "malformed")
}

// connectTimeout parses a Connect timeout: up to 10 digits of
// milliseconds.
func connectTimeout(s string) (time.Duration, bool) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 || len(s) > 10 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// grpcTimeout parses a gRPC timeout: up to 8 digits and a unit.
func grpcTimeout(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}[s[len(s)-1]]
	if unit == 0 {
		return 0, false
	}
	if n > int64(1<<62)/int64(unit) {
		return 1 << 62, true
	}
	return time.Duration(n) * unit, true
}

// protocolHeaders are the request headers of HTTP and of the protocols,
// which do not become metadata.
var protocolHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Content-Encoding": true, "Accept-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Upgrade": true, "Host": true, "User-Agent": true, "X-User-Agent": true, "X-Grpc-Web": true,
	"Accept": true, "Proxy-Connection": true,
}

// incomingMD returns the metadata of a request's headers: as connect-go
// passes headers to its handlers, less HTTP's and the protocols' own
// (Connect-*, Grpc-*), with values a gRPC client could send (printable
// ASCII, or any bytes base64-encoded under a -Bin key).
func incomingMD(hd http.Header) metadata.MD {
	var md metadata.MD
	for k, vs := range hd {
		if protocolHeaders[k] || hasPrefixFold(k, "Connect-") || hasPrefixFold(k, "Grpc-") {
			continue
		}
		key := strings.ToLower(k)
		if !metadataKey(key) {
			continue
		}
		bin := strings.HasSuffix(key, "-bin")
		for _, v := range vs {
			if bin {
				b, err := decodeBase64(v, base64.StdEncoding, base64.RawStdEncoding)
				if err != nil {
					continue
				}
				v = string(b)
			} else if !printable(v) {
				continue
			}
			if md == nil {
				md = metadata.MD{}
			}
			md[key] = append(md[key], v)
		}
	}
	return md
}

// metadataKey reports whether key (lower-case) is a valid gRPC metadata
// key: HTTP allows header names gRPC does not.
func metadataKey(key string) bool {
	for i := range len(key) {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return key != ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// writeMD adds md to hd, each key prefixed; -bin values base64-encoded.
// The content-type and gRPC's reserved keys stay out.
func writeMD(hd http.Header, md metadata.MD, prefix string) {
	for k, vs := range md {
		if k == "content-type" || strings.HasPrefix(k, "grpc-") {
			continue
		}
		key := http.CanonicalHeaderKey(prefix + k)
		bin := strings.HasSuffix(k, "-bin")
		for _, v := range vs {
			if bin {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			hd[key] = append(hd[key], v)
		}
	}
}

// mergeMD returns header and trailer as one set of headers' metadata:
// trailer keys prefixed "trailer-" when prefix is set.
func mergeMD(header, trailer metadata.MD, prefix bool) metadata.MD {
	if len(trailer) == 0 {
		return header
	}
	out := header.Copy()
	if out == nil {
		out = metadata.MD{}
	}
	for k, vs := range trailer {
		if prefix {
			k = "trailer-" + k
		}
		out[k] = append(out[k], vs...)
	}
	return out
}

// callError is the error a client gets for err, the error of a call: the
// connection's own errors are named, not quoted (see
// [upstreamUnavailable]); messages are capped.
func (h *rpcHandler) callError(ctx context.Context, method string, err error) error {
	switch {
	case isTransportError(err):
		err = upstreamUnavailableFor(ctx, h.log, method, err)
	case isHeaderListTooLarge(err):
		err = status.Error(codes.ResourceExhausted, "request headers larger than the service accepts")
	}
	return capMessage(err)
}

// connectCodes are the Connect protocol's names of the gRPC codes.
var connectCodes = [...]string{
	codes.OK: "ok", codes.Canceled: "canceled", codes.Unknown: "unknown", codes.InvalidArgument: "invalid_argument",
	codes.DeadlineExceeded: "deadline_exceeded", codes.NotFound: "not_found", codes.AlreadyExists: "already_exists",
	codes.PermissionDenied: "permission_denied", codes.ResourceExhausted: "resource_exhausted",
	codes.FailedPrecondition: "failed_precondition", codes.Aborted: "aborted", codes.OutOfRange: "out_of_range",
	codes.Unimplemented: "unimplemented", codes.Internal: "internal", codes.Unavailable: "unavailable",
	codes.DataLoss: "data_loss", codes.Unauthenticated: "unauthenticated",
}

// connectHTTPStatus is the Connect protocol's HTTP status of each code
// (the Connect specification's table, which differs from grpc-gateway's:
// Canceled 499, FailedPrecondition 400, and so on).
var connectHTTPStatus = [...]int{
	codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
	codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409,
	codes.PermissionDenied: 403, codes.ResourceExhausted: 429, codes.FailedPrecondition: 400,
	codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501, codes.Internal: 500,
	codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
}

// connectErrorJSON is Connect's error body.
type connectErrorJSON struct {
	Code    string              `json:"code"`
	Message string              `json:"message,omitempty"`
	Details []connectDetailJSON `json:"details,omitempty"`
}

type connectDetailJSON struct {
	Type  string          `json:"type"`
	Value string          `json:"value"`
	Debug json.RawMessage `json:"debug,omitempty"`
}

// connectErrorOf returns err, a status error, as Connect's error body.
func connectErrorOf(err error) (*connectErrorJSON, codes.Code) {
	st := status.Convert(capMessage(err))
	c := st.Code()
	if int(c) >= len(connectCodes) || c == codes.OK {
		c = codes.Unknown
	}
	e := &connectErrorJSON{Code: connectCodes[c], Message: st.Message()}
	for _, d := range st.Proto().GetDetails() {
		name := d.GetTypeUrl()
		name = name[strings.LastIndexByte(name, '/')+1:]
		cd := connectDetailJSON{Type: name, Value: base64.RawStdEncoding.EncodeToString(d.GetValue())}
		if mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name)); err == nil {
			msg := mt.New().Interface()
			if proto.Unmarshal(d.GetValue(), msg) == nil {
				cd.Debug, _ = protojson.Marshal(msg)
			}
		}
		e.Details = append(e.Details, cd)
	}
	return e, c
}

// connectError writes err as Connect's error: for a unary call, the JSON
// body with the code's HTTP status and md as headers; for a stream, an
// answer with only the end-of-stream message.
func (h *rpcHandler) connectError(w http.ResponseWriter, stream bool, md metadata.MD, err error) {
	if stream {
		hd := w.Header()
		hd["Content-Type"] = []string{ctConnectJSON}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(endStream(nil, err, md))
		return
	}
	e, c := connectErrorOf(err)
	body, _ := json.Marshal(e)
	hd := w.Header()
	writeMD(hd, md, "")
	hd["Content-Type"] = []string{ctJSON}
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(connectHTTPStatus[c])
	_, _ = w.Write(body)
}

// endStream appends Connect's end-of-stream envelope to b: err (nil: none)
// and the trailers md.
func endStream(b []byte, err error, md metadata.MD) []byte {
	var end struct {
		Error    *connectErrorJSON   `json:"error,omitempty"`
		Metadata map[string][]string `json:"metadata,omitempty"`
	}
	if err != nil {
		end.Error, _ = connectErrorOf(err)
	}
	if len(md) > 0 {
		hd := http.Header{}
		writeMD(hd, md, "")
		end.Metadata = hd
	}
	body, _ := json.Marshal(end)
	return appendEnvelope(b, flagEndStream, body)
}
