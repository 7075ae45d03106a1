package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/playbooks"
	"github.com/quorate/quorate/pve"
)

func statusCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show each node's state and its view of the cluster; changes nothing",
		Flags: clusterFlags(),
		Action: func(c *cli.Context) error {
			return withCluster(c, s, func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest) error {
				rep, err := sess.Status(ctx, req)
				err = hostKeyAdvice(err)
				if opts.json {
					if werr := writeJSON(s.stdout, rep); werr != nil && err == nil {
						err = werr
					}
					return err
				}
				fmt.Fprintf(s.stdout, "cluster %s\n", rep.Cluster)
				for _, o := range rep.Nodes {
					line := fmt.Sprintf("  %-12s %s", o.Node, o.State)
					if v := rep.Views[o.Node]; v != nil && v.State != pve.NotInCluster {
						line += fmt.Sprintf(", nodeid %d, %s, votes %d/%d (quorum %d), config version %d, members %s",
							o.NodeID, v.State, v.TotalVotes, v.ExpectedVotes, v.Quorum, v.ConfigVersion, strings.Join(o.Members, " "))
					}
					if o.Detail != "" {
						line += ": " + o.Detail
					}
					fmt.Fprintln(s.stdout, line)
					if v := rep.Versions[o.Node]; v != "" {
						fmt.Fprintf(s.stdout, "      %s\n", v)
					}
					if l := rep.Links[o.Node]; l != nil {
						fmt.Fprintf(s.stdout, "      %s\n", describeLinks(*l, rep.Views[o.Node]))
					}
				}
				return err
			})
		},
	}
}

// describeLinks is one member's view of its corosync links: each peer's state per link.
func describeLinks(l pve.Links, st *pve.ClusterStatus) string {
	names := map[int]string{}
	if st != nil {
		for _, m := range st.Members {
			names[m.NodeID] = m.Name
		}
	}
	var parts []string
	for _, ls := range l.Status {
		var peers []string
		for _, p := range ls.Nodes {
			if p.State == "localhost" {
				continue
			}
			name := names[p.NodeID]
			if name == "" {
				name = fmt.Sprintf("nodeid %d", p.NodeID)
			}
			peers = append(peers, name+" "+p.State)
		}
		parts = append(parts, fmt.Sprintf("link%d %s: %s", ls.Link, ls.Addr, strings.Join(peers, ", ")))
	}
	if len(parts) == 0 {
		return "links: corosync reports none"
	}
	return strings.Join(parts, "; ")
}
