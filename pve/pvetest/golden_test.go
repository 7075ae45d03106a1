package pvetest

import (
	"strings"
	"testing"
)

func TestGoldenDoesNotDependOnTheWorkingDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	g := Golden(t, "pvecm-status-quorate.txt")
	if !strings.HasSuffix(g.Source, " §3.1 (real output, PVE 9.2.9, 2 nodes)") {
		t.Errorf("source %q", g.Source)
	}
	if !strings.HasPrefix(g.Stdout, "Cluster information\n") || g.Stderr != "" || g.ExitCode != 0 {
		t.Errorf("got %+v", g)
	}
}

func TestGoldenSplitsStdoutAndStderr(t *testing.T) {
	g := Golden(t, "delnode-self.txt")
	if g.Stdout != "" || g.Stderr != "Cannot delete myself from cluster!\n" {
		t.Errorf("stdout %q stderr %q", g.Stdout, g.Stderr)
	}
	if g.WithExit(255).ExitCode != 255 || g.ExitCode != 0 {
		t.Error("WithExit must return a changed copy")
	}
}

func TestParseGolden(t *testing.T) {
	tests := []struct {
		name, in       string
		stdout, stderr string
		err            string
	}{
		{"plain", "# source: x\nout\n--- stderr\n", "out\n--- stderr\n", "", ""},
		{"split", "# source: x\n--- stdout\nout\n--- stderr\nerr\n", "out\n", "err\n", ""},
		{"empty body", "# source: x\n", "", "", ""},
		{"no source", "out\n", "", "", "must name its source"},
		{"no stderr marker", "# source: x\n--- stdout\nout\n", "", "", "without --- stderr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseGolden(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || o.Source != "x" || o.Stdout != tt.stdout || o.Stderr != tt.stderr {
				t.Errorf("got %+v %v", o, err)
			}
		})
	}
}

func TestGoldenMissingStopsTheTest(t *testing.T) {
	rec := newRecorder(t)
	rec.runGoroutine(func() { Golden(rec, "no-such-golden.txt") })
	if !rec.fatal || !rec.hasError("pvetest: golden no-such-golden.txt:") {
		t.Errorf("fatal %v, errors %q", rec.fatal, rec.errors)
	}
}
