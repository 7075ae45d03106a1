package pvetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/remote"
)

var _ remote.Runner = (*Runner)(nil)

// recorder is a testing.TB whose failures are recorded rather than reported, so that the
// tests of the failures themselves can pass.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	cleanups []func()
	fatal    bool
}

func newRecorder(t *testing.T) *recorder { return &recorder{TB: t} }

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// runGoroutine runs f as a test body, where Fatalf may end it.
func (r *recorder) runGoroutine(f func()) {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	<-done
}

func (r *recorder) cleanup() {
	for _, f := range slices.Backward(r.cleanups) {
		f()
	}
}

func (r *recorder) hasError(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.errors, func(e string) bool { return strings.Contains(e, substr) })
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestReplyAndExitError(t *testing.T) {
	r := NewRunner(t, "pve1")
	r.On("cd / && pvecm status").Reply(Output{Stdout: "out", Stderr: "err"})
	r.On("cd / && pvecm add x").Reply(Output{Stdout: "so far", Stderr: "\nauth pw0rd failed\n", ExitCode: 255})

	res, err := r.Run(bounded(t), remote.Command{Line: "cd / && pvecm status"})
	if err != nil || string(res.Stdout) != "out" || string(res.Stderr) != "err" || res.ExitCode != 0 {
		t.Errorf("%+v %v", res, err)
	}
	res, err = r.Run(bounded(t), remote.Command{Line: "cd / && pvecm add x", Secrets: []string{"pw0rd", "x"}})
	var exitErr *remote.ExitError
	if !errors.As(err, &exitErr) || string(res.Stdout) != "so far" || res.ExitCode != 255 {
		t.Fatalf("%+v %v", res, err)
	}
	want := remote.ExitError{Host: "pve1", Cmd: "cd / && pvecm add ***", Code: 255, Stderr: "auth *** failed"}
	if *exitErr != want {
		t.Errorf("exit error %+v, want %+v", *exitErr, want)
	}
	if r.Host() != "pve1" {
		t.Errorf("host %q", r.Host())
	}
}

func TestReplyGoldenAndFail(t *testing.T) {
	r := NewRunner(t, "pve1")
	r.On("cd / && pvecm status").ReplyGolden("pvecm-status-quorate.txt")
	r.On("cd / && pvecm add x").Reply(Output{Stdout: "waiting for quorum..."}).Fail(remote.ErrTimeout)

	res, err := r.Run(bounded(t), remote.Command{Line: "cd / && pvecm status"})
	if err != nil || string(res.Stdout) != Golden(t, "pvecm-status-quorate.txt").Stdout {
		t.Errorf("%q %v", res.Stdout, err)
	}
	res, err = r.Run(bounded(t), remote.Command{Line: "cd / && pvecm add x"})
	if !errors.Is(err, remote.ErrTimeout) || string(res.Stdout) != "waiting for quorum..." {
		t.Errorf("%q %v", res.Stdout, err)
	}
}

