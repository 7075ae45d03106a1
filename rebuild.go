package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/playbooks"
)

func rebuildCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "rebuild",
		Usage:     "take a node reinstalled with the same name and address back into its cluster",
		ArgsUsage: "NODE",
		Description: "For a node the cluster still lists after a reinstall. It shows the node's old and new SSH\n" +
			"host key and changes nothing until the new one is accepted (on a terminal, or with\n" +
			"--accept-new-host-key NODE); it refuses while the old incarnation is online. The plan, once\n" +
			"confirmed: save the node's old /etc/pve/nodes/NODE into the run directory, pvecm delnode on\n" +
			"a quorate member, remove its stale directory and keys, join it again with its old node id,\n" +
			"pvecm updatecerts, verify from every member (SSH between members by name included). A\n" +
			"QDevice is removed first and set up again. Running it again resumes.",
		Flags: append(clusterFlags(), joinTimeoutFlag(), overrideQuorumFlag(),
			&cli.StringFlag{Name: "accept-new-host-key", Usage: "accept NODE's new SSH host key (NODE, or NODE=SHA256:... to accept only that key)"},
			&cli.BoolFlag{Name: "force-join", Usage: "re-add over the old nodelist entry (pvecm add --force with the old node id) instead of pvecm delnode first"},
		),
		Action: func(c *cli.Context) error {
			return withClusterArgs(c, s, 1, 1, "rebuild NODE", func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest, args []string) error {
				node := args[0]
				accept := ""
				if flag := c.String("accept-new-host-key"); flag != "" {
					name, fp, pinned := strings.Cut(flag, "=")
					if name != node {
						return usageErrorf("--accept-new-host-key %s: names %s, but the node to rebuild is %s", flag, name, node)
					}
					accept = playbooks.AcceptAnyKey
					if pinned {
						accept = fp
					}
				}
				r := &changeRun{s: s, opts: opts, sess: sess, command: "rebuild " + node}
				o := bootstrap.ChangeOpts{OverrideQuorum: c.Bool("override-quorum"), ForceJoin: c.Bool("force-join")}
				report, err := sess.Rebuild(ctx, playbooks.RebuildRequest{ChangeRequest: r.request(c, req, o), Node: node, AcceptHostKey: accept})
				return r.finish(report, err)
			})
		},
	}
}
