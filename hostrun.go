package main

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/internal/prompt"
	"github.com/quorate/quorate/internal/runlog"
	"github.com/quorate/quorate/playbooks"
)

// withSession is the frame of every command that reaches hosts: the run log (its path said
// on failure), --timeout, the terminal for passwords and passphrases (echo restored however
// the run ends), and the playbook session built from them.
func withSession(c *cli.Context, s streams, opts globalOptions, run func(ctx context.Context, sess *playbooks.Session) error) error {
	log, err := runlog.Open(runlog.Options{Path: opts.logFile, Verbose: opts.verbose, Stderr: s.stderr, Now: time.Now()})
	if err != nil {
		return err
	}
	defer log.Close()
	ctx, cancel := opts.runContext(c.Context)
	defer cancel()
	ask := prompt.New(ctx, s.stdin, s.stderr)
	defer ask.Restore() // a question still open when the run is cut short must not leave echo off
	sess := &playbooks.Session{Log: log.Logger, AddSecret: log.AddSecret, Ask: ask, Notes: s.stderr}
	if err := run(ctx, sess); err != nil {
		return &logPathError{err: err, path: log.Path}
	}
	return nil
}
