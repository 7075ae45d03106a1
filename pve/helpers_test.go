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

// golden is one file of testdata/: its first line names its source in docs/pve.md; the
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
	for _, bad := range []string{"assembled", "corosync-ish output", "nonexistent", "docs/pve.md", "§", "pve-behaviour.md §2.5a"} {
		if namesItsSource(bad) {
			t.Errorf("source %q accepted as naming a section", bad)
		}
	}
}

// namesItsSource: a section of docs/pve.md, a file of corosync's tree where docs/pve.md has
// no transcript, quorate's own format, or an explicit "none".
var sourceRe = regexp.MustCompile(`^docs/pve\.md (§\d|none: )|^corosync (tools|man|exec)/|^quorate's own `)

func namesItsSource(src string) bool { return sourceRe.MatchString(src) }

// TestGoldenSectionsExist: each section a golden cites (§2.5a, §2.2 of "§2.2 step 9") is a
// numbered heading of docs/pve.md.
func TestGoldenSectionsExist(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "pve.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := docSections(string(doc))
	for _, want := range []string{"0", "0.1", "1.4", "2.5a", "6.4", "11"} {
		if !sections[want] {
			t.Fatalf("docs/pve.md has no heading §%s; found %d numbered headings", want, len(sections))
		}
	}
	names, _ := filepath.Glob("testdata/*.*")
	for _, n := range names {
		g := readGolden(t, filepath.Base(n))
		for _, m := range citedSectionRe.FindAllStringSubmatch(g.Source, -1) {
			if !sections[m[1]] {
				t.Errorf("%s: cites §%s, which is no heading of docs/pve.md", n, m[1])
			}
		}
	}
}

var (
	citedSectionRe = regexp.MustCompile(`§(\d+(?:\.\d+)?[a-z]?)`)
	// headingRe is a numbered heading: "## 0. The facts ...", "### 1.4 ...", "#### 2.5a ...".
	headingRe = regexp.MustCompile(`^#{2,4} (\d+(?:\.\d+)?[a-z]?)\.? `)
)

// docSections are the numbers of docs/pve.md's headings, code blocks skipped.
func docSections(doc string) map[string]bool {
	sections := map[string]bool{}
	inCode := false
	for _, l := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), "```"):
			inCode = !inCode
		case !inCode:
			if m := headingRe.FindStringSubmatch(l); m != nil {
				sections[m[1]] = true
			}
		}
	}
	return sections
}
