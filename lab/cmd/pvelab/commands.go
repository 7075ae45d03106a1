package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/lab"
)

func upCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "bring up a lab (replacing one of the same name) and write cluster.yaml, key, known_hosts and env",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "hosts", Value: 3, Usage: "number of PVE hosts (1-15)"},
			&cli.IntFlag{Name: "links", Value: 1, Usage: "corosync links (1 or 2)"},
			&cli.BoolFlag{Name: "qnetd", Usage: "add the host qnetd (198.51.100.50)"},
			&cli.StringFlag{Name: "dir", Usage: "where to write the lab files (default: .lab in the checkout)"},
			&cli.StringFlag{Name: "pvesim", Usage: "use this pvesim binary instead of building lab/pvesim/cmd/pvesim"},
		},
		Action: func(c *cli.Context) error {
			dir := c.String("dir")
			if dir == "" {
				root, err := checkoutRoot()
				if err != nil {
					return err
				}
				dir = filepath.Join(root, ".lab")
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			l, err := lab.Up(c.Context, lab.Options{
				Name: c.String("name"), Hosts: c.Int("hosts"), Links: c.Int("links"), QNetd: c.Bool("qnetd"),
				Dir: dir, PvesimBinary: c.String("pvesim"), HelperBinary: self, Detached: true,
			})
			if err != nil {
				return err
			}
			st, err := l.Status(c.Context)
			if err != nil {
				return err
			}
			fmt.Print(st)
			fmt.Printf("cluster file: %s\nroot password: . %s\n", filepath.Join(dir, "cluster.yaml"), filepath.Join(dir, "env"))
			return nil
		},
	}
}

func downCommand() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "end the lab: every process, namespace and mount, and its files",
		Action: func(c *cli.Context) error {
			return lab.DownByName(c.Context, c.String("name"))
		},
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the lab's machines and faults",
		Action: func(c *cli.Context) error {
			l, err := lab.Attach(c.String("name"))
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			st, err := l.Status(c.Context)
			if err != nil {
				return err
			}
			fmt.Print(st)
			return nil
		},
	}
}

func execCommand() *cli.Command {
	return &cli.Command{
		Name:            "exec",
		Usage:           "run a command on a host's console (or on ctl, where quorate runs)",
		ArgsUsage:       "HOST [--] [CMD...]",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return cli.Exit("usage: pvelab exec HOST -- CMD...", 2)
			}
			host, argv := args[0], args[1:]
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			l, err := lab.Attach(c.String("name"))
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			sio := lab.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interactive: true}
			if host == "ctl" {
				// quorate runs on the controller from the checkout, visible at the same path.
				if wd, err := os.Getwd(); err == nil && sharedWithController(wd) {
					sio.Dir = wd
				}
			}
			code, err := l.Run(c.Context, host, sio, argv...)
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

func faultCommand() *cli.Command {
	return &cli.Command{
		Name:      "fault",
		Usage:     "inject a fault on a host, or clear its faults (KIND clear)",
		ArgsUsage: "HOST KIND [ARGS...]",
		Description: "kinds: udp-drop, port-drop PORT, loss PCT, delay MS [JITTER_MS], rate KBIT, skew SECONDS,\n" +
			"hosts-loopback, hosts-foreign, noisy-bashrc, wifi, half-duplex, mtu N, reinstall, crash, restart,\n" +
			"guests, foreign-cluster, half-joined, pveversion VERSION (these four by pvesim), clear",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) < 2 {
				return cli.Exit("usage: pvelab fault HOST KIND [ARGS...]", 2)
			}
			l, err := lab.Attach(c.String("name"))
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			if args[1] == "clear" {
				err = l.Clear(c.Context, args[0])
			} else {
				err = l.Fault(c.Context, args[0], args[1], args[2:]...)
			}
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			return nil
		},
	}
}

func trustCommand() *cli.Command {
	return &cli.Command{
		Name:      "trust",
		Usage:     "trust a host's current SSH host keys (after reinstall) in the controller and the lab's known_hosts",
		ArgsUsage: "HOST",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: pvelab trust HOST", 2)
			}
			l, err := lab.Attach(c.String("name"))
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			return l.Trust(c.Context, c.Args().First())
		},
	}
}

// checkoutRoot finds the quorate checkout from the working directory: the nearest
// directory with a go.mod.
func checkoutRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no go.mod above %s: run pvelab in the quorate checkout or give --dir", wd)
		}
	}
}

// sharedWithController tells whether a directory of this machine is the same
// directory in the controller, which has its own /root, /run, /etc and /var.
func sharedWithController(dir string) bool {
	for _, private := range []string{"/root", "/run", "/etc", "/var"} {
		if dir == private || strings.HasPrefix(dir, private+"/") {
			return false
		}
	}
	return true
}
