package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runQuorate runs the command line as the process would and returns what a user would see.
func runQuorate(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"quorate"}, args...), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestHelpListsTheCommands(t *testing.T) {
	out, _, code := runQuorate(t, "--help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, cmd := range []string{"validate", "version", "--config", "--output", "--log-file", "--verbose", "--yes", "--timeout"} {
		if !strings.Contains(out, cmd) {
			t.Errorf("--help does not mention %s:\n%s", cmd, out)
		}
	}
}

// The help lists the commands that exist, and only those, in the order of the command list.
func TestHelpListsExactlyTheExistingCommands(t *testing.T) {
	out, _, _ := runQuorate(t, "--help")
	section := out[strings.Index(out, "COMMANDS:")+len("COMMANDS:"):]
	section = section[:strings.Index(section, "GLOBAL OPTIONS:")]
	var listed []string
	for _, line := range strings.Split(section, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			listed = append(listed, strings.TrimSuffix(f[0], ","))
		}
	}
	var want []string
	for _, cmd := range newApp(strings.NewReader(""), io.Discard, io.Discard).Commands {
		if !cmd.Hidden {
			want = append(want, cmd.Name)
		}
	}
	if want = append(want, "help"); strings.Join(listed, " ") != strings.Join(want, " ") {
		t.Errorf("--help lists %q, want %q:\n%s", listed, want, out)
	}
}

// An unknown command is named, a close typo gets a suggestion, a far one none, and the
// commands that exist are listed.
func TestUnknownCommandSuggestsOnlyCloseOnes(t *testing.T) {
	for _, tt := range []struct{ arg, want, notWant string }{
		{"valdate", `did you mean "validate"?`, ""},
		{"version2", `did you mean "version"?`, ""},
		{"frobnicate", "(commands: init, ", "did you mean"},
		{"x", "(commands: init, ", "did you mean"},
	} {
		_, stderr, code := runQuorate(t, tt.arg)
		if code != exitUsage || !strings.Contains(stderr, `unknown command "`+tt.arg+`"`) || !strings.Contains(stderr, tt.want) ||
			(tt.notWant != "" && strings.Contains(stderr, tt.notWant)) {
			t.Errorf("%s: exit %d, stderr:\n%s", tt.arg, code, stderr)
		}
	}
}

func TestBadUsageExitsTwo(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"--no-such-flag", "version"},
		{"--output", "xml", "version"},
		{"--timeout", "0s", "version"},
		{"version", "extra"},
		{"validate", "--what"},
	} {
		_, stderr, code := runQuorate(t, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr:\n%s", args, code, exitUsage, stderr)
		}
		if !strings.Contains(stderr, "quorate --help") {
			t.Errorf("%q: stderr does not point at --help:\n%s", args, stderr)
		}
	}
}

func TestValidateAcceptsAGoodFile(t *testing.T) {
	out, stderr, code := runQuorate(t, "-c", "inventory/testdata/valid-issue.yaml", "validate")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(out, "homelab with 2 nodes is valid") {
		t.Errorf("stdout:\n%s", out)
	}
}

// Every problem goes to stdout with its file:line, and the exit code is 2.
func TestValidateReportsEveryProblem(t *testing.T) {
	golden, err := os.ReadFile("inventory/testdata/links.golden")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(string(golden), "testdata/", "inventory/testdata/")
	out, stderr, code := runQuorate(t, "--config", "inventory/testdata/links.yaml", "validate")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(stderr, "12 problems") {
		t.Errorf("stderr does not sum up the problems:\n%s", stderr)
	}
}

func TestValidateJSON(t *testing.T) {
	out, _, code := runQuorate(t, "--output", "json", "-c", "inventory/testdata/duplicates.yaml", "validate")
	if code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	var report struct {
		File     string
		Valid    bool
		Problems []struct {
			File, Path, Message string
			Line                int
		}
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if report.Valid || len(report.Problems) != 7 {
		t.Fatalf("report = %+v", report)
	}
	first := report.Problems[0]
	if first.Line != 3 || first.Path != "cluster.name" || first.File != "inventory/testdata/duplicates.yaml" {
		t.Errorf("first problem = %+v", first)
	}

	t.Setenv("PVE_NET", "198.51.100")
	out, _, code = runQuorate(t, "--output", "json", "-c", "inventory/testdata/valid-full.yaml", "validate")
	if code != exitOK || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"problems": []`) {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
}

func TestValidateMissingFile(t *testing.T) {
	_, stderr, code := runQuorate(t, "-c", filepath.Join(t.TempDir(), "nope.yaml"), "validate")
	if code != exitUsage || !strings.Contains(stderr, "quorate init") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// Values come from the environment, and an unset variable is a problem at its line.
func TestValidateExpandsEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	data := "cluster:\n  name: ${QUORATE_TEST_NAME}\nnodes:\n  - name: pve1\n    address: ${QUORATE_TEST_UNSET}\n"
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("QUORATE_TEST_NAME", "bad_name")
	out, _, code := runQuorate(t, "-c", file, "validate")
	if code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{file + `:2: cluster.name: "bad_name"`, file + ":5: nodes[0].address: environment variable QUORATE_TEST_UNSET is not set"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

// Global flags work before and after the command; after wins.
func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	out, stderr, code := runQuorate(t, "validate", "-c", "inventory/testdata/valid-issue.yaml", "--output", "json")
	if code != exitOK || !strings.Contains(out, `"valid": true`) {
		t.Errorf("after: exit %d\n%s%s", code, out, stderr)
	}
	out, _, code = runQuorate(t, "-c", "nope.yaml", "--output", "json", "validate", "-c", "inventory/testdata/valid-issue.yaml")
	if code != exitOK || !strings.Contains(out, `"valid": true`) {
		t.Errorf("both: exit %d\n%s", code, out)
	}
	_, _, code = runQuorate(t, "version", "--output", "yaml")
	if code != exitUsage {
		t.Errorf("bad --output after the command: exit %d", code)
	}
	out, _, _ = runQuorate(t, "validate", "--help")
	if strings.Contains(out, "--log-file") {
		t.Errorf("command help repeats the global flags:\n%s", out)
	}
}
