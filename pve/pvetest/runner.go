package pvetest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quorate/quorate/remote"
)

// Runner is a remote.Runner (and so a pve.Runner) for one host that answers only what the
// test declared. Anything else fails the test rather than returning an empty answer, so that
// no test passes by accident on a command nobody looked at. It is safe for concurrent use,
// because the code under test fans out over hosts.
type Runner struct {
	t    testing.TB
	host string

	mu    sync.Mutex
	exps  []*Expectation
	calls []remote.Command
}

// NewRunner returns a Runner for host that reports to t, and at t's cleanup reports the
// Required expectations that were not used up.
func NewRunner(t testing.TB, host string) *Runner {
	r := &Runner{t: t, host: host}
	t.Cleanup(r.checkRequired)
	return r
}

// Expectation is one declared command and its answer. It answers once unless told otherwise,
// so that a repeated step shows up as an unexpected command. Expectations are tried in the
// order declared: declaring the same line again queues its next answer.
type Expectation struct {
	r           *Runner
	desc        string
	match       func(string) bool
	out         Output
	err         error
	times, used int // times < 0: no limit
	required    bool
	stdin       *string
	secrets     *[]string
}

// On expects the line exactly as sent (pve.Node starts its lines with "cd / && ").
func (r *Runner) On(line string) *Expectation {
	return r.on(fmt.Sprintf("%q", line), func(s string) bool { return s == line })
}

// OnPrefix expects any line starting with prefix, for lines whose tail the test leaves to
// others.
func (r *Runner) OnPrefix(prefix string) *Expectation {
	return r.on(fmt.Sprintf("prefix %q", prefix), func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// OnRegexp expects any line expr matches (unanchored); a bad expr is the test's bug and panics.
func (r *Runner) OnRegexp(expr string) *Expectation {
	return r.on(fmt.Sprintf("regexp %q", expr), regexp.MustCompile(expr).MatchString)
}

func (r *Runner) on(desc string, match func(string) bool) *Expectation {
	e := &Expectation{r: r, desc: desc, match: match, times: 1}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exps = append(r.exps, e)
	return e
}

// set changes e under the runner's lock, so that a test may declare while commands run.
func (e *Expectation) set(f func()) *Expectation {
	e.r.mu.Lock()
	defer e.r.mu.Unlock()
	f()
	return e
}

// Reply sets what the command prints and how it exits; a non-zero exit comes back as a
// *remote.ExitError, as from remote. Without Reply the command prints nothing and exits 0.
func (e *Expectation) Reply(o Output) *Expectation { return e.set(func() { e.out = o }) }

// ReplyGolden replies with the golden pve/testdata/name, exiting 0.
func (e *Expectation) ReplyGolden(name string) *Expectation {
	e.r.t.Helper()
	return e.Reply(Golden(e.r.t, name))
}

// Fail makes the command fail as transport failures do (remote.ErrUnreachable,
// remote.ErrTimeout): err comes back as given, with the Reply's output as far as it got.
func (e *Expectation) Fail(err error) *Expectation { return e.set(func() { e.err = err }) }

// Times lets the expectation answer n times instead of once.
func (e *Expectation) Times(n int) *Expectation { return e.set(func() { e.times = n }) }

// AnyTimes lets the expectation answer without limit, for commands that are polled.
func (e *Expectation) AnyTimes() *Expectation { return e.Times(-1) }

// Required fails the test at its cleanup if the expectation answered fewer than its Times
// (with AnyTimes, never): for the commands that are the point of the test.
func (e *Expectation) Required() *Expectation { return e.set(func() { e.required = true }) }

// WantStdin fails the test unless the command's stdin is exactly stdin: passwords and
// scripts go there, never on the command line.
func (e *Expectation) WantStdin(stdin string) *Expectation { return e.set(func() { e.stdin = &stdin }) }

// WantSecrets fails the test unless the command's Secrets are these, in any order (with none:
// unless it has none). A secret left out of Secrets is one remote would log.
func (e *Expectation) WantSecrets(secrets ...string) *Expectation {
	return e.set(func() { e.secrets = &secrets })
}

func (e *Expectation) String() string {
	limit := fmt.Sprint(e.times)
	if e.times < 0 {
		limit = "any"
	}
	return fmt.Sprintf("%s (answered %d of %s)", e.desc, e.used, limit)
}

// Host is the host given to NewRunner.
func (r *Runner) Host() string { return r.host }

// Run answers cmd from the first expectation that matches it and is not used up. It refuses a
// context without a deadline: every remote operation in quorate has one, since without one a
// real host that hangs hangs quorate.
func (r *Runner) Run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd.Stdin, cmd.Secrets = bytes.Clone(cmd.Stdin), slices.Clone(cmd.Secrets)
	r.calls = append(r.calls, cmd)
	if _, ok := ctx.Deadline(); !ok {
		return r.fail("%q run without a deadline", cmd.Line)
	}
	if err := ctx.Err(); err != nil {
		return remote.Result{}, fmt.Errorf("%q: %w", cmd.Line, err)
	}
	i := slices.IndexFunc(r.exps, func(e *Expectation) bool {
		return e.match(cmd.Line) && (e.times < 0 || e.used < e.times)
	})
	if i < 0 {
		var want strings.Builder
		for _, e := range r.exps {
			want.WriteString("\n  " + e.String())
		}
		return r.fail("unexpected command %q; expected:%s", cmd.Line, cmp.Or(want.String(), " nothing"))
	}
	e := r.exps[i]
	e.used++
	if e.stdin != nil && string(cmd.Stdin) != *e.stdin {
		return r.fail("%q: stdin %q, want %q", cmd.Line, cmd.Stdin, *e.stdin)
	}
	if e.secrets != nil && !slices.Equal(sorted(cmd.Secrets), sorted(*e.secrets)) {
		return r.fail("%q: secrets %q, want %q", cmd.Line, cmd.Secrets, *e.secrets)
	}
	res := remote.Result{Stdout: []byte(e.out.Stdout), Stderr: []byte(e.out.Stderr), ExitCode: e.out.ExitCode}
	switch {
	case e.err != nil:
		return res, e.err
	case res.ExitCode != 0:
		return res, &remote.ExitError{Host: r.host, Cmd: remote.Redact(cmd.Line, cmd.Secrets), Code: res.ExitCode,
			Stderr: strings.TrimSpace(remote.Redact(e.out.Stderr, cmd.Secrets))}
	}
	return res, nil
}

// fail reports to both the test and the code under test: the test must fail even if the code
// swallows the error, and the code must not go on as if the command had worked.
func (r *Runner) fail(format string, args ...any) (remote.Result, error) {
	r.t.Helper()
	err := fmt.Errorf("pvetest: %s: "+format, append([]any{r.host}, args...)...)
	r.t.Errorf("%v", err)
	return remote.Result{}, err
}

// Calls are the commands Run was given, in order, the refused ones too.
func (r *Runner) Calls() []remote.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Lines are the command lines of Calls, which is what most tests compare.
func (r *Runner) Lines() []string {
	var lines []string
	for _, c := range r.Calls() {
		lines = append(lines, c.Line)
	}
	return lines
}

func (r *Runner) checkRequired() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.exps {
		if e.required && (e.used == 0 || e.used < e.times) {
			r.t.Errorf("pvetest: %s: required but not used up: %s", r.host, e)
		}
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
