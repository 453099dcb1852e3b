package reliability

import (
	"strings"
	"testing"
)

// form is a raw form POST to path with extra header lines.
func form(path, body string, header ...string) []byte {
	return []byte("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		strings.Join(header, "") + "Content-Length: " + itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
}

// TestNoMethodOverride: grpc-gateway's X-HTTP-Method-Override on form
// POSTs and its POST-to-GET path-length fallback are off, so a form POST
// never runs a GET (or any other) route's handler (issue 14, finding 6).
func TestNoMethodOverride(t *testing.T) {
	s := serve(t, configWithFreePorts(badInputConfig()), nil)
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"override to GET", form("/v1/echo/a", "", "X-HTTP-Method-Override: GET\r\n")},
		{"override to DELETE", form("/v1/echo/a", "", "X-HTTP-Method-Override: DELETE\r\n")},
		{"form POST to a GET route", form("/v1/echo/a", "message=b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawHTTP(t, s.HTTPAddr(), tc.req, false)
			if got.status < 400 || got.status >= 500 || !isErrorBody(got.body) {
				t.Errorf("got %d %s, want 4xx with the JSON error body (the GET handler must not run)", got.status, got.body)
			}
		})
	}
	if got := rawHTTP(t, s.HTTPAddr(), get("/v1/echo/alive"), false); got.status != 200 {
		t.Fatalf("server after the requests: %+v", got)
	}
}