func TestUnexpectedCommandFailsTheTest(t *testing.T) {
	rec := newRecorder(t)
	r := NewRunner(rec, "pve1")
	r.On("cd / && pvecm status")
	r.OnPrefix("cd / && pvecm add ").AnyTimes()
	_, err := r.Run(bounded(t), remote.Command{Line: "cd / && pvecm delnode pve3"})
	if err == nil || len(rec.errors) != 1 || rec.errors[0] != err.Error() {
		t.Fatalf("error %v, recorded %q", err, rec.errors)
	}
	for _, want := range []string{
		`pvetest: pve1: unexpected command "cd / && pvecm delnode pve3"; expected:`,
		`"cd / && pvecm status" (answered 0 of 1)`,
		`prefix "cd / && pvecm add " (answered 0 of any)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	_, err = NewRunner(rec, "pve2").Run(bounded(t), remote.Command{Line: "true"})
	if err == nil || !strings.HasSuffix(err.Error(), "expected: nothing") {
		t.Errorf("error %v", err)
	}
}

func TestRunWithoutDeadlineFailsTheTest(t *testing.T) {
	rec := newRecorder(t)
	r := NewRunner(rec, "pve1")
	r.On("cd / && pvecm status").AnyTimes()
	_, err := r.Run(context.Background(), remote.Command{Line: "cd / && pvecm status", Timeout: time.Second})
	if err == nil || !rec.hasError(`pvetest: pve1: "cd / && pvecm status" run without a deadline`) {
		t.Errorf("error %v, recorded %q", err, rec.errors)
	}
	if len(r.Calls()) != 1 {
		t.Errorf("a refused call must be recorded too: %v", r.Calls())
	}
}

func TestCancelledContextConsumesNothing(t *testing.T) {
	r := NewRunner(t, "pve1")
	r.On("true")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cancel()
	if _, err := r.Run(ctx, remote.Command{Line: "true"}); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v", err)
	}
	if _, err := r.Run(bounded(t), remote.Command{Line: "true"}); err != nil {
		t.Errorf("error %v", err)
	}
}

func TestAnswersAreUsedUpInOrder(t *testing.T) {
	rec := newRecorder(t)
	r := NewRunner(rec, "pve1")
	r.On("cd / && pvecm status").Times(2).Reply(Output{Stdout: "not yet"})
	r.On("cd / && pvecm status").Reply(Output{Stdout: "quorate"})
	r.On("once")
	var got []string
	for range 3 {
		res, err := r.Run(bounded(t), remote.Command{Line: "cd / && pvecm status"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(res.Stdout))
	}
	if strings.Join(got, ",") != "not yet,not yet,quorate" {
		t.Errorf("answers %q", got)
	}
	r.Run(bounded(t), remote.Command{Line: "once"})
	if len(rec.errors) != 0 {
		t.Fatalf("recorded %q", rec.errors)
	}
	for _, line := range []string{"cd / && pvecm status", "once"} {
		if _, err := r.Run(bounded(t), remote.Command{Line: line}); err == nil {
			t.Errorf("%q answered once too often", line)
		}
	}
	if !rec.hasError(`"once" (answered 1 of 1)`) || !rec.hasError(`"cd / && pvecm status" (answered 2 of 2)`) {
		t.Errorf("recorded %q", rec.errors)
	}
}

func TestPrefixRegexpAndAnyTimes(t *testing.T) {
	r := NewRunner(t, "pve1")
	r.OnPrefix("cd / && pvecm add ").Reply(Output{Stdout: "add"})
	r.OnRegexp(`^cd / && pvecm delnode pve\d+$`).AnyTimes().Reply(Output{Stdout: "del"})
	for _, tt := range []struct{ line, out string }{
		{"cd / && pvecm add 198.51.100.11 --fingerprint AA", "add"},
		{"cd / && pvecm delnode pve3", "del"},
		{"cd / && pvecm delnode pve4", "del"},
		{"cd / && pvecm delnode pve3", "del"},
	} {
		res, err := r.Run(bounded(t), remote.Command{Line: tt.line})
		if err != nil || string(res.Stdout) != tt.out {
			t.Errorf("%q: %q %v", tt.line, res.Stdout, err)
		}
	}
}

func TestWantStdinAndSecrets(t *testing.T) {
	rec := newRecorder(t)
	r := NewRunner(rec, "pve1")
	r.On("add").Times(3).WantStdin("pw\n").WantSecrets("pw", "tok")
	r.On("plain").WantSecrets()
	ok := remote.Command{Line: "add", Stdin: []byte("pw\n"), Secrets: []string{"tok", "pw"}}
	if _, err := r.Run(bounded(t), ok); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(bounded(t), remote.Command{Line: "add", Stdin: []byte("pw"), Secrets: ok.Secrets}); err == nil {
		t.Error("wrong stdin accepted")
	}
	if _, err := r.Run(bounded(t), remote.Command{Line: "add", Stdin: ok.Stdin, Secrets: []string{"pw"}}); err == nil {
		t.Error("missing secret accepted")
	}
	if _, err := r.Run(bounded(t), remote.Command{Line: "plain", Secrets: []string{"pw"}}); err == nil {
		t.Error("unwanted secret accepted")
	}
	if len(rec.errors) != 3 || !rec.hasError(`"add": stdin "pw", want "pw\n"`) ||
		!rec.hasError(`"add": secrets ["pw"], want ["pw" "tok"]`) || !rec.hasError(`"plain": secrets ["pw"], want []`) {
		t.Errorf("recorded %q", rec.errors)
	}
}

func TestRequiredExpectationsAreCheckedAtCleanup(t *testing.T) {
	rec := newRecorder(t)
	r := NewRunner(rec, "pve1")
	r.On("optional")
	r.On("never").Required()
	r.On("twice").Times(2).Required()
	r.On("polled").AnyTimes().Required()
	r.On("polled enough").AnyTimes().Required()
	for _, line := range []string{"twice", "polled enough", "polled enough"} {
		r.Run(bounded(t), remote.Command{Line: line})
	}
	rec.cleanup()
	want := []string{
		`pvetest: pve1: required but not used up: "never" (answered 0 of 1)`,
		`pvetest: pve1: required but not used up: "twice" (answered 1 of 2)`,
		`pvetest: pve1: required but not used up: "polled" (answered 0 of any)`,
	}
	if !slices.Equal(rec.errors, want) {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(rec.errors, "\n"), strings.Join(want, "\n"))
	}
}

func TestConcurrentRunsAreAllRecorded(t *testing.T) {
	r := NewRunner(t, "pve1")
	r.OnPrefix("echo ").AnyTimes()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			stdin := []byte("in")
			if _, err := r.Run(bounded(t), remote.Command{Line: fmt.Sprint("echo ", i), Stdin: stdin}); err != nil {
				t.Error(err)
			}
			stdin[0] = 'X' // the caller's buffer is its own again
		})
		if i == 25 {
			r.On("late").AnyTimes() // declaring while commands run
		}
	}
	wg.Wait()
	calls := r.Calls()
	lines := r.Lines()
	if len(calls) != 50 || len(lines) != 50 {
		t.Fatalf("%d calls, %d lines", len(calls), len(lines))
	}
	for i, c := range calls {
		if string(c.Stdin) != "in" || lines[i] != c.Line {
			t.Errorf("call %d: %q %q", i, c.Line, c.Stdin)
		}
	}
	slices.Sort(lines)
	if lines = slices.Compact(lines); len(lines) != 50 {
		t.Errorf("%d distinct lines", len(lines))
	}
}
