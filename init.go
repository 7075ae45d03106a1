package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/playbooks"
	"github.com/quorate/quorate/remote"
)

func initCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "look at hosts over SSH and write a starter cluster file",
		ArgsUsage: "HOST...",
		Description: "Connects to every HOST ([user@]host[:port] or an ssh config alias) in parallel, reads its\n" +
			"hostname and addresses, shows its host key's SHA256 fingerprint and writes a starter\n" +
			"cluster file to -c (never over an existing one without --force).\n" +
			"An unknown host key is refused unless --accept-new-host-keys is given; then it is shown\n" +
			"and recorded in known_hosts. The password for a freshly installed host comes from\n" +
			"--password-env or, on a terminal, a prompt. An encrypted identity file's passphrase comes\n" +
			"from a prompt or $QUORATE_SSH_PASSPHRASE.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Value: "pve-cluster", Usage: "cluster name to write"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing cluster file"},
			&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "record unknown host keys in known_hosts after showing them"},
			&cli.StringFlag{Name: "password-env", Usage: "environment variable holding the SSH password for first contact"},
			&cli.StringFlag{Name: "user", Usage: "SSH user (default: ssh config, else root)"},
			&cli.IntFlag{Name: "port", Usage: "SSH port (default: ssh config, else 22)"},
			&cli.StringSliceFlag{Name: "identity-file", Aliases: []string{"i"}, Usage: "private key to try (repeatable)", TakesFile: true},
			&cli.StringFlag{Name: "known-hosts", Usage: "known_hosts file (default: ssh config, else ~/.ssh/known_hosts)", TakesFile: true},
			&cli.StringFlag{Name: "jump", Usage: "ProxyJump hosts, user@host:port[,more]"},
			&cli.StringFlag{Name: "ssh-config", Usage: `ssh config file (default ~/.ssh/config; "none" ignores it)`, TakesFile: true},
		},
		Action: func(c *cli.Context) error {
			opts, err := globalsFrom(c)
			if err != nil {
				return err
			}
			req, err := initRequestFrom(c, opts)
			if err != nil {
				return err
			}
			if err := req.RefuseOverwrite(); err != nil {
				return err
			}
			return withSession(c, s, opts, func(ctx context.Context, sess *playbooks.Session) error {
				report, err := sess.Init(ctx, req)
				canAskPassword := req.Access.Password != "" || sess.Ask.Terminal()
				if perr := printInitReport(s, opts, report, canAskPassword); perr != nil && err == nil {
					err = perr
				}
				return err
			})
		},
	}
}

func initRequestFrom(c *cli.Context, opts globalOptions) (playbooks.InitRequest, error) {
	req := playbooks.InitRequest{
		Hosts:       c.Args().Slice(),
		ClusterName: c.String("name"),
		File:        opts.configPath,
		Force:       c.Bool("force"),
		Access: playbooks.Access{
			SSH: inventory.SSH{
				User: c.String("user"), Port: c.Int("port"), KnownHosts: c.String("known-hosts"), Jump: c.String("jump"),
			},
			IdentityFiles:     c.StringSlice("identity-file"),
			SSHConfigFile:     c.String("ssh-config"),
			AcceptNewHostKeys: c.Bool("accept-new-host-keys"),
		},
	}
	if len(req.Access.IdentityFiles) > 0 {
		req.Access.SSH.IdentityFile = req.Access.IdentityFiles[0]
	}
	if err := req.Check(); err != nil {
		return req, usageErrorf("%v", err)
	}
	if name := c.String("password-env"); name != "" {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return req, usageErrorf("--password-env %s: the variable is not set or empty", name)
		}
		req.Access.Password = v
	}
	return req, nil
}

func printInitReport(s streams, opts globalOptions, report playbooks.InitReport, canAskPassword bool) error {
	if opts.json {
		return writeJSON(s.stdout, report)
	}
	for _, h := range report.Hosts {
		if h.Err != nil {
			fmt.Fprintf(s.stdout, "FAILED %v%s\n", h.Err, initAdvice(h.Err, canAskPassword))
			continue
		}
		if h.Hostname == "" {
			fmt.Fprintf(s.stdout, "%s: pending, no answer yet\n", h.Host)
			continue
		}
		note := ""
		if h.NewKey {
			note = " (new, recorded in known_hosts)"
		}
		fmt.Fprintf(s.stdout, "%s: hostname %s, host key %s %s%s\n", h.Host, h.Hostname, h.KeyType, h.Fingerprint, note)
		fmt.Fprintf(s.stdout, "    addresses: %s\n", inventory.DescribeAddresses(h.Addresses))
	}
	if !report.Written {
		return nil
	}
	fmt.Fprintf(s.stdout, "wrote %s with %s\n", report.File, plural(len(report.Hosts), "node"))
	if len(report.Problems) > 0 {
		fmt.Fprintf(s.stdout, "it needs editing before use (quorate validate shows this again):\n")
		for _, p := range report.Problems {
			fmt.Fprintf(s.stdout, "  %s\n", p)
		}
	}
	return nil
}

// initAdvice is what init, in particular, can tell a user about a host's failure.
func initAdvice(err error, canAskPassword bool) string {
	var unknown *remote.HostKeyUnknownError
	switch {
	case errors.As(err, &unknown) && unknown.Refused == "":
		return "; to accept it, run init again with --accept-new-host-keys"
	case errors.Is(err, remote.ErrAuth) && !canAskPassword:
		return "; if the host has none of your keys yet (a fresh install), give its root password with --password-env NAME, or run init on a terminal to be asked"
	}
	return ""
}
