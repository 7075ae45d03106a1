package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"
)

// globalOptions are the global flags of one run, read once from the command line.
type globalOptions struct {
	configPath string
	json       bool
	logFile    string
	verbose    bool
	yes        bool
	timeout    time.Duration
}

func globalsFrom(c *cli.Context) globalOptions {
	return globalOptions{
		configPath: c.String("config"),
		json:       c.String("output") == "json",
		logFile:    c.String("log-file"),
		verbose:    c.Bool("verbose"),
		yes:        c.Bool("yes"),
		timeout:    c.Duration("timeout"),
	}
}

// errRunTimeout is the cause of the run's context when --timeout expired.
var errRunTimeout = errors.New("the run exceeded --timeout")

// runContext bounds a command's work by --timeout, on top of the interruption the context
// already carries.
func (o globalOptions) runContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, o.timeout, fmt.Errorf("%w (%s)", errRunTimeout, o.timeout))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
