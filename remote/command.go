package remote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Command is one remote command. Line is interpreted by a POSIX sh on the remote host (with
// LC_ALL=C) exactly as given; callers quote their own arguments (see Quote).
type Command struct {
	Line string
	// Stdin, when not nil, is written to the command's standard input, which is then closed.
	// When nil the command's stdin is closed at once (it reads EOF).
	Stdin []byte
	// Timeout bounds the command; zero means the caller's context alone bounds it. On expiry
	// the command's processes are stopped (SIGTERM, SIGKILL a second later) and Run returns
	// within a second.
	Timeout time.Duration
	// Secrets are replaced by "***" wherever the command, its output or its errors are logged
	// or reported. Anything sent on Stdin that is secret must be listed here.
	Secrets []string
}

// Result is what a command left behind. It is filled even when Run returns an error, as far as
// the command got.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
}

// Runner runs commands on one host. *Client satisfies it; tests of upper layers use fakes.
type Runner interface {
	// Host is the name the host is known by in logs and errors.
	Host() string
	// Run runs cmd. A command that ran and exited non-zero returns its Result and an
	// *ExitError; a command that could not run or did not finish returns another error.
	Run(ctx context.Context, cmd Command) (Result, error)
}

// ExitError reports a command that ran to completion with a non-zero exit status.
type ExitError struct {
	Host   string
	Cmd    string // already redacted
	Code   int
	Stderr string // already redacted, trimmed
}

// Error leaves Host out, as every error of this package does: the caller names the host once.
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%q exited with status %d", e.Cmd, e.Code)
	if e.Stderr != "" {
		msg += ": " + lastLines(e.Stderr, 3)
	}
	return msg
}

// Error is a failure of one operation on one host other than a non-zero exit. Its text leaves
// Host out: the layer that fans out over hosts names each one once, by the name it knows it by
// (a PVE node name, say), so that no message reads "host: step: host: ...".
type Error struct {
	Host string // the host as given to Dial
	// Addr is the address:port Dial connected to, when it got that far; left out of the text
	// too, for the caller to add where it differs from how it names the host.
	Addr string
	Op   string // what was attempted: a quoted, redacted command line, "upload PATH", ...; "" for Dial
	Err  error
}

func (e *Error) Error() string {
	if e.Op == "" {
		return e.Err.Error()
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTimeout is wrapped by Run's error when the command's own Timeout expired.
var ErrTimeout = errors.New("command timed out")

// ErrOutputTooLarge is wrapped by Run's error when a command that exited 0 wrote more than
// Config.MaxOutput bytes to stdout or stderr; Result holds the first MaxOutput bytes.
var ErrOutputTooLarge = errors.New("command output too large")

// Dial failures are classified with these sentinels; test with errors.Is.
var (
	ErrUnreachable    = errors.New("host unreachable")
	ErrAuth           = errors.New("authentication failed")
	ErrHostKeyUnknown = errors.New("host key unknown")
	ErrHostKeyChanged = errors.New("host key changed")
)

// Redact replaces every non-empty secret in s by "***". Longer secrets go first, so that a
// secret that contains another is not left half visible.
func Redact(s string, secrets []string) string {
	if len(secrets) > 1 {
		secrets = slices.Clone(secrets)
		slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// Quote makes s one word for a POSIX shell.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
