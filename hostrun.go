package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

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
	sess := &playbooks.Session{Log: log.Logger, AddSecret: log.AddSecret, Ask: ask, Notes: s.stderr,
		RunDir: strings.TrimSuffix(log.Path, ".log") + ".d", Live: isTerminal(s.stderr)}
	if err := run(ctx, sess); err != nil {
		return &logPathError{err: err, path: log.Path}
	}
	return nil
}

// clusterFlags are the flags of every command that works on the nodes of a cluster file.
func clusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "record unknown host keys in known_hosts after showing them (nothing is trusted on first use otherwise)"},
		&cli.StringFlag{Name: "ssh-config", Usage: `ssh config file (default ~/.ssh/config; "none" ignores it)`, TakesFile: true},
	}
}

// withCluster is withSession for commands on a cluster file that take no arguments.
func withCluster(c *cli.Context, s streams, run func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest) error) error {
	return withClusterArgs(c, s, 0, 0, c.Command.Name, func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest, _ []string) error {
		return run(ctx, sess, opts, req)
	})
}

// withClusterArgs is the frame of every command on a cluster file: its arguments (node
// names, a host) are checked, the file is read and validated first (its problems are exit 2,
// before any host is contacted), then run gets a session and the arguments.
func withClusterArgs(c *cli.Context, s streams, minArgs, maxArgs int, usage string,
	run func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest, args []string) error) error {
	args := c.Args().Slice()
	for _, a := range args[min(1, len(args)):] { // a leading "-" is the library's to reject
		if strings.HasPrefix(a, "-") && a != "-" {
			// The flag library stops at the first argument: a flag after it would be a node name.
			return usageErrorf("%s after the arguments: options go first (quorate %s [options] %s)", a, strings.TrimPrefix(c.Command.HelpName, c.App.Name+" "), c.Command.ArgsUsage)
		}
	}
	if len(args) < minArgs || (maxArgs >= 0 && len(args) > maxArgs) {
		return usageErrorf("usage: quorate %s", usage)
	}
	opts, err := globalsFrom(c)
	if err != nil {
		return err
	}
	inv, problems, err := loadInventory(opts.configPath)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(s.stderr, p.String())
		}
		return withExitCode(exitUsage, fmt.Errorf("%s: %s; quorate validate shows them", inv.File, plural(len(problems), "problem")))
	}
	req := playbooks.ClusterRequest{Inventory: inv, Access: playbooks.Access{
		SSH:               inv.SSH,
		SSHConfigFile:     c.String("ssh-config"),
		AcceptNewHostKeys: c.Bool("accept-new-host-keys"),
		Password:          os.Getenv(inv.Cluster.PasswordEnv),
	}}
	return withSession(c, s, opts, func(ctx context.Context, sess *playbooks.Session) error {
		return run(ctx, sess, opts, req, args)
	})
}

// isTerminal tells whether w is a terminal (for live progress); a pipe, a file or CI is not.
func isTerminal(w io.Writer) bool {
	if lw, ok := w.(*lockedWriter); ok {
		w = lw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// saveReport keeps a run's JSON report, report.json, beside its backups in the run directory.
func saveReport(dir string, report any) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.json"), append(data, '\n'), 0o600)
}
