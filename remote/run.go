package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// A timed-out command gets SIGTERM; Run waits termGrace for it to end, then returns. In the
// background, a command still running killAfter later gets SIGKILL, then the session is
// closed. (The supervisor of output.go already SIGKILLs the command's process group one
// second after SIGTERM; the SIGKILL here is for when it could not, e.g. it was not running
// yet.) Signal and Close write to the connection, which may be the thing that is stuck:
// Run must not wait for them.
const (
	termGrace = 500 * time.Millisecond
	killAfter = 2 * time.Second
)

// Run implements Runner. It opens a session on the shared connection, runs cmd.Line with a
// POSIX sh (LC_ALL=C), writes cmd.Stdin and closes it, and waits for the exit status. On the
// deadline of ctx or cmd.Timeout the command's processes get SIGTERM, and SIGKILL a second
// later, and Run returns within half a second, wrapping ErrTimeout (cmd.Timeout) or
// ctx.Err(), with the output so far.
func (c *Client) Run(ctx context.Context, cmd Command) (Result, error) {
	start := time.Now()
	redacted := Redact(cmd.Line, cmd.Secrets)
	res, err := c.run(ctx, cmd, redacted)
	res.Duration = time.Since(start)
	c.logCommand(ctx, cmd, redacted, res, err)
	return res, err
}

func (c *Client) run(ctx context.Context, cmd Command, redacted string) (Result, error) {
	res := Result{ExitCode: -1}
	timeoutCtx := ctx
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		timeoutCtx, cancel = context.WithTimeoutCause(ctx, cmd.Timeout, ErrTimeout)
		defer cancel()
	}
	fail := func(what string, err error) (Result, error) {
		return res, &Error{Host: c.host, Op: strconv.Quote(redacted), Err: fmt.Errorf("%s: %w", what, redactErr(err, cmd.Secrets))}
	}
	release, err := c.acquire(timeoutCtx)
	if err != nil {
		return fail("waiting for a session", deadlineCause(timeoutCtx, err))
	}
	defer release()
	sess, err := c.conn.NewSession()
	if err != nil {
		return fail("opening a session", err)
	}
	closeInBackground := false
	defer func() {
		if !closeInBackground {
			sess.Close()
		}
	}()

	marker := newMarker()
	stdout, stderr := syncBuffer{limit: c.maxOutput}, syncBuffer{limit: c.maxOutput}
	sess.Stdin = bytes.NewReader(cmd.Stdin) // nil Stdin reads as empty: EOF at once
	sess.Stdout = &stdout
	sess.Stderr = &stderr
	if err := sess.Start(wrapLine(marker, cmd.Line)); err != nil {
		return fail("starting", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()

	var waitErr error
	select {
	case waitErr = <-waited:
	case <-timeoutCtx.Done():
		closeInBackground = true // stopRemote closes it; a stuck connection must not hold Run
		exited := c.stopRemote(sess, waited, marker, &stdout)
		res.Stdout, _, _ = stripMarker(stdout.Bytes(), marker)
		res.Stderr, _, _ = stripMarker(stderr.Bytes(), marker)
		how := "signalled, still ending"
		if exited {
			how = "terminated"
		}
		return fail("deadline reached, remote command "+how, deadlineCause(timeoutCtx, timeoutCtx.Err()))
	}

	res, err = c.outcome(cmd, redacted, stdout.Bytes(), stderr.Bytes(), marker, waitErr)
	if dropped := stdout.Dropped() + stderr.Dropped(); err == nil && dropped > 0 {
		err = &Error{Host: c.host, Op: strconv.Quote(redacted), Err: fmt.Errorf("output beyond %d bytes per stream discarded (%d bytes): %w",
			c.maxOutput, dropped, ErrOutputTooLarge)}
	}
	return res, err
}

// outcome turns what a finished session left into Run's result and error.
func (c *Client) outcome(cmd Command, redacted string, stdout, stderr []byte, marker string, waitErr error) (Result, error) {
	var res Result
	var startedOut, startedErr bool
	res.Stdout, _, startedOut = stripMarker(stdout, marker)
	res.Stderr, _, startedErr = stripMarker(stderr, marker)
	var exitErr *ssh.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		res.ExitCode = exitErr.ExitStatus()
	default:
		res.ExitCode = -1
		return res, &Error{Host: c.host, Op: strconv.Quote(redacted), Err: fmt.Errorf("waiting for its end: %w", redactErr(waitErr, cmd.Secrets))}
	}
	if !startedOut || !startedErr {
		// The login shell gave up before running anything (nologin, a broken .bashrc).
		return res, &Error{Host: c.host, Op: strconv.Quote(redacted), Err: fmt.Errorf("the remote login shell did not run the command (exit status %d): %s",
			res.ExitCode, lastLines(Redact(string(res.Stdout)+string(res.Stderr), cmd.Secrets), 3))}
	}
	if res.ExitCode != 0 {
		return res, &ExitError{Host: c.host, Cmd: redacted, Code: res.ExitCode,
			Stderr: strings.TrimSpace(Redact(string(res.Stderr), cmd.Secrets))}
	}
	return res, nil
}

