package pve

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quorate/quorate/pve/pvetest"
)

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
		g := pvetest.Golden(t, filepath.Base(n))
		out = append(out, g.Stdout+g.Stderr)
	}
	return out
}

// newRunner is pvetest's runner as pve's tests use it, plus what pve.Node promises beyond a
// deadline: each command carries its own Timeout, so that remote kills a hung process.
func newRunner(t *testing.T) *pvetest.Runner {
	r := pvetest.NewRunner(t, "pve2")
	t.Cleanup(func() {
		for _, c := range r.Calls() {
			if c.Timeout <= 0 {
				t.Errorf("%q sent without a Timeout", c.Line)
			}
		}
	})
	return r
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
		g := pvetest.Golden(t, filepath.Base(n))
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
		g := pvetest.Golden(t, filepath.Base(n))
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
