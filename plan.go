package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/playbooks"
)

func planCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "show what up would do, step by step with the quorum arithmetic; changes nothing",
		Description: "Reads every node of the cluster file and prints the plan up would run. With --out FILE\n" +
			"the plan is saved with the state it was made from, for quorate up --plan FILE.",
		Flags: append(clusterFlags(),
			&cli.StringFlag{Name: "out", Usage: "save the plan to FILE for quorate up --plan FILE", TakesFile: true},
		),
		Action: func(c *cli.Context) error {
			return withCluster(c, s, func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest) error {
				p, err := sess.Plan(ctx, req)
				if err != nil {
					return hostKeyAdvice(err)
				}
				if out := c.String("out"); out != "" {
					if err := playbooks.WriteSavedPlan(out, opts.configPath, p); err != nil {
						return err
					}
				}
				if opts.json {
					err = writeJSON(s.stdout, p)
				} else {
					printPlan(s.stdout, p)
				}
				if err == nil && len(p.Blockers) > 0 {
					// A pipeline that reviews plans must not take a blocked one for a good one.
					return &playbooks.BlockedError{Blockers: p.Blockers}
				}
				return err
			})
		},
	}
}
