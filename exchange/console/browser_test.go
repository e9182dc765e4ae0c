package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/exchange-gov/exchange/exchange/console"
)

// chromiumPath finds Debian's chromium (deploy/local/chromium.sh installs
// it); without it the browser tests skip under -short and fail otherwise.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("EXCHANGE_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "chromium not found (/usr/bin/chromium): run deploy/local/chromium.sh, or set EXCHANGE_TEST_CHROMIUM"
	if testing.Short() {
		t.Skip(msg)
	}
	t.Fatal(msg)
	return ""
}

// artifactsDir is where screenshots go: $EXCHANGE_TEST_ARTIFACTS, else a
// fresh directory under the system temp dir, kept after the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EXCHANGE_TEST_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "exchange-console-artifacts-"); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots: %s", dir)
	return dir
}

// browser is one headless chromium and what the tests watch of it: every
// console response's CSP, and any JavaScript dialog (an alert() that a
// hostile value managed to run).
type browser struct {
	ctx       context.Context
	shots     string
	base      string
	mu        sync.Mutex
	responses map[string]string // console URL → its Content-Security-Policy
	dialogs   atomic.Int32
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b := &browser{ctx: ctx, shots: artifactsDir(t), base: base, responses: map[string]string{}}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.dialogs.Add(1)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		case *network.EventResponseReceived:
			b.mu.Lock()
			if b.base != "" && strings.HasPrefix(ev.Response.URL, b.base+console.Prefix) {
				csp, _ := ev.Response.Headers["Content-Security-Policy"].(string)
				b.responses[ev.Response.URL] = csp
			}
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// do runs actions with a deadline, failing the test with what on error.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates to the console path and waits for its heading.
func (b *browser) open(t *testing.T, path string) {
	t.Helper()
	b.do(t, "opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// shot keeps a full-page screenshot as name.png.
func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	buf := get(t, b, "screenshot "+name, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return get(t, b, "text of "+sel, chromedp.TextContent(chromedp.CSS(sel)))
}

func (b *browser) count(t *testing.T, sel string) int {
	t.Helper()
	return get(t, b, "counting "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// inert checks the page holds no script element, no inline event
// handler and that no dialog ever opened.
func (b *browser) inert(t *testing.T, page string) {
	t.Helper()
	if n := b.count(t, "script"); n != 0 {
		t.Errorf("%s: %d script elements", page, n)
	}
	if n := b.count(t, "[onmouseover], [onerror], [onload]"); n != 0 {
		t.Errorf("%s: %d elements with an event handler attribute", page, n)
	}
	if n := b.dialogs.Load(); n != 0 {
		t.Errorf("%s: %d JavaScript dialogs opened", page, n)
	}
}

// signIn signs in as the dev identity file (e.g. "auditor.token") from
// the sign-in page.
func (b *browser) signIn(t *testing.T, identity string) {
	t.Helper()
	b.open(t, console.Prefix+"signin")
	b.do(t, "signing in as "+identity,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-identity=%q]`, identity))),
		chromedp.WaitVisible(chromedp.CSS("#flows")))
}

// signOut signs out and checks the console no longer serves a page.
func (b *browser) signOut(t *testing.T) {
	t.Helper()
	b.do(t, "signing out", chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.CSS("#signin-options")),
		chromedp.Navigate(b.base+console.Prefix), chromedp.WaitVisible(chromedp.CSS("#signin-options")))
	if url := get(t, b, "location", chromedp.Location()); !strings.HasSuffix(url, console.Prefix+"signin") {
		t.Fatalf("after sign-out %s led to %s, want the sign-in page", console.Prefix, url)
	}
}
