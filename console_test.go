package goms_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/goms-io/goms"
)

// TestConsoleServed checks how the HTTP port serves the API console (the
// page's behaviour is tested in Chromium, test/browser): the page names
// the document it reads and carries a strict Content-Security-Policy,
// its assets are served, other methods get 405, and http.docs_path or
// http.openapi_path empty turns it off.
func TestConsoleServed(t *testing.T) {
	s := serveConfig(t, goms.DefaultConfig())
	base := "http://" + s.HTTPAddr()
	resp, body := do(t, "GET", base+"/docs", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `data-openapi="/openapi.json"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("GET /docs: %d %q CSP %q\n%.300s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"), body)
	}
	for _, asset := range []string{"/docs/console.js", "/docs/console.css"} {
		if resp, body := do(t, "GET", base+asset, "", nil); resp.StatusCode != 200 || len(body) < 500 {
			t.Errorf("GET %s: %d, %d bytes", asset, resp.StatusCode, len(body))
		}
	}
	if resp, body := do(t, "POST", base+"/docs", "", nil); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || !strings.HasPrefix(body, `{"code":12,`) {
		t.Errorf("POST /docs: %d Allow %q %s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}

	off := goms.DefaultConfig()
	off.HTTP.DocsPath = ""
	s = serveConfig(t, off)
	if resp, _ := do(t, "GET", "http://"+s.HTTPAddr()+"/docs", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /docs with http.docs_path empty: %d, want 404", resp.StatusCode)
	}

	// The page reads the document: without it, no console either.
	noDoc := goms.DefaultConfig()
	noDoc.HTTP.OpenAPIPath = ""
	s = serveConfig(t, noDoc)
	if resp, _ := do(t, "GET", "http://"+s.HTTPAddr()+"/docs", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /docs with http.openapi_path empty: %d, want 404", resp.StatusCode)
	}

	same := goms.DefaultConfig()
	same.HTTP.DocsPath = same.HTTP.OpenAPIPath
	same.GRPC.Addr, same.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	if err := goms.New(same).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "http.docs_path and http.openapi_path are both") {
		t.Errorf("Start with the console at the document's path: %v, want an error naming both settings", err)
	}
}
