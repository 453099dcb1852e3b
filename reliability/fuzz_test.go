package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echotest"
)

// FuzzHTTPJSON sends arbitrary methods, paths, content types and bodies to
// an in-process gateway serving the echo and types services. Whatever
// comes in, the answer is JSON: a message (or a stream of them) on success,
// the error contract otherwise; 5xx only from a handler that panics.
func FuzzHTTPJSON(f *testing.F) {
	for _, seed := range []struct {
		method      byte
		path, ctype string
		body        []byte
	}{
		{0, "/v1/echo/hello", "", nil},
		{1, "/v1/echo", "application/json", []byte(`{"message":"hi","delayMs":1}`)},
		{1, "/v1/echo", "application/json", []byte(`{"message":`)},
		{1, "/v1/types/7", "application/json", []byte(`{"color":"COLOR_RED","count":"-9","size":"1","flag":true,"tags":["a"]}`)},
		{1, "/v1/types/x", "text/plain", []byte(`[]`)},
		{0, "/v1/expand/a%20b%20c?delayMs=1", "", nil},
		{1, "/v1/collect", "application/json", []byte(`{"message":"a"}{"message":"b"}`)},
		{1, "/v1/chat", "application/json", []byte(`{"message":"a"}`)},
		{2, "/v1/echo", "", nil},
		{0, "/v1/echo/panic", "", nil},
	} {
		f.Add(seed.method, seed.path, seed.ctype, seed.body)
	}
	// Delays are capped: a long Expand would otherwise outlast the client.
	impl := &echotest.Server{MaxDelay: time.Microsecond}
	cfg := configWithFreePorts(badInputConfig())
	s := goms.New(cfg, goms.WithLogger(discardLogger()))
	register(s, impl)
	if err := s.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { stopServer(f, s) })
	tr := &http.Transport{}
	f.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	methods := []string{"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"}
	f.Fuzz(func(t *testing.T, method byte, path, ctype string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		m := methods[int(method)%len(methods)]
		req, err := http.NewRequest(m, "http://"+s.HTTPAddr()+path, bytes.NewReader(body))
		if err != nil {
			t.Skip("not a request net/http sends:", err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := client.Do(req)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s %s: no answer within 10s", m, path)
			}
			t.Skip("not a request net/http sends:", err) // invalid header values and the like
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the answer: %v", m, path, err)
		}
		checkHTTPAnswer(t, m+" "+path, resp, compactJSON(string(data)))
	})
}

// pagesNotJSON are the paths of the HTTP port whose answers are not JSON
// by design (with the default config, admin.addr empty).
var pagesNotJSON = map[string]bool{
	"/docs": true, "/docs/": true, "/docs/console.js": true, "/docs/console.css": true, "/metrics": true,
}

// checkHTTPAnswer fails t unless the answer follows the error contract.
func checkHTTPAnswer(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	ct := resp.Header.Get("Content-Type")
	if resp.Request.Method == "HEAD" || (resp.StatusCode == 200 && body == "") {
		return // no body; or a stream of no messages (found by fuzzing: a bidi call with an empty body)
	}
	if resp.Request.Method == "OPTIONS" && resp.StatusCode == http.StatusNoContent && body == "" && resp.Header.Get("Allow") != "" {
		return // the methods of a route (found by fuzzing: OPTIONS answers 204 with Allow)
	}
	if resp.StatusCode == http.StatusOK && pagesNotJSON[resp.Request.URL.Path] {
		return // not an API answer: the console's page and assets, the metrics
	}
	if !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q: %q", what, resp.StatusCode, ct, body)
	}
	if resp.StatusCode >= 400 {
		if !isErrorBody(body) {
			t.Fatalf("%s: %d, body is not the error contract: %q", what, resp.StatusCode, body)
		}
	} else {
		for line := range strings.Lines(body) {
			if !json.Valid([]byte(line)) {
				t.Fatalf("%s: %d, not JSON: %q", what, resp.StatusCode, body)
			}
		}
	}
	if resp.StatusCode >= 500 {
		var st struct{ Message string }
		json.Unmarshal([]byte(body), &st)
		switch {
		case st.Message == "internal error": // the panicking handler
		default:
			t.Fatalf("%s: %d %s", what, resp.StatusCode, body)
		}
	}
}
