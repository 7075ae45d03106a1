package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/inventory"
)

// streams are the process's standard files as the app sees them; commands write only here,
// never to os.Stdout, so that tests and callers can capture everything.
type streams struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	// Many hosts report at once; the writers the caller gave need not be safe for that.
	stdout, stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	s := streams{stdin: stdin, stdout: stdout, stderr: stderr}
	app := &cli.App{
		Name:                 "quorate",
		Usage:                "build Proxmox VE clusters over SSH, one verified step at a time",
		UsageText:            "quorate [global options] command [command options] [arguments...]\n(global options may also follow the command)",
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideVersion:          true, // "quorate version" instead; -v is --verbose
		EnableBashCompletion: false,
		Flags:                globalFlags(),
		Commands: []*cli.Command{
			initCommand(s),
			validateCommand(s),
			preflightCommand(s),
			planCommand(s),
			upCommand(s),
			addCommand(s),
			rebuildCommand(s),
			removeCommand(s),
			qdeviceCommand(s),
			statusCommand(s),
			doctorCommand(s),
			reportCommand(s),
			versionCommand(s),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return unknownCommand(c, c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		OnUsageError: onUsageError,
		// The library would call os.Exit for errors it recognises; run decides the code.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
		// Global flags are accepted after the command too ("quorate validate -c x.yaml" is
		// what people type); hidden there so that each command's help shows its own flags.
		for _, f := range globalFlags() {
			hideFlag(f)
			cmd.Flags = append(cmd.Flags, f)
		}
	}
	return app
}

// onUsageError turns the library's flag parsing errors into exit code 2, printed once by run.
func onUsageError(_ *cli.Context, err error, _ bool) error {
	return usageErrorf("%v", err)
}

func hideFlag(f cli.Flag) {
	switch f := f.(type) {
	case *cli.StringFlag:
		f.Hidden = true
	case *cli.BoolFlag:
		f.Hidden = true
	case *cli.DurationFlag:
		f.Hidden = true
	}
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "cluster.yaml", Usage: "the cluster file", TakesFile: true},
		&cli.StringFlag{Name: "output", Value: "text", Usage: "output format: text or json"},
		&cli.StringFlag{Name: "log-file", Usage: "where the log of every remote command goes (default: a new file under $XDG_STATE_HOME/quorate)", TakesFile: true},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log each step and remote command to stderr too"},
		&cli.BoolFlag{Name: "yes", Usage: "answer yes to confirmations (needed when stdin is not a terminal)"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Minute, Usage: "limit for the whole run"},
	}
}

func unknownCommand(c *cli.Context, name string) error {
	var names []string
	for _, cmd := range c.App.Commands {
		if !cmd.Hidden {
			names = append(names, cmd.Name)
		}
	}
	msg := fmt.Sprintf("unknown command %q", name)
	if s := inventory.DidYouMean(strings.ToLower(name), names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	msg += fmt.Sprintf(" (commands: %s)", strings.Join(names, ", "))
	return usageErrorf("%s", msg)
}

// noArgs rejects stray arguments, which would otherwise be ignored silently.
func noArgs(c *cli.Context) error {
	if c.Args().Present() {
		return usageErrorf("%s takes no arguments, got %q", c.Command.Name, c.Args().Slice())
	}
	return nil
}

// lockedWriter serialises writes, so that lines written from concurrent goroutines (one per
// host) do not interleave or race.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
