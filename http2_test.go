package goms

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/goms-io/goms/internal/testutil"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
)

// startIdleGRPCServer starts a server in mode grpc with a service without
// methods and returns its gRPC address. The test's end stops it.
func startIdleGRPCServer(t *testing.T) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Mode = ModeGRPC
	return startTestServer(t, cfg).GRPCAddr()
}

// startTestServer starts a server for cfg (free ports where cfg names the
// default ones) with a service without methods. The test's end stops it.
func startTestServer(t *testing.T, cfg Config, opts ...Option) *Server {
	t.Helper()
	if cfg.GRPC.Addr == DefaultGRPCAddr {
		cfg.GRPC.Addr = "127.0.0.1:0"
	}
	if cfg.HTTP.Addr == DefaultHTTPAddr {
		cfg.HTTP.Addr = "127.0.0.1:0"
	}
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	s := New(cfg, opts...)
	s.RegisterService(&grpc.ServiceDesc{ServiceName: "goms.test.Idle", HandlerType: (*any)(nil)}, struct{}{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

// http2Conn is a raw HTTP/2 client connection: it writes the frames a test
// asks for, however wrong, and reports the frames the server sends that
// tests look at.
type http2Conn struct {
	conn   net.Conn
	fr     *http2.Framer
	mu     sync.Mutex // serializes writes
	frames chan http2Frame
}

// http2Frame is what the tests need of a frame the server sent: a ping
// ack, a GOAWAY, a RST_STREAM, HEADERS or the server's SETTINGS.
type http2Frame struct {
	pingAck  bool
	ping     uint64
	goAway   bool
	rst      bool
	stream   uint32        // of RST_STREAM and HEADERS
	code     http2.ErrCode // of GOAWAY and RST_STREAM
	debug    string
	headers  bool
	settings map[http2.SettingID]uint32 // the server's SETTINGS (not acks)
}

// dialHTTP2 connects to addr and sends the client preface and SETTINGS.
// It acknowledges the server's SETTINGS; the test's end closes it.
func dialHTTP2(t *testing.T, addr string) *http2Conn {
	t.Helper()
	return openHTTP2(t, addr, true)
}

// dialHTTP2Preface connects to addr and sends the client preface only: no
// SETTINGS, so its HTTP/2 handshake never ends.
func dialHTTP2Preface(t *testing.T, addr string) *http2Conn {
	t.Helper()
	return openHTTP2(t, addr, false)
}

func openHTTP2(t *testing.T, addr string, settings bool) *http2Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &http2Conn{conn: conn, fr: http2.NewFramer(conn, conn), frames: make(chan http2Frame, 1024)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if settings {
		if err := c.write(func() error { return c.fr.WriteSettings() }); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer close(c.frames)
		for {
			f, err := c.fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if f.IsAck() {
					continue
				}
				values := make(map[http2.SettingID]uint32)
				f.ForeachSetting(func(s http2.Setting) error { values[s.ID] = s.Val; return nil })
				if settings {
					c.write(func() error { return c.fr.WriteSettingsAck() })
				}
				c.frames <- http2Frame{settings: values}
			case *http2.PingFrame:
				if f.IsAck() {
					c.frames <- http2Frame{pingAck: true, ping: binary.BigEndian.Uint64(f.Data[:])}
				}
			case *http2.GoAwayFrame:
				c.frames <- http2Frame{goAway: true, code: f.ErrCode, debug: string(f.DebugData())}
			case *http2.RSTStreamFrame:
				c.frames <- http2Frame{rst: true, stream: f.StreamID, code: f.ErrCode}
			case *http2.MetaHeadersFrame:
				c.frames <- http2Frame{headers: true, stream: f.StreamID}
			}
		}
	}()
	return c
}

func (c *http2Conn) write(w func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return w()
}

// writePing sends a ping carrying n.
func (c *http2Conn) writePing(t *testing.T, n uint64) {
	t.Helper()
	var data [8]byte
	binary.BigEndian.PutUint64(data[:], n)
	if err := c.write(func() error { return c.fr.WritePing(false, data) }); err != nil {
		t.Fatal(err)
	}
}

// ping sends a ping carrying n and waits for its ack; a GOAWAY or the end
// of the connection first fails t.
func (c *http2Conn) ping(t *testing.T, n uint64) {
	t.Helper()
	c.writePing(t, n)
	for {
		f := c.next(t)
		switch {
		case f.goAway:
			t.Fatalf("ping %d: GOAWAY %v %q", n, f.code, f.debug)
		case f.pingAck && f.ping == n:
			return
		}
	}
}

// writeGRPCHeaders opens stream id with the request headers of a gRPC
// call to method, plus the metadata pairs in md, split over CONTINUATION
// frames as needed. endStream ends the request there. It returns the
// write error: the server may close the connection on purpose.
func (c *http2Conn) writeGRPCHeaders(id uint32, method string, endStream bool, md ...string) error {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	fields := []string{":method", "POST", ":scheme", "http", ":path", method, ":authority", "test",
		"content-type", "application/grpc", "te", "trailers"}
	fields = append(fields, md...)
	for i := 0; i+1 < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return c.write(func() error { return testutil.WriteHeaderBlock(c.fr, id, block.Bytes(), endStream) })
}

// writeEmptyMessage sends a gRPC message of zero bytes (the encoding of an
// empty request) on stream id and ends the request. It returns the write
// error.
func (c *http2Conn) writeEmptyMessage(id uint32) error {
	return c.write(func() error { return c.fr.WriteData(id, true, make([]byte, 5)) })
}

// next returns the next frame reported; the end of the connection or 5 s
// without one fails t.
func (c *http2Conn) next(t *testing.T) http2Frame {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			t.Fatal("the server closed the connection")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame from the server within 5 s")
	}
	panic("unreachable")
}

// settings returns the server's first SETTINGS.
func (c *http2Conn) settings(t *testing.T) map[http2.SettingID]uint32 {
	t.Helper()
	for {
		if f := c.next(t); f.settings != nil {
			return f.settings
		}
	}
}

// streamEnd waits for the server's first answer on stream id: its
// RST_STREAM (rst set) or its response HEADERS.
func (c *http2Conn) streamEnd(t *testing.T, id uint32) http2Frame {
	t.Helper()
	for {
		f := c.next(t)
		switch {
		case f.goAway:
			t.Fatalf("stream %d: GOAWAY %v %q", id, f.code, f.debug)
		case (f.rst || f.headers) && f.stream == id:
			return f
		}
	}
}

// answer waits for the server's answer to stream id and names it:
// "HEADERS" (the response), "RST_STREAM <code>", or "closed" when the
// connection ends first.
func (c *http2Conn) answer(t *testing.T, id uint32) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			switch {
			case !ok:
				return "closed"
			case f.headers && f.stream == id:
				return "HEADERS"
			case f.rst && f.stream == id:
				return "RST_STREAM " + f.code.String()
			}
		case <-timeout:
			t.Fatalf("no answer to stream %d within 10 s", id)
		}
	}
}

// waitClosed waits for the server to close the connection and returns the
// frames it sent before; 10 s without that fails t.
func (c *http2Conn) waitClosed(t *testing.T) []http2Frame {
	t.Helper()
	var seen []http2Frame
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return seen
			}
			seen = append(seen, f)
		case <-timeout:
			t.Fatal("the server kept the connection open for 10 s")
		}
	}
}