// stopRemote stops a timed-out command (see termGrace) and reports whether it ended
// within termGrace. SIGTERM goes to the supervisor twice over: as an SSH "signal" request,
// which sshd honours for other users than root, and by a kill command in a session of its
// own, which works for root too.
func (c *Client) stopRemote(sess *ssh.Session, waited <-chan error, marker string, stdout *syncBuffer) bool {
	ended := make(chan struct{})
	c.stopping.Add(1)
	go func() {
		defer c.stopping.Done()
		defer sess.Close()
		sess.Signal(ssh.SIGTERM)
		// The supervisor's pid comes with the marker, which may still be on its way. If it
		// never comes, the supervisor had not started: when it does, its first write meets
		// the closed session and SIGPIPE ends it before it runs the line.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		giveUp := time.After(killAfter)
		killSent := false
		for {
			if _, tag, ok := stripMarker(stdout.Bytes(), marker); ok && !killSent {
				if pid, ok := supervisorPID(tag); ok {
					killSent = true
					c.stopping.Add(1)
					go func() { defer c.stopping.Done(); c.sendKill(killLine(marker, pid)) }()
				}
			}
			select {
			case <-waited:
				close(ended)
				return
			case <-giveUp:
				sess.Signal(ssh.SIGKILL)
				return
			case <-tick.C:
			}
		}
	}()
	select {
	case <-ended:
		return true
	case <-time.After(termGrace):
		return false
	}
}

// sendKill runs line in a session of its own. It does not wait for a MaxSessions slot (the
// slots may all be taken by commands that are timing out; sshd allows a few more sessions
// than quorate uses) and gives up after killAfter.
func (c *Client) sendKill(line string) {
	sess, err := c.conn.NewSession()
	if err != nil {
		c.log.Warn("stopping a timed-out command", "error", err)
		return
	}
	defer sess.Close()
	done := make(chan error, 1)
	go func() { done <- sess.Run(line) }()
	select {
	case err := <-done:
		if err != nil {
			c.log.Debug("stopping a timed-out command: it had already ended", "error", err)
		}
	case <-time.After(killAfter):
		c.log.Warn("stopping a timed-out command: no answer to the kill command")
	}
}

// deadlineCause prefers ErrTimeout when the command's own Timeout fired, keeping ctx's error.
func deadlineCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrTimeout) {
		return fmt.Errorf("%w (%w)", ErrTimeout, err)
	}
	return err
}

// redactErr hides secrets in an error's text; errors.Is still sees through it.
func redactErr(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := Redact(msg, secrets); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (c *Client) logCommand(ctx context.Context, cmd Command, redacted string, res Result, err error) {
	attrs := []slog.Attr{
		slog.String("cmd", redacted),
		slog.Int("exit", res.ExitCode),
		slog.Duration("duration", res.Duration.Round(time.Millisecond)),
	}
	if len(cmd.Stdin) > 0 {
		attrs = append(attrs, slog.Int("stdin_bytes", len(cmd.Stdin)))
	}
	level := slog.LevelInfo
	if err != nil {
		var exitErr *ExitError
		if !errors.As(err, &exitErr) {
			level = slog.LevelWarn
		}
		attrs = append(attrs, slog.String("error", Redact(err.Error(), cmd.Secrets)))
		if tail := strings.TrimSpace(string(res.Stderr)); tail != "" {
			attrs = append(attrs, slog.String("stderr", lastLines(Redact(tail, cmd.Secrets), 5)))
		}
	}
	c.log.LogAttrs(ctx, level, "remote command", attrs...)
}

// syncBuffer is written by the session's copying goroutines and read by Run, possibly while
// a timed-out command is still writing. Past limit bytes it keeps counting and discards, so
// that a runaway command cannot exhaust quorate's memory (nor block on a full pipe).
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	dropped int64
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - b.buf.Len()
	if room >= len(p) {
		return b.buf.Write(p)
	}
	room = max(room, 0)
	b.buf.Write(p[:room])
	b.dropped += int64(len(p) - room)
	return len(p), nil
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}
