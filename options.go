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

func globalsFrom(c *cli.Context) (globalOptions, error) {
	at := func(name string) *cli.Context { return flagContext(c, name) }
	o := globalOptions{
		configPath: at("config").String("config"),
		logFile:    at("log-file").String("log-file"),
		verbose:    at("verbose").Bool("verbose"),
		yes:        at("yes").Bool("yes"),
		timeout:    at("timeout").Duration("timeout"),
	}
	switch output := at("output").String("output"); output {
	case "text":
	case "json":
		o.json = true
	default:
		return o, usageErrorf("--output %q: want text or json", output)
	}
	if o.timeout <= 0 {
		return o, usageErrorf("--timeout %s: want a positive duration such as 10m", o.timeout)
	}
	return o, nil
}

// flagContext is the context whose command line set the global flag name, given before the
// command or after it (after wins); when neither did, c, which holds the default.
func flagContext(c *cli.Context, name string) *cli.Context {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet(name) {
			return ctx
		}
	}
	return c
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
