// Package console serves the API console: a page of GoMs's own, embedded
// in the binary (nothing from a CDN, so it works offline), that reads the
// OpenAPI document the server serves and lets a person call the routes
// from a browser: unary calls with fetch, server streams as Server-Sent
// Events (EventSource), client and bidi streams over a WebSocket, with
// errors shown in the one error contract.
//
// Why not an existing UI bundle: Swagger UI's dist is about 1.4 MB of
// JavaScript and CSS that every binary would carry, and it can neither
// watch an event stream nor drive a WebSocket; Scalar and Redoc are of the
// same size and also unary-only. This page is under 20 KB and does all
// three kinds of call.
package console

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"

	"github.com/goms-io/goms/internal/gateway"
)

//go:embed assets
var assets embed.FS

// page is the console's HTML, with the document's path filled in.
var page = template.Must(template.ParseFS(assets, "assets/index.html"))

// Handler serves the console under prefix (e.g. "/docs"): prefix itself
// is the page, prefix+"/console.js" and prefix+"/console.css" its assets,
// to GET and HEAD (other methods: 405 with Allow). openAPIPath is where
// the server serves the OpenAPI document the page reads. Every other
// request goes to next.
func Handler(prefix, openAPIPath string, next http.Handler) http.Handler {
	var html bytes.Buffer
	if err := page.Execute(&html, struct{ Prefix, OpenAPI string }{prefix, openAPIPath}); err != nil {
		panic(err) // the template is embedded: a failure is a build defect
	}
	files := map[string]struct {
		body []byte
		typ  string
	}{
		prefix:                  {html.Bytes(), "text/html; charset=utf-8"},
		prefix + "/":            {html.Bytes(), "text/html; charset=utf-8"},
		prefix + "/console.js":  {mustRead("assets/console.js"), "text/javascript; charset=utf-8"},
		prefix + "/console.css": {mustRead("assets/console.css"), "text/css; charset=utf-8"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			gateway.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.typ)
		h.Set("Content-Length", strconv.Itoa(len(f.body)))
		// The page runs only its own files, and talks only to this
		// server (fetch, EventSource, WebSocket).
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method == http.MethodGet {
			w.Write(f.body)
		}
	})
}

func mustRead(name string) []byte {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}
