package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVersionPrintsGoVersion(t *testing.T) {
	out, _, code := runQuorate(t, "version")
	if code != exitOK || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit") {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
}

// The release build sets version and commit with -ldflags -X; the built binary must show them.
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "quorate")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7 -X main.commit=0123abcd", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--output", "json", "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"version": "v9.8.7"`, `"commit": "0123abcd"`, `"go": "go1.`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("version output lacks %s:\n%s", want, out)
		}
	}
}
