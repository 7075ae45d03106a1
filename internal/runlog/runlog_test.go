package runlog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultLogPathUnderStateDir(t *testing.T) {
	now := time.Date(2026, 11, 25, 13, 45, 0, 0, time.UTC)
	t.Setenv("XDG_STATE_HOME", "/state")
	got, err := DefaultPath(now, 42)
	if err != nil || got != "/state/quorate/quorate-20261125T134500Z-42.log" {
		t.Errorf("with XDG_STATE_HOME: %q, %v", got, err)
	}
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	t.Setenv("HOME", "/home/u")
	got, err = DefaultPath(now, 42)
	if err != nil || got != "/home/u/.local/state/quorate/quorate-20261125T134500Z-42.log" {
		t.Errorf("without XDG_STATE_HOME: %q, %v", got, err)
	}
}

// A secret learnt during the run must not reach the log file in a message, an attribute or
// an error.
func TestRunLogRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	log, err := Open(Options{Stderr: io.Discard, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(log.Path, filepath.Join(dir, "quorate")+"/") {
		t.Errorf("log path %s not under the state dir", log.Path)
	}
	log.AddSecret("hunter2")
	log.AddSecret("hunter2-and-more") // a secret that contains another is hidden whole
	log.Logger.Info("passphrase hunter2-and-more")
	log.Logger.With("stdin", "password=hunter2").Info("auth with hunter2",
		"err", errors.New("login failed for hunter2"), "cmd", "echo hunter2", "exit", 0, "duration", time.Second)
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(log.Path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if strings.Contains(text, "hunter2") || strings.Contains(text, "and-more") || strings.Count(text, "***") != 5 {
		t.Errorf("log not redacted:\n%s", text)
	}
	if !strings.Contains(text, `"duration":"1s"`) {
		t.Errorf("duration not written for people to read:\n%s", text)
	}
	info, _ := os.Stat(log.Path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", info.Mode().Perm())
	}
}
