package runtime

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/goms-io/goms/internal/testutil"
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
