package remote

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// The wrapped line must work whatever the remote login shell is; test the ones installed.
func TestWrapLineUnderLoginShells(t *testing.T) {
	lines := []struct {
		line, want string
	}{
		{`echo "$LC_ALL"`, "C\n"},
		{`printf '%s\n' "it's" 'a "quoted" $word'`, "it's\na \"quoted\" $word\n"},
		{"a=1; [ \"$a\" = 1 ] && echo posix", "posix\n"},
		{"", ""},
	}
	tried := 0
	for _, shell := range []string{"sh", "bash", "dash", "zsh", "ksh", "fish"} {
		path, err := exec.LookPath(shell)
		if err != nil {
			continue
		}
		tried++
		for _, tt := range lines {
			marker := newMarker()
			cmd := exec.Command(path, "-c", "echo login noise; echo noise >&2; "+wrapLine(marker, tt.line))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("%s: %q: %v (stderr %q)", shell, tt.line, err, stderr.String())
				continue
			}
			out, ok := stripMarker(stdout.Bytes(), marker)
			errOut, errOK := stripMarker(stderr.Bytes(), marker)
			if !ok || !errOK || string(out) != tt.want || len(errOut) != 0 {
				t.Errorf("%s: %q: stdout %q stderr %q, want %q and nothing", shell, tt.line, out, errOut, tt.want)
			}
		}
	}
	if tried == 0 {
		t.Skip("no shell installed")
	}
}

func TestStripMarker(t *testing.T) {
	const m = "quorate-output-begins-0123"
	tests := []struct {
		name, in, want string
		found          bool
	}{
		{"marker only", m + "\n", "", true},
		{"noise before", "Welcome\n" + m + "\nout\n", "out\n", true},
		{"noise without newline", "motd" + m + "\nout", "out", true},
		{"marker repeated by the command", m + "\n" + m + "\n", m + "\n", true},
		{"no marker: shell never ran the command", "This account is currently not available.\n", "This account is currently not available.\n", false},
		{"marker without its newline is not a marker", m, m, false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := stripMarker([]byte(tt.in), m)
			if string(got) != tt.want || found != tt.found {
				t.Errorf("stripMarker(%q) = %q, %v; want %q, %v", tt.in, got, found, tt.want, tt.found)
			}
		})
	}
}

// stripMarker parses untrusted remote output: it must never panic, and what it returns is
// always a suffix of its input that follows a marker line.
func FuzzStripMarker(f *testing.F) {
	m := newMarker()
	f.Add([]byte("noise\n"+m+"\nout\n"), m)
	f.Add([]byte(m), m)
	f.Add([]byte(""), "")
	f.Add([]byte("\n\n"), "\n")
	f.Fuzz(func(t *testing.T, out []byte, marker string) {
		got, found := stripMarker(out, marker)
		if !bytes.HasSuffix(out, got) {
			t.Fatalf("result %q is not a suffix of %q", got, out)
		}
		if found {
			head := out[:len(out)-len(got)]
			if !strings.HasSuffix(string(head), marker+"\n") || strings.Count(string(head), marker+"\n") != 1 {
				t.Fatalf("stripped %q, which is not everything up to the first marker line", head)
			}
		} else if !bytes.Equal(got, out) {
			t.Fatalf("no marker, but output changed")
		}
	})
}
