package gateway

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Listener returns l with the answers net/http writes by itself made JSON:
// see plainErrorListener. The edge's http.Server serves on it.
func Listener(l net.Listener) net.Listener { return plainErrorListener{l} }

// plainErrorListener makes the answers net/http writes by itself, before
// any handler runs, to requests it cannot parse (a malformed request line,
// an invalid percent-encoding, an unsupported protocol version, headers
// over the http.Server's hard limit) follow the JSON error contract like
// every other HTTP error. net/http writes those as one canned plain-text
// response straight to the connection; plainErrorConn recognises it and
// writes the same status with the JSON body instead. Nothing else on the
// connection is touched: any other write passes through unread but for a
// prefix check. Over TLS the listener sits under the TLS layer, sees only
// ciphertext, and the answers stay plain text.
type plainErrorListener struct{ net.Listener }

func (l plainErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &plainErrorConn{Conn: c, framing: framing{first: true}}, nil
}

// plainErrorConn is a connection of plainErrorListener. It also follows
// the framing of the requests it reads (see [CheckFraming]).
type plainErrorConn struct {
	net.Conn
	framing framing
}

func (c *plainErrorConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.framing.read(p[:n])
	return n, err
}

// cannedHeaders ends the header of net/http's canned answers.
const cannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *plainErrorConn) Write(p []byte) (int, error) {
	if b, ok := jsonCannedAnswer(p); ok {
		if _, err := c.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets net/http half-close the connection after a 431, as it
// does on a bare TCP connection, so that the client reads the answer.
func (c *plainErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// jsonCannedAnswer returns the JSON form of p if p is one of net/http's
// canned answers: "HTTP/1.1 <code> <text>" + cannedHeaders + "<code>
// <text>[: <detail>]". The JSON message is the detail if there is one,
// else the status text.
func jsonCannedAnswer(p []byte) ([]byte, bool) {
	if len(p) < 13 || !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) || (p[9] != '4' && p[9] != '5') {
		return nil, false
	}
	// Every response of the connection passes here: convert to a string
	// only what is one of the canned answers.
	l, b, ok := bytes.Cut(p[len("HTTP/1.1 "):], []byte(cannedHeaders))
	if !ok {
		return nil, false
	}
	line, body := string(l), string(b)
	code, err := strconv.Atoi(line[:3])
	if err != nil || !strings.HasPrefix(body, line[:3]+" ") {
		return nil, false
	}
	text := http.StatusText(code)
	msg := strings.TrimPrefix(body[4:], text)
	if msg, ok = strings.CutPrefix(msg, ": "); !ok || msg == "" {
		msg = text
	}
	js, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(status.New(codeOf(code), msg).Proto())
	if err != nil {
		return nil, false
	}
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, text, len(js), js), true
}
