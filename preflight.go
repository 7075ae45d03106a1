package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/playbooks"
	"github.com/quorate/quorate/preflight"
)

func preflightCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "preflight",
		Usage: "check every node and the network between them before anything changes",
		Description: "Connects to every node of the cluster file in parallel, gathers each node's facts in one\n" +
			"round trip, probes corosync's UDP ports and the API and SSH ports between every pair of\n" +
			"nodes, samples the clocks, and runs every named check. Changes nothing on any host (the\n" +
			"probe responders it starts end by themselves). Exits 3 when an error remains; the README\n" +
			"lists the checks.",
		Flags: append(clusterFlags(), ignoreCheckFlag()),
		Action: func(c *cli.Context) error {
			return withCluster(c, s, func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest) error {
				report, err := sess.Preflight(ctx, playbooks.PreflightRequest{ClusterRequest: req, Ignore: c.StringSlice("ignore-check")})
				if report != nil {
					if werr := printPreflight(s, opts, report); werr != nil && err == nil {
						err = werr
					}
				}
				return preflightExit(err)
			})
		},
	}
}

func ignoreCheckFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "ignore-check", Usage: "turn this check's errors into warnings that stay visible (repeatable; names in the README)"}
}

func printPreflight(s streams, opts globalOptions, r *preflight.Report) error {
	if opts.json {
		return writeJSON(s.stdout, r)
	}
	return r.WriteText(s.stdout)
}

// preflightExit gives preflight's outcomes their exit codes: errors found are 3, an unknown
// --ignore-check name is a usage error.
func preflightExit(err error) error {
	var failed *playbooks.PreflightFailedError
	switch {
	case errors.As(err, &failed):
		return withExitCode(exitPreflight, err)
	case errors.Is(err, preflight.ErrUnknownCheck):
		return usageErrorf("--ignore-check: %v", err)
	}
	return err
}
