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
		{"cat", "stdin reaches the line\n"},
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
			cmd.Stdin = strings.NewReader("stdin reaches the line\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("%s: %q: %v (stderr %q)", shell, tt.line, err, stderr.String())
				continue
			}
			out, tag, ok := stripMarker(stdout.Bytes(), marker)
			errOut, errTag, errOK := stripMarker(stderr.Bytes(), marker)
			if !ok || !errOK || string(out) != tt.want || len(errOut) != 0 {
				t.Errorf("%s: %q: stdout %q stderr %q, want %q and nothing", shell, tt.line, out, errOut, tt.want)
			}
			if pid, ok := supervisorPID(tag); !ok || pid != cmd.Process.Pid || errTag != "" {
				t.Errorf("%s: marker tags %q and %q, want the supervisor's pid %d on stdout only", shell, tag, errTag, cmd.Process.Pid)
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
		name, in, want, tag string
		found               bool
	}{
		{"marker only", m + "\n", "", "", true},
		{"marker with pid", m + " 4242\nout\n", "out\n", " 4242", true},
		{"noise before", "Welcome\n" + m + "\nout\n", "out\n", "", true},
		{"noise without newline", "motd" + m + "\nout", "out", "", true},
		{"marker repeated by the command", m + "\n" + m + "\n", m + "\n", "", true},
		{"longer word is not the marker", m + "5\n" + m + " 7\nout", "out", " 7", true},
		{"no marker: shell never ran the command", "This account is currently not available.\n", "This account is currently not available.\n", "", false},
		{"marker without its newline is not a marker", m, m, "", false},
		{"empty", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, tag, found := stripMarker([]byte(tt.in), m)
			if string(got) != tt.want || tag != tt.tag || found != tt.found {
				t.Errorf("stripMarker(%q) = %q, %q, %v; want %q, %q, %v", tt.in, got, tag, found, tt.want, tt.tag, tt.found)
			}
		})
	}
}

func TestSupervisorPID(t *testing.T) {
	for tag, want := range map[string]int{" 4242": 4242, "": 0, " ": 0, " 1": 0, " -5": 0, "4242": 0, " 12x": 0} {
		if got, ok := supervisorPID(tag); got != want && ok || ok != (want != 0) {
			t.Errorf("supervisorPID(%q) = %d, %v; want %d", tag, got, ok, want)
		}
	}
}

// stripMarker parses untrusted remote output: it must never panic, and what it returns is
// always a suffix of its input that follows a marker line.
func FuzzStripMarker(f *testing.F) {
	m := newMarker()
	f.Add([]byte("noise\n"+m+" 12\nout\n"), m)
	f.Add([]byte(m), m)
	f.Add([]byte(""), "")
	f.Add([]byte("\n\n"), "\n")
	f.Fuzz(func(t *testing.T, out []byte, marker string) {
		got, tag, found := stripMarker(out, marker)
		if !bytes.HasSuffix(out, got) {
			t.Fatalf("result %q is not a suffix of %q", got, out)
		}
		if !found {
			if !bytes.Equal(got, out) || tag != "" {
				t.Fatalf("no marker, but output changed")
			}
			return
		}
		head := string(out[:len(out)-len(got)])
		if !strings.HasSuffix(head, marker+tag+"\n") || strings.Contains(tag, "\n") || (tag != "" && tag[0] != ' ') {
			t.Fatalf("stripped %q with tag %q: not a marker line", head, tag)
		}
		supervisorPID(tag)
	})
}
