// Command quorate builds Proxmox VE clusters over SSH, one verified step at a time.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it owns signal handling, runs the app and turns its
// outcome into an exit code and a last word on stderr.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		if sig, ok := <-signals; ok {
			// Only the first signal is ours; a second one gets the default, so a user can
			// still stop a run whose cleanup hangs.
			signal.Stop(signals)
			cancel(&interruptedError{sig: sig})
		}
	}()
	defer signal.Stop(signals)

	err := newApp(stdin, stdout, stderr).RunContext(ctx, args)
	code := exitCodeOf(ctx, err)
	reportFailure(ctx, stderr, err, code)
	return code
}

func reportFailure(ctx context.Context, stderr io.Writer, err error, code int) {
	if code == exitOK {
		return
	}
	switch {
	case code == exitInterrupted:
		fmt.Fprintln(stderr, "quorate: interrupted")
	case err != nil:
		fmt.Fprintf(stderr, "quorate: %v\n", err)
	}
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(stderr, "Run 'quorate --help' for usage.")
	}
	var logged *logPathError
	if errors.As(err, &logged) {
		fmt.Fprintf(stderr, "The log of this run is %s\n", logged.path)
	}
}
