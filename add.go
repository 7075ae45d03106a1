package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/playbooks"
)

func addCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "join nodes of the cluster file to the running cluster, one at a time, each verified",
		ArgsUsage: "NODE...",
		Description: "Learns the cluster from any reachable member (it may have been built by hand with pvecm;\n" +
			"members the cluster file does not list are reported and left alone), shows the plan with\n" +
			"the quorum arithmetic of each step and, once confirmed (or with --yes), joins each named\n" +
			"node with pvecm add, one at a time, verified from every member as up does. A configured\n" +
			"QDevice is removed first and set up again when the new node count is even. It never\n" +
			"creates a cluster (quorate up does). Running it again resumes: members are skipped.",
		Flags: append(clusterFlags(), joinTimeoutFlag(), ignoreCheckFlag()),
		Action: func(c *cli.Context) error {
			return withClusterArgs(c, s, 1, -1, "add NODE...", func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest, args []string) error {
				r := &changeRun{s: s, opts: opts, sess: sess, command: "add " + strings.Join(args, " ")}
				report, err := sess.Add(ctx, playbooks.AddRequest{ChangeRequest: r.request(c, req, bootstrap.ChangeOpts{}), Nodes: args, Ignore: c.StringSlice("ignore-check")})
				return r.finish(report, err)
			})
		},
	}
}
