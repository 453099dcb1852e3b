package goms_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"google.golang.org/grpc"
)

// sseServers starts the echo service behind the HTTP edge in gateway mode
// and in http mode (forwarding to a gRPC-mode backend), with cfg's HTTP
// section, and returns the base URL of each.
func sseServers(t *testing.T, http goms.HTTPConfig) map[goms.Mode]string {
	t.Helper()
	backendCfg := goms.DefaultConfig()
	backendCfg.Mode = goms.ModeGRPC
	backend := echotest.Serve(t, backendCfg, goms.WithLogger(discardLogger()))

	gwCfg := goms.DefaultConfig()
	gwCfg.HTTP = http
	gw := echotest.Serve(t, gwCfg, goms.WithLogger(discardLogger()))

	cfg := goms.DefaultConfig()
	cfg.HTTP = http
	cfg.Mode, cfg.HTTP.Addr, cfg.Upstream = goms.ModeHTTP, "127.0.0.1:0", backend.GRPCAddr()
	hm := goms.New(cfg, goms.WithLogger(discardLogger()))
	echo.RegisterEchoService(hm, nil)
	if err := hm.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hm.Stop(ctx)
	})
	return map[goms.Mode]string{
		goms.ModeGateway: "http://" + gw.HTTPAddr(),
		goms.ModeHTTP:    "http://" + hm.HTTPAddr(),
	}
}

// sseGet sends GET url with the headers of a browser's EventSource (and
// extra, "Name: value" pairs) and returns the response.
func sseGet(t *testing.T, ctx context.Context, url string, extra ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	for _, h := range extra {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// sseEvent is one event of a stream, or (comment set) one comment line.
type sseEvent struct {
	id, event, data, comment string
}

// readEvent reads the next event or comment of r, as an EventSource
// parses them; io.EOF at the end of the stream.
func readEvent(r *bufio.Reader) (sseEvent, error) {
	var e sseEvent
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF
			}
			return e, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if data == nil && e.id == "" && e.event == "" {
				continue
			}
			e.data = compactJSON(strings.Join(data, "\n"))
			return e, nil
		case strings.HasPrefix(line, ":"):
			if data == nil && e.id == "" && e.event == "" {
				return sseEvent{comment: strings.TrimSpace(line[1:])}, nil
			}
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "id":
				e.id = v
			case "event":
				e.event = v
			case "data":
				data = append(data, v)
			}
		}
	}
}

// readEvents reads the events of a stream to its end, comments left out.
func readEvents(t *testing.T, body io.Reader) []sseEvent {
	t.Helper()
	r := bufio.NewReader(body)
	var events []sseEvent
	for {
		e, err := readEvent(r)
		if err == io.EOF {
			return events
		}
		if err != nil {
			t.Fatalf("reading the stream: %v (events so far %q)", err, events)
		}
		if e.comment == "" {
			events = append(events, e)
		}
	}
}

// TestSSE: a server stream asked for with Accept: text/event-stream comes
// as Server-Sent Events, in gateway mode and in http mode: one event per
// message with ids 1, 2, …, an error as a last "error" event whose data
// is the unary error contract's body, and the Last-Event-ID header handed
// to the handler as last-event-id metadata, the ids going on from it. Requests that fail before the
// stream starts still get the JSON error answer.
func TestSSE(t *testing.T) {
	cfg := goms.DefaultConfig().HTTP
	for mode, base := range sseServers(t, cfg) {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			resp := sseGet(t, ctx, base+"/v1/expand/one%20two%20three")
			for k, want := range map[string]string{
				"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
			} {
				if got := resp.Header.Get(k); resp.StatusCode != 200 || got != want {
					t.Errorf("%s %s: %s = %q, want %q", resp.Status, resp.Request.URL.Path, k, got, want)
				}
			}
			got := readEvents(t, resp.Body)
			want := []sseEvent{
				{id: "1", data: `{"message":"one"}`},
				{id: "2", data: `{"message":"two"}`},
				{id: "3", data: `{"message":"three"}`},
			}
			if len(got) != len(want) {
				t.Fatalf("events %q, want %q", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("event %d = %q, want %q", i, got[i], want[i])
				}
			}

			// An error ends the stream with the error contract's body.
			code, contract := get(t, base+"/v1/echo/details")
			if code != 400 || !strings.Contains(contract, `"STOCK_LOW"`) {
				t.Fatalf("unary error = %d %s", code, contract)
			}
			got = readEvents(t, sseGet(t, ctx, base+"/v1/expand/one%20details").Body)
			want = []sseEvent{{id: "1", data: `{"message":"one"}`}, {event: "error", data: contract}}
			if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
				t.Errorf("stream ending in an error: events %q, want %q", got, want)
			}
			// The same when the error comes before any message.
			got = readEvents(t, sseGet(t, ctx, base+"/v1/expand/details").Body)
			if len(got) != 1 || got[0] != want[1] {
				t.Errorf("stream failing at once: events %q, want %q", got, want[1:])
			}

			// A reconnecting EventSource's Last-Event-ID reaches the
			// handler as metadata.
			got = readEvents(t, sseGet(t, ctx, base+"/v1/expand/last-event-id", "Last-Event-ID: 41").Body)
			if len(got) != 1 || got[0] != (sseEvent{id: "42", data: `{"message":"last-event-id=41"}`}) {
				t.Errorf("with Last-Event-ID: 41: events %q, want id 42 and the handler to see last-event-id=41", got)
			}

			// A malformed request is answered before the stream, with the
			// JSON error body.
			resp = sseGet(t, ctx, base+"/v1/expand/a?delayMs=abc")
			body, _ := io.ReadAll(resp.Body)
			body = []byte(compactJSON(string(body)))
			if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(body), `{"code":3,"message":`) {
				t.Errorf("malformed request = %s %q %s, want 400 with a JSON error body", resp.Status, resp.Header.Get("Content-Type"), body)
			}
		})
	}
}

