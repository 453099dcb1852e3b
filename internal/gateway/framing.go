package gateway

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// net/http reads an HTTP/1.1 request with both Content-Length and
// Transfer-Encoding as chunked, drops the Content-Length header and keeps
// the connection open: a proxy in front that goes by the Content-Length
// sees another request boundary, the shape of request smuggling. RFC 9112
// §6.1 asks a server to answer such a request 400 and close the
// connection. No handler can see it (the header is gone), so
// plainErrorConn reads the framing of the requests it passes to net/http
// (framing) and [CheckFraming] answers the requests it flagged.
//
// Only cleartext connections are read this way: over TLS the listener
// sees ciphertext (a proxy that terminates TLS and forwards cleartext is
// covered).

// framing follows the HTTP/1 framing of a connection's incoming bytes:
// header blocks, then bodies by Content-Length or chunks. It counts the
// requests that reach a handler and flags those whose header block had
// both Content-Length and Transfer-Encoding. On anything it does not
// follow (HTTP/2, a header block over maxFramedHeader, a malformed chunk
// size) it stops for the connection; net/http then answers or closes by
// itself, or the connection is not HTTP/1.
type framing struct {
	state   int
	off     bool
	line    []byte // the current line, its first maxFramedLine bytes
	lineLen int    // the current line's length
	first   bool   // the current line is a request line
	block   int    // bytes of the current header block
	http10  bool
	counted bool // the current request reaches a handler
	cl      int64
	hasCL   bool
	hasTE   bool
	remain  int64 // body or chunk bytes left to skip

	mu      sync.Mutex
	seen    int          // requests whose header block ended
	flagged map[int]bool // of those, the ones with CL and TE
	served  int          // requests that reached CheckFraming
}

const (
	framingHeaders = iota
	framingBody
	framingChunkSize
	framingChunkData
	framingChunkEnd
	framingTrailer

	maxFramedLine   = 256
	maxFramedHeader = 1 << 20
)

func (f *framing) read(p []byte) {
	for len(p) > 0 && !f.off {
		if f.state == framingBody || f.state == framingChunkData {
			n := int64(len(p))
			if n > f.remain {
				n = f.remain
			}
			p, f.remain = p[n:], f.remain-n
			if f.remain == 0 {
				if f.state == framingBody {
					f.state, f.first = framingHeaders, true
				} else {
					f.state = framingChunkEnd
				}
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxFramedLine - len(f.line); room > 0 {
			f.line = append(f.line, chunk[:min(room, len(chunk))]...)
		}
		f.lineLen += len(chunk)
		if f.state == framingHeaders || f.state == framingTrailer {
			if f.block += len(chunk) + 1; f.block > maxFramedHeader {
				f.off = true
				return
			}
		}
		if i < 0 {
			return
		}
		p = p[i+1:]
		line := bytes.TrimSuffix(f.line, []byte("\r"))
		if f.lineLen > len(f.line) && len(f.line) == maxFramedLine {
			line = f.line // cut: the '\r' is beyond what was kept
		}
		f.endLine(line)
		f.line, f.lineLen = f.line[:0], 0
	}
}

// endLine handles one complete line (without its line end).
func (f *framing) endLine(line []byte) {
	switch f.state {
	case framingHeaders:
		if f.first {
			if len(line) == 0 {
				f.block = 0
				return // a stray empty line between requests
			}
			f.first = false
			if bytes.HasPrefix(line, []byte("PRI ")) {
				f.off = true // HTTP/2 with prior knowledge
				return
			}
			f.http10 = bytes.HasSuffix(line, []byte(" HTTP/1.0"))
			// net/http answers "OPTIONS *" itself.
			f.counted = !bytes.Equal(line, []byte("OPTIONS * HTTP/1.1")) && !bytes.Equal(line, []byte("OPTIONS * HTTP/1.0"))
			f.hasCL, f.hasTE, f.cl = false, false, 0
			return
		}
		if len(line) == 0 {
			f.endBlock()
			return
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
			if err != nil || n < 0 {
				f.off = true // net/http answers 400 and closes
				return
			}
			f.hasCL, f.cl = true, n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			f.hasTE = true
		case bytes.EqualFold(name, []byte("Upgrade")):
			f.off = true // the connection may become something else
		}
	case framingChunkSize:
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			f.off = true
			return
		}
		if n == 0 {
			f.state, f.block = framingTrailer, 0
			return
		}
		f.state, f.remain = framingChunkData, n
	case framingChunkEnd:
		if len(line) != 0 {
			f.off = true
			return
		}
		f.state = framingChunkSize
	case framingTrailer:
		if len(line) == 0 {
			f.state, f.first, f.block = framingHeaders, true, 0
		}
	}
}

// endBlock ends a request's header block and starts its body.
func (f *framing) endBlock() {
	if f.counted {
		f.mu.Lock()
		f.seen++
		if f.hasCL && f.hasTE && !f.http10 {
			if f.flagged == nil {
				f.flagged = make(map[int]bool)
			}
			f.flagged[f.seen] = true
		}
		f.mu.Unlock()
	}
	f.block = 0
	switch {
	case f.hasTE && !f.http10:
		f.state = framingChunkSize
	case f.hasCL && f.cl > 0:
		f.state, f.remain = framingBody, f.cl
	default:
		f.first = true
	}
}

// next reports whether the next request to reach a handler on the
// connection was flagged.
func (f *framing) next() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served++
	bad := f.flagged[f.served]
	delete(f.flagged, f.served)
	return bad
}

type framingKey struct{}

// CheckFraming answers 400, and closes the connection, to an HTTP/1.1
// request that came with both Content-Length and Transfer-Encoding (see
// [framing]); it must be the http.Server's outermost handler, so that it
// sees every request that reaches a handler.
func CheckFraming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 {
			if f, _ := r.Context().Value(framingKey{}).(*framing); f != nil && f.next() {
				w.Header().Set("Connection", "close")
				writeError(w, r, http.StatusBadRequest, status.Error(codes.InvalidArgument,
					"request has both Content-Length and Transfer-Encoding"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func withFraming(ctx context.Context, f *framing) context.Context {
	return context.WithValue(ctx, framingKey{}, f)
}
