package console_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/console"
)

// TestReadmeScreenshot renders the overview the README shows: the example
// policy as shipped (none of the other tests' hostile names), demo
// traffic, signed in as the auditor, through the same browser harness. It
// runs only when EXCHANGE_README_SCREENSHOT names the PNG to write:
//
//	EXCHANGE_README_SCREENSHOT=$PWD/docs/console-overview.png go test -run TestReadmeScreenshot ./exchange/console/
func TestReadmeScreenshot(t *testing.T) {
	out := os.Getenv("EXCHANGE_README_SCREENSHOT")
	if out == "" {
		t.Skip("set EXCHANGE_README_SCREENSHOT=<file.png> to render the README's console picture")
	}
	b := newBrowserOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	plain := t.TempDir()
	paths, _ := filepath.Glob("../../deploy/examples/*.*")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(plain, filepath.Base(p)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := startStack(ctx, t, 300, func(c *app.Config, _ string) { c.ContractsDir = plain })
	b.mu.Lock()
	b.base = s.base
	b.mu.Unlock()
	b.signIn(t, "auditor.token")
	b.open(t, console.Prefix)
	if got := b.text(t, `#flows text[data-agency="statistics"]`); got != "National Statistics Office" {
		t.Fatalf("flow picture labels statistics %q, want the example's name", got)
	}
	png := get(t, b, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
}