// TestSSEKeepAlive: a quiet SSE stream gets a ": keep-alive" comment every
// http.sse_keepalive, in gateway mode and in http mode.
func TestSSEKeepAlive(t *testing.T) {
	cfg := goms.DefaultConfig().HTTP
	cfg.SSEKeepAlive = time.Millisecond
	for mode, base := range sseServers(t, cfg) {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The first message waits ten minutes: the comments come
			// first.
			r := bufio.NewReader(sseGet(t, ctx, base+"/v1/expand/a?delayMs=600000").Body)
			for range 3 {
				e, err := readEvent(r)
				if err != nil || e.comment != "keep-alive" {
					t.Fatalf("got %q, %v; want a keep-alive comment", e, err)
				}
			}
		})
	}
}

// TestStreamNDJSON: without Accept: text/event-stream a server stream is
// newline-delimited JSON, as grpc-gateway writes it: {"result": …} lines,
// and an error line with the unary error contract's body; an error before
// the first message also sets the HTTP status of its code.
func TestStreamNDJSON(t *testing.T) {
	for mode, base := range sseServers(t, goms.DefaultConfig().HTTP) {
		t.Run(string(mode), func(t *testing.T) {
			_, contract := get(t, base+"/v1/echo/details")
			for _, tc := range []struct {
				path       string
				code       int
				want       string
				wantHeader string
			}{
				{"/v1/expand/one%20two", 200, `{"result":{"message":"one"}}` + "\n" + `{"result":{"message":"two"}}` + "\n", "application/json"},
				{"/v1/expand/one%20details", 200, `{"result":{"message":"one"}}` + "\n" + contract + "\n", "application/json"},
				{"/v1/expand/details", 400, contract + "\n", "application/json"},
				{"/v1/expand/a?delayMs=abc", 400, "", "application/json"},
			} {
				resp, err := http.Get(base + tc.path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body := compactJSON(string(b))
				if tc.want == "" {
					if resp.StatusCode != tc.code || !strings.HasPrefix(body, `{"code":3,"message":`) {
						t.Errorf("GET %s = %d %s, want %d with a JSON error body", tc.path, resp.StatusCode, body, tc.code)
					}
					continue
				}
				if resp.StatusCode != tc.code || body != tc.want || resp.Header.Get("Content-Type") != tc.wantHeader {
					t.Errorf("GET %s = %d %q %q, want %d %q %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.code, tc.wantHeader, tc.want)
				}
			}
		})
	}
}

// TestStreamNDJSONNotHeldBack: the NDJSON encoder leaves a message's flush
// to the next one only when that one is already there, never to one still
// to come: here the handler sends its second message only once the client
// has read the first (the read would wait for the context's end
// otherwise).
func TestStreamNDJSONNotHeldBack(t *testing.T) {
	release := make(chan struct{})
	hold := goms.WithStreamInterceptors(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &holdingStream{ServerStream: ss, release: release})
	})
	s := serveConfig(t, goms.DefaultConfig(), hold)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+s.HTTPAddr()+"/v1/expand", strings.NewReader(`{"message":"one two"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	for i, want := range []string{`{"result":{"message":"one"}}`, `{"result":{"message":"two"}}`} {
		line, err := r.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != want {
			t.Fatalf("line %d: %q %v, want %s", i+1, line, err, want)
		}
		if i == 0 {
			close(release)
		}
	}
}

// holdingStream sends its second message once release is closed.
type holdingStream struct {
	grpc.ServerStream
	release chan struct{}
	sent    int
}

func (s *holdingStream) SendMsg(m any) error {
	if s.sent == 1 {
		<-s.release
	}
	s.sent++
	return s.ServerStream.SendMsg(m)
}
