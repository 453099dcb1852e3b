package browser

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echotest"
)

// chromiumPath returns the Chromium to drive: $GOMS_CHROMIUM, else
// chromium on PATH. Without one the test skips, unless GOMS_REQUIRE_TOOLS
// is set (CI, whose .ci/run installs Debian's chromium): then it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GOMS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GOMS_REQUIRE_TOOLS") != "" {
		t.Fatal("chromium not found, and GOMS_REQUIRE_TOOLS is set (install Debian's chromium)")
	}
	t.Skip("chromium not found: install Debian's chromium to run the browser tests")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and returns a
// tab's context, cancelled (and Chromium stopped) when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// No connections of Chromium's own: the machine's network is
		// closed, and they would only slow the start.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start Chromium now, without a timeout (which would stop it), so
	// that a test's timeout covers only its work.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath(t), err)
	}
	return ctx
}

// do runs steps in the tab, with a timeout.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval runs script in the tab, waits for the promise it returns and
// decodes its value.
func eval[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pageServer serves a blank page on an origin of its own, as a web app
// calling the API from another origin would be; it returns that origin.
func pageServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>app</title><body>app</body>")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// serveEcho serves the echo test service in gateway mode, allowing
// calls from origin, and returns its HTTP address.
func serveEcho(t *testing.T, origin string) string {
	t.Helper()
	cfg := goms.DefaultConfig()
	cfg.HTTP.CORSOrigins = []string{origin}
	return echotest.Serve(t, cfg).HTTPAddr()
}

// TestBrowserWebSocketBidi drives the echo service's bidi stream Chat
// from a page on another origin, over a WebSocket: 100 messages, each
// answered before the next is sent, then the half-close (an empty
// message) and the close with 1000.
func TestBrowserWebSocketBidi(t *testing.T) {
	ctx := newBrowser(t)
	origin := pageServer(t)
	api := serveEcho(t, origin)
	type result struct {
		Answers []string `json:"answers"`
		Code    int      `json:"code"`
	}
	do(t, ctx, chromedp.Navigate(origin))
	got := eval[result](t, ctx, fmt.Sprintf(`new Promise((resolve, reject) => {
		const ws = new WebSocket("ws://%s/v1/chat");
		const answers = [];
		let i = 0;
		const next = () => { ws.send(i < 100 ? JSON.stringify({message: "m" + i++}) : ""); };
		ws.onopen = next;
		ws.onmessage = (e) => { answers.push(JSON.parse(e.data).message); next(); };
		ws.onclose = (e) => resolve({answers, code: e.code});
		ws.onerror = () => reject(new Error("WebSocket error"));
	})`, api))
	if got.Code != 1000 || len(got.Answers) != 100 {
		t.Fatalf("closed with %d after %d answers, want 1000 after 100", got.Code, len(got.Answers))
	}
	for i, a := range got.Answers {
		if want := fmt.Sprintf("re: m%d", i); a != want {
			t.Fatalf("answer %d: %q, want %q", i, a, want)
		}
	}
}
