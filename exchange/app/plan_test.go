package app

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSignatureSeesConfigMapUpdates: a Kubernetes ConfigMap volume holds
// each file as a symlink through ..data into a timestamped directory, and
// an update swaps ..data to a new directory; the links never change. The
// reload poll must still see the new content.
func TestSignatureSeesConfigMapUpdates(t *testing.T) {
	dir := t.TempDir()
	write := func(version, text string) {
		t.Helper()
		v := filepath.Join(dir, version)
		if err := os.Mkdir(v, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(v, "agreement.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		// Swap ..data atomically, as the kubelet does.
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(version, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	write("..2026_11_27_10_00_00.1", "status: active\n")
	if err := os.Symlink(filepath.Join("..data", "agreement.yaml"), filepath.Join(dir, "agreement.yaml")); err != nil {
		t.Fatal(err)
	}
	before, err := dirSignature(dir, ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	write("..2026_11_27_10_05_00.2", "status: revoked\n")
	after, err := dirSignature(dir, ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Fatalf("signature unchanged after the ConfigMap update: %q", after)
	}
}
