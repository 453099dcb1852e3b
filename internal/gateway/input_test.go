package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestJSONCannedAnswer checks the rewriting of net/http's own plain-text
// answers (TestBadInputHTTP in reliability/ sends the requests that make
// net/http write them), and that nothing else is rewritten.
func TestJSONCannedAnswer(t *testing.T) {
	for _, tc := range []struct {
		in     string
		status int    // 0: left alone
		body   string // compact JSON
	}{
		{"HTTP/1.1 400 Bad Request" + cannedHeaders + "400 Bad Request",
			400, `{"code":3,"message":"Bad Request","details":[]}`},
		{"HTTP/1.1 400 Bad Request: missing required Host header" + cannedHeaders + "400 Bad Request: missing required Host header",
			400, `{"code":3,"message":"missing required Host header","details":[]}`},
		{"HTTP/1.1 431 Request Header Fields Too Large" + cannedHeaders + "431 Request Header Fields Too Large",
			431, `{"code":8,"message":"Request Header Fields Too Large","details":[]}`},
		{"HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + cannedHeaders + "505 HTTP Version Not Supported: unsupported protocol version",
			505, `{"code":12,"message":"unsupported protocol version","details":[]}`},
		// Not of the canned form.
		{"HTTP/1.1 501 Not Implemented" + cannedHeaders + "Unsupported transfer encoding", 0, ""},
		{"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: Thu, 26 Nov 2026 21:00:00 GMT\r\nContent-Length: 16\r\n\r\n400 Bad Request\n", 0, ""},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0, ""},
		{"HTTP/1.1 4", 0, ""},
		{"\x17\x03\x03\x00\x20", 0, ""},
	} {
		got, ok := jsonCannedAnswer([]byte(tc.in))
		if tc.status == 0 {
			if ok {
				t.Errorf("%q rewritten to %q, want it left alone", tc.in, got)
			}
			continue
		}
		if !ok {
			t.Errorf("%q left alone, want JSON", tc.in)
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), nil)
		if err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" ||
			testutil.CompactJSON(string(body)) != tc.body || !resp.Close {
			t.Errorf("%q: got %q, want status %d and %s", tc.in, got, tc.status, tc.body)
		}
	}
}

// closingBody serves its content, then fails every read as net/http's
// request body does once the server has closed it. For HTTP/1 the server
// reads what is left of a request body and closes it when the answer
// starts, which a stream's answer may do before the request's last
// message is decoded.
type closingBody struct{ r *strings.Reader }

func (b *closingBody) Read(p []byte) (int, error) {
	if b.r.Len() == 0 {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.r.Read(p)
}

func (*closingBody) Close() error { return nil }

// TestRequestBodyReadOnce: a body of known length is read once; decoding
// its messages one by one afterwards does not read the HTTP body again.
func TestRequestBodyReadOnce(t *testing.T) {
	const content = `{"a":1} {"b":2}`
	body := &requestBody{ReadCloser: &closingBody{strings.NewReader(content)}, length: int64(len(content)), max: 1 << 20}
	dec := newMarshaler(false, nil).NewDecoder(body)
	for _, want := range []string{"a", "b"} {
		var msg structpb.Struct
		if err := dec.Decode(&msg); err != nil {
			t.Fatalf("message %s: %v", want, err)
		}
		if _, ok := msg.GetFields()[want]; !ok {
			t.Errorf("decoded %v, want field %s", &msg, want)
		}
	}
	if err := dec.Decode(new(structpb.Struct)); err != io.EOF {
		t.Errorf("after the last message: %v, want io.EOF", err)
	}
	if ie := body.failed.Load(); ie != nil {
		t.Errorf("body failed its request: %v", ie)
	}
}
