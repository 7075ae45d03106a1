package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The change commands' usage errors exit 2 before any host is contacted: missing or extra
// arguments, an option after the arguments (the flag library would take it for a node name),
// a node the file lacks, a qdevice setup without a host, a mismatched --accept-new-host-key.
func TestChangeCommandsUsage(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	file := filepath.Join(t.TempDir(), "cluster.yaml")
	data, err := os.ReadFile("inventory/testdata/valid-issue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// No qdevice section, and nothing to reach: a test that contacts a host fails on it.
	text := string(data)
	if i := strings.Index(text, "\nqdevice:"); i >= 0 {
		text = text[:i+1]
	}
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"add"}, "usage: quorate add NODE..."},
		{[]string{"rebuild"}, "usage: quorate rebuild NODE"},
		{[]string{"rebuild", "pve1", "pve2"}, "usage: quorate rebuild NODE"},
		{[]string{"remove"}, "usage: quorate remove NODE"},
		{[]string{"qdevice", "remove", "extra"}, "usage: quorate qdevice remove"},
		{[]string{"rebuild", "pve2", "--yes"}, "--yes after the arguments: options go first (quorate rebuild [options] NODE)"},
		{[]string{"add", "pve4", "--yes", "pve5"}, "--yes after the arguments"},
		{[]string{"rebuild", "--accept-new-host-key", "pve3", "pve2"}, "--accept-new-host-key pve3: names pve3, but the node to rebuild is pve2"},
		{[]string{"add", "nosuchnode"}, "nosuchnode is not a node of"},
		{[]string{"rebuild", "nosuchnode"}, "nosuchnode is not a node of"},
		{[]string{"qdevice", "setup"}, "no qnetd host"},
	} {
		_, stderr, code := runQuorate(t, append([]string{"-c", file}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("quorate %s: exit %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

func TestChangeCommandsHelp(t *testing.T) {
	for _, cmd := range [][]string{{"add"}, {"rebuild"}, {"remove"}, {"qdevice", "setup"}, {"qdevice", "remove"}} {
		out, _, code := runQuorate(t, append(cmd, "--help")...)
		if code != exitOK || !strings.Contains(out, "quorum") && !strings.Contains(out, "QDevice") {
			t.Errorf("quorate %s --help: exit %d\n%s", strings.Join(cmd, " "), code, out)
		}
	}
	// Global flags are accepted after the qdevice subcommands too.
	file := filepath.Join(t.TempDir(), "none.yaml")
	_, stderr, code := runQuorate(t, "qdevice", "setup", "-c", file, "--yes")
	if code != exitUsage || !strings.Contains(stderr, "none.yaml") {
		t.Errorf("qdevice setup -c FILE --yes: exit %d, %q", code, stderr)
	}
}
