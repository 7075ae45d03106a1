// Package pvetest lets the tests of every layer above remote talk to a Proxmox VE node that
// is not there, answering with the real outputs of pve/testdata so that no test invents what
// Proxmox prints. It does not import pve, so that pve's own tests can use it too.
package pvetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Output is what a command leaves behind, as a test wants to write it: text, not bytes.
type Output struct {
	Stdout, Stderr string
	ExitCode       int
	// Source is a golden's "# source: " line (without that prefix): where in
	// docs/pve.md the output comes from. Empty for output written in a test.
	Source string
}

// WithExit returns o exiting with code, for the goldens whose exit status matters (the file
// format records output only).
func (o Output) WithExit(code int) Output {
	o.ExitCode = code
	return o
}

// testdata is found from this file's path rather than the working directory, which is the
// directory of whichever package's test is running.
var testdata = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}()

// Golden reads pve/testdata/name. Its first line names its source; the rest is stdout, or,
// when it starts with a "--- stdout" line, stdout up to a "--- stderr" line and stderr after
// it. A missing or malformed golden fails the test at once: nothing useful can follow.
func Golden(t testing.TB, name string) Output {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, name))
	if err == nil {
		var o Output
		if o, err = parseGolden(string(data)); err == nil {
			return o
		}
	}
	t.Fatalf("pvetest: golden %s: %v", name, err)
	return Output{}
}

func parseGolden(data string) (Output, error) {
	first, body, _ := strings.Cut(data, "\n")
	src, ok := strings.CutPrefix(first, "# source: ")
	if !ok {
		return Output{}, fmt.Errorf("first line must name its source, got %q", first)
	}
	o := Output{Source: src, Stdout: body}
	if rest, ok := strings.CutPrefix(body, "--- stdout\n"); ok {
		if o.Stdout, o.Stderr, ok = strings.Cut(rest, "--- stderr\n"); !ok {
			return Output{}, fmt.Errorf("--- stdout without --- stderr")
		}
	}
	return o, nil
}
