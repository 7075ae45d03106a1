package pve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/quorate/quorate/remote"
)

// golden is one file of testdata/: its first line names its source in pve-behaviour.md; the
// rest is the output, split into stdout and stderr when it has "--- stdout"/"--- stderr".
type golden struct {
	Source         string
	Stdout, Stderr string
}

func readGolden(t testing.TB, name string) golden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return parseGolden(t, name, string(data))
}

func parseGolden(t testing.TB, name, data string) golden {
	t.Helper()
	first, body, _ := strings.Cut(data, "\n")
	if !strings.HasPrefix(first, "# source: ") {
		t.Fatalf("%s: first line must name its source, got %q", name, first)
	}
	g := golden{Source: strings.TrimPrefix(first, "# source: ")}
	if rest, ok := strings.CutPrefix(body, "--- stdout\n"); ok {
		out, errText, found := strings.Cut(rest, "--- stderr\n")
		if !found {
			t.Fatalf("%s: --- stdout without --- stderr", name)
		}
		g.Stdout, g.Stderr = out, errText
		return g
	}
	g.Stdout = body
	return g
}

// allGoldens returns the contents (stdout then stderr) of every golden matching pattern, for
// fuzz seeds.
func allGoldens(t testing.TB, pattern string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		g := readGolden(t, filepath.Base(n))
		out = append(out, g.Stdout+g.Stderr)
	}
	return out
}

// fakeRunner answers commands by their exact line and records what was sent.
type fakeRunner struct {
	mu        sync.Mutex
	host      string
	responses map[string]fakeResponse
	calls     []remote.Command
}

type fakeResponse struct {
	stdout, stderr string
	code           int
	err            error // a transport error (not an exit status)
}

func newFake(responses map[string]fakeResponse) *fakeRunner {
	return &fakeRunner{host: "pve2", responses: responses}
}

func (f *fakeRunner) Host() string { return f.host }

func (f *fakeRunner) Run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, cmd)
	f.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok || cmd.Timeout <= 0 {
		return remote.Result{}, fmt.Errorf("fake: %q run without a deadline", cmd.Line)
	}
	r, ok := f.responses[cmd.Line]
	if !ok {
		return remote.Result{}, fmt.Errorf("fake: unexpected command %q", cmd.Line)
	}
	res := remote.Result{Stdout: []byte(r.stdout), Stderr: []byte(r.stderr), ExitCode: r.code}
	if r.err != nil {
		return res, r.err
	}
	if r.code != 0 {
		return res, &remote.ExitError{Host: f.host, Cmd: cmd.Line, Code: r.code, Stderr: strings.TrimSpace(r.stderr)}
	}
	return res, nil
}

func (f *fakeRunner) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.Line
	}
	return out
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestEveryGoldenNamesItsSource(t *testing.T) {
	names, _ := filepath.Glob("testdata/*.*")
	if len(names) < 40 {
		t.Fatalf("only %d golden files", len(names))
	}
	for _, n := range names {
		g := readGolden(t, filepath.Base(n))
		if !namesItsSource(g.Source) {
			t.Errorf("%s: source %q names no section", n, g.Source)
		}
	}
	for _, bad := range []string{"assembled", "corosync-ish output", "nonexistent", "pve-behaviour.md", "§"} {
		if namesItsSource(bad) {
			t.Errorf("source %q accepted as naming a section", bad)
		}
	}
}

// namesItsSource: a section of pve-behaviour.md, a file of corosync's tree where
// pve-behaviour.md has no transcript, quorate's own format, or an explicit "none".
var sourceRe = regexp.MustCompile(`^pve-behaviour\.md (§\d|none: )|^corosync (tools|man|exec)/|^quorate's own `)

func namesItsSource(src string) bool { return sourceRe.MatchString(src) }
