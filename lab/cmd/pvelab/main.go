// Command pvelab brings up and drives quorate's test lab: simulated Proxmox VE hosts in
// namespaces on this machine (see lab/README.md). Run it as root.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/lab"
)

func main() {
	// The hidden commands run inside the lab and must not go through flag parsing.
	if len(os.Args) >= 3 && os.Args[1] == "__init" {
		lab.RunInit(os.Args[2])
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "__relay" {
		if err := lab.RunRelay(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newApp().RunContext(ctx, os.Args)
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "pvelab:", msg)
		}
		os.Exit(ec.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pvelab:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "pvelab",
		Usage: "simulated Proxmox VE hosts for testing quorate",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Value: "demo", EnvVars: []string{"PVELAB_NAME"}, Usage: "lab name ([a-z0-9]{1,8})"},
		},
		Commands: []*cli.Command{upCommand(), downCommand(), execCommand(), faultCommand(), trustCommand(), statusCommand()},
	}
}
