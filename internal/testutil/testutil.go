// Package testutil holds small helpers shared by the tests of several
// packages. Only tests import it.
package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// CompactJSON removes the insignificant whitespace that protojson adds at
// random (to keep users from depending on its output bytes) from each
// line of body, so tests can compare JSON answers, streamed
// newline-delimited ones included, as strings. Lines that are not JSON
// are kept as they are.
func CompactJSON(body string) string {
	var out strings.Builder
	for line := range strings.Lines(body) {
		var b bytes.Buffer
		trimmed := strings.TrimSuffix(line, "\n")
		if json.Compact(&b, []byte(trimmed)) != nil {
			out.WriteString(line)
			continue
		}
		out.WriteString(b.String())
		if strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	return out.String()
}

// SyncBuffer is a bytes.Buffer safe for a writer (a process's output, a
// logger) and a reader (the test) at once.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Do sends a request with the given header name and value pairs and
// returns the response and its body, compacted if it is JSON.
func Do(t testing.TB, method, url, contentType string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, CompactJSON(string(data))
}
