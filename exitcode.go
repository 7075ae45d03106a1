package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// The exit codes are part of quorate's interface: scripts branch on them. README.md lists them.
const (
	exitOK          = 0
	exitFailed      = 1 // the operation failed
	exitUsage       = 2 // bad usage or a bad cluster file
	exitPreflight   = 3 // preflight found errors
	exitNotQuorate  = 4 // the cluster did not become quorate in time
	exitInterrupted = 130
)

// exitError carries the exit code an error should end the process with, so that the mapping
// from failure to code is decided where the failure is understood, not by matching text.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageErrorf reports a command line that cannot be run as given.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: &usageError{msg: fmt.Sprintf(format, args...)}}
}

// usageError marks errors after which the user is pointed at --help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// interruptedError is the cause of the run's context when a signal ended it.
type interruptedError struct{ sig os.Signal }

func (e *interruptedError) Error() string { return "interrupted by " + e.sig.String() }

// logPathError remembers where the log of a failed run is, to be printed after the error.
type logPathError struct {
	err  error
	path string
}

func (e *logPathError) Error() string { return e.err.Error() }
func (e *logPathError) Unwrap() error { return e.err }

// exitCodeOf picks the code for how the run ended. An interruption wins over whatever error
// the cancelled work returned, since that error is only its consequence.
func exitCodeOf(ctx context.Context, err error) int {
	var interrupted *interruptedError
	if errors.As(context.Cause(ctx), &interrupted) || errors.As(err, &interrupted) {
		return exitInterrupted
	}
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFailed
}
