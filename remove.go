package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/playbooks"
)

func removeCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "take a node out of its cluster for good",
		ArgsUsage: "NODE",
		Description: "Refuses while the node is online in the membership (PVE's procedure powers it off first)\n" +
			"unless --separate asks for it to be separated cleanly first. Shows the quorum arithmetic\n" +
			"after the removal; once confirmed, saves the node's /etc/pve/nodes/NODE into the run\n" +
			"directory, runs pvecm delnode on a member, removes its stale directory and keys, and\n" +
			"re-evaluates the QDevice for the new node count, verified from every remaining member.",
		Flags: append(clusterFlags(), overrideQuorumFlag(),
			&cli.BoolFlag{Name: "separate", Usage: "separate an online node cleanly first (pve-docs' procedure: its cluster configuration goes, its guests stay)"},
		),
		Action: func(c *cli.Context) error {
			return withClusterArgs(c, s, 1, 1, "remove NODE", func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest, args []string) error {
				r := &changeRun{s: s, opts: opts, sess: sess, command: "remove " + args[0]}
				o := bootstrap.ChangeOpts{OverrideQuorum: c.Bool("override-quorum"), Separate: c.Bool("separate")}
				report, err := sess.Remove(ctx, playbooks.RemoveRequest{ChangeRequest: r.request(c, req, o), Node: args[0]})
				return r.finish(report, err)
			})
		},
	}
}
