package gateway

import "testing"

// TestFraming feeds a connection's requests to framing in reads of every
// size: it counts the requests that reach a handler and flags the one with
// both Content-Length and Transfer-Encoding, whatever the read boundaries.
func TestFraming(t *testing.T) {
	const stream = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"\r\n" + // a stray line end between requests
		"POST /b HTTP/1.1\r\nContent-Length: 12\r\n\r\nGET / HTTP/1" + // a body that looks like a request
		"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\n\r\n\r\n\r\n0\r\nTrailer: 1\r\n\r\n" +
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + // answered by net/http: not counted
		"POST /d HTTP/1.0\nContent-Length: 3\nTransfer-Encoding: chunked\n\nabc" + // HTTP/1.0: TE ignored
		"POST /e HTTP/1.1\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /f HTTP/1.1\r\n\r\n"
	for size := 1; size <= len(stream); size++ {
		f := &framing{first: true}
		for p := []byte(stream); len(p) > 0; {
			n := min(size, len(p))
			f.read(p[:n])
			p = p[n:]
		}
		if f.off || f.seen != 6 || len(f.flagged) != 1 || !f.flagged[5] {
			t.Fatalf("reads of %d bytes: off %v, %d requests, flagged %v; want 6 requests, the 5th flagged", size, f.off, f.seen, f.flagged)
		}
	}
	f := &framing{first: true}
	f.read([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	if !f.off {
		t.Error("HTTP/2 preface: framing still on")
	}
}
