package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/playbooks"
)

func statusCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show each node's state and its view of the cluster; changes nothing",
		Flags: clusterFlags(),
		Action: func(c *cli.Context) error {
			return withCluster(c, s, func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest) error {
				rep, err := sess.Status(ctx, req)
				if opts.json {
					if werr := writeJSON(s.stdout, rep); werr != nil && err == nil {
						err = werr
					}
					return err
				}
				fmt.Fprintf(s.stdout, "cluster %s\n", rep.Cluster)
				for _, o := range rep.Nodes {
					line := fmt.Sprintf("  %-12s %s", o.Node, o.State)
					if v := rep.Views[o.Node]; v != nil && o.State == "member" {
						line += fmt.Sprintf(", nodeid %d, %s, votes %d/%d (quorum %d), config version %d, members %s",
							o.NodeID, v.State, v.TotalVotes, v.ExpectedVotes, v.Quorum, v.ConfigVersion, strings.Join(o.Members, " "))
					} else if o.Detail != "" {
						line += ": " + o.Detail
					}
					fmt.Fprintln(s.stdout, line)
				}
				return err
			})
		},
	}
}
