package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/playbooks"
)

func qdeviceCommand(s streams) *cli.Command {
	setup := &cli.Command{
		Name:      "setup",
		Usage:     "set up a QDevice on an external host (for an even node count, above all 2)",
		ArgsUsage: "[HOST]",
		Description: "HOST defaults to the cluster file's qdevice.address. Prepares the host (corosync-qnetd\n" +
			"installed and running, TCP 5403 reachable from every node), makes sure corosync-qdevice is\n" +
			"on every node, gives the member that runs pvecm qdevice setup root SSH to the host for the\n" +
			"setup alone, and verifies the QDevice's vote from every member (flags A,V, expected votes\n" +
			"one higher). An odd node count is refused unless --force: PVE then uses the lms algorithm.",
		Flags: append(clusterFlags(), &cli.BoolFlag{Name: "force", Usage: "set up a QDevice on an odd node count (algorithm lms, not officially supported by PVE)"}),
		Action: func(c *cli.Context) error {
			return withClusterArgs(c, s, 0, 1, "qdevice setup [HOST]", func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest, args []string) error {
				host := ""
				if len(args) == 1 {
					host = args[0]
				}
				r := &changeRun{s: s, opts: opts, sess: sess, command: "qdevice setup " + host}
				report, err := sess.QDeviceSetup(ctx, playbooks.QDeviceRequest{ChangeRequest: r.request(c, req, bootstrap.ChangeOpts{QDeviceForce: c.Bool("force")}), Host: host})
				return r.finish(report, err)
			})
		},
	}
	remove := &cli.Command{
		Name:        "remove",
		Usage:       "remove the cluster's QDevice",
		Description: "Runs pvecm qdevice remove on a member and verifies that every member is back to the nodes' votes.",
		Flags:       clusterFlags(),
		Action: func(c *cli.Context) error {
			return withClusterArgs(c, s, 0, 0, "qdevice remove", func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest, _ []string) error {
				r := &changeRun{s: s, opts: opts, sess: sess, command: "qdevice remove"}
				report, err := sess.QDeviceRemove(ctx, playbooks.QDeviceRequest{ChangeRequest: r.request(c, req, bootstrap.ChangeOpts{})})
				return r.finish(report, err)
			})
		},
	}
	for _, sub := range []*cli.Command{setup, remove} {
		// As newApp does for every command: global flags accepted after the subcommand too.
		sub.OnUsageError = onUsageError
		for _, f := range globalFlags() {
			hideFlag(f)
			sub.Flags = append(sub.Flags, f)
		}
	}
	return &cli.Command{
		Name:        "qdevice",
		Usage:       "set up or remove a QDevice, the external vote of a cluster with an even node count",
		Subcommands: []*cli.Command{setup, remove},
	}
}
