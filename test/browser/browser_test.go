package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
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

// TestBrowserEventSource follows the echo service's server stream Expand
// with the browser's EventSource from a page on another origin: all 1,000
// messages arrive, in order, with the ids 1 to 1000.
func TestBrowserEventSource(t *testing.T) {
	ctx := newBrowser(t)
	origin := pageServer(t)
	api := serveEcho(t, origin)
	words := make([]string, 1000)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	type event struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	}
	do(t, ctx, chromedp.Navigate(origin))
	got := eval[[]event](t, ctx, fmt.Sprintf(`new Promise((resolve, reject) => {
		const es = new EventSource("http://%s/v1/expand/%s");
		const events = [];
		es.onmessage = (e) => {
			events.push({id: e.lastEventId, message: JSON.parse(e.data).message});
			if (events.length === 1000) { es.close(); resolve(events); }
		};
		es.addEventListener("error", (e) => { es.close(); reject(new Error("stream failed after " + events.length + " events: " + (e.data || "connection error"))); });
	})`, api, strings.Join(words, "%20")))
	if len(got) != 1000 {
		t.Fatalf("%d events, want 1000", len(got))
	}
	for i, e := range got {
		if e.Message != words[i] || e.ID != fmt.Sprint(i+1) {
			t.Fatalf("event %d: id %q message %q, want id %d message %q", i, e.ID, e.Message, i+1, words[i])
		}
	}
}

// repoRoot is the GoMs checkout the example is built from.
const repoRoot = "../.."

// startShop builds and starts the example shop in gateway mode on free
// ports, and returns its HTTP address.
func startShop(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shop")
	build := exec.Command("go", "build", "-o", bin, "./examples/shop/cmd/shop")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/shop/cmd/shop: %v\n%s", err, out)
	}
	p := testutil.StartProcess(t, bin, nil, "gateway")
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("shop: %v\n%s", err, p.Out)
		}
	})
	return p.HTTPAddr
}

// TestBrowserConsole opens the example's API console at /docs: it lists
// every route of the served OpenAPI document, a unary call shows its JSON
// answer and an error its google.rpc.Status, a server stream is watched
// over SSE, and a bidi stream driven over a WebSocket. With
// GOMS_UPDATE_SCREENSHOT=1 it writes docs/console.png.
func TestBrowserConsole(t *testing.T) {
	ctx := newBrowser(t)
	api := "http://" + startShop(t)
	do(t, ctx, chromedp.Navigate(api+"/docs"), chromedp.WaitVisible(chromedp.CSS(`nav button`)))

	// Every operation of the document, once.
	resp, err := http.Get(api + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, item := range doc.Paths {
		for _, op := range item {
			want = append(want, op.OperationID)
		}
	}
	slices.Sort(want)
	listed := eval[[]string](t, ctx, `Promise.resolve([...document.querySelectorAll("nav button")].map((b) => b.dataset.operation).sort())`)
	if !slices.Equal(listed, want) || len(want) < 6 {
		t.Fatalf("console lists %q, want the document's operations %q", listed, want)
	}

	pick := func(op string) {
		t.Helper()
		do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`nav button[data-operation=%q]`, op))), chromedp.WaitVisible(chromedp.CSS(`#send`)))
	}
	waitStatus := func(prefix string) string {
		t.Helper()
		return eval[string](t, ctx, fmt.Sprintf(`new Promise((resolve) => {
			const check = () => {
				const s = document.getElementById("status").textContent;
				if (s.startsWith(%q)) resolve(document.getElementById("output").textContent); else setTimeout(check, 20);
			};
			check();
		})`, prefix))
	}

	// A unary call and its answer.
	pick("CatalogService_GetProduct")
	do(t, ctx, chromedp.SetValue(chromedp.CSS(`input[name="id"]`), "tea"), chromedp.Click(chromedp.CSS(`#send`)))
	if out := waitStatus("200 · 0 OK"); !strings.Contains(out, `"name": "Green tea, 50 bags"`) {
		t.Errorf("GetProduct(tea) shows %s", out)
	}
	// An error, in the error contract.
	do(t, ctx, chromedp.SetValue(chromedp.CSS(`input[name="id"]`), "caviar"), chromedp.Click(chromedp.CSS(`#send`)))
	if out := waitStatus("404 · 5 NOT_FOUND"); !strings.Contains(out, `"message": "product \"caviar\" not found"`) {
		t.Errorf("GetProduct(caviar) shows %s", out)
	}
	// A server stream over SSE.
	pick("CatalogService_ListProducts")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#send`)))
	if out := waitStatus("stream ended · 3 messages"); !strings.Contains(out, `"id": "croissant"`) {
		t.Errorf("ListProducts shows %s", out)
	}
	// A bidi stream over a WebSocket: two baskets, then the end of input.
	pick("OrderService_QuoteLive")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#open`)))
	waitStatus("open")
	for _, basket := range []string{`{"items":[{"productId":"tea","quantity":1}]}`, `{"items":[{"productId":"coffee","quantity":2}]}`} {
		do(t, ctx, chromedp.SetValue(chromedp.CSS(`#body`), basket), chromedp.Click(chromedp.CSS(`#send`)))
	}
	eval[bool](t, ctx, `new Promise((resolve) => { const check = () => document.querySelectorAll("#log li").length >= 2 ? resolve(true) : setTimeout(check, 20); check(); })`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#end`)))
	if out := waitStatus("1000 · 0 OK"); !strings.Contains(out, `"totalCents": "450"`) || !strings.Contains(out, `"totalCents": "1780"`) {
		t.Errorf("QuoteLive shows %s", out)
	}

	if os.Getenv("GOMS_UPDATE_SCREENSHOT") != "" {
		pick("OrderService_QuoteOrder")
		do(t, ctx, chromedp.SetValue(chromedp.CSS(`#body`), `{
  "items": [
    {"productId": "tea", "quantity": 2},
    {"productId": "croissant", "quantity": 3}
  ]
}`), chromedp.Click(chromedp.CSS(`#send`)))
		waitStatus("200")
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repoRoot, "docs", "console.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
