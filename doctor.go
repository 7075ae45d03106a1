package main

import (
	"context"
	"errors"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/playbooks"
)

func doctorCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "diagnose a running cluster from every member; changes nothing",
		Description: "Reads every member in parallel: quorum and its arithmetic, whether the members agree\n" +
			"(membership, config version: split-brain signs), corosync's own view of every link to\n" +
			"every peer (down, flapping, losing pings, latency), interface speed, duplex, MTU and\n" +
			"Wi-Fi, clock offsets, PVE versions, link redundancy, storage and migration traffic on the\n" +
			"corosync links, /etc/pve writable, corosync and pve-cluster active, the QDevice. Members\n" +
			"the cluster file does not list are learnt from the others' corosync.conf. The findings are\n" +
			"preflight's table; exits 3 when one is an error. The README lists the checks.",
		Flags: append(clusterFlags(),
			&cli.DurationFlag{Name: "watch", Value: 2 * time.Second, Usage: "watch corosync's link counters at least this long (a link flapping now)"}),
		Action: func(c *cli.Context) error {
			return withCluster(c, s, func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest) error {
				rep, err := sess.Doctor(ctx, playbooks.DoctorRequest{ClusterRequest: req, Window: c.Duration("watch")})
				if rep != nil {
					var werr error
					if opts.json {
						werr = writeJSON(s.stdout, rep)
					} else {
						werr = rep.WriteText(s.stdout)
					}
					if werr != nil && err == nil {
						err = werr
					}
				}
				var failed *playbooks.DoctorFailedError
				if errors.As(err, &failed) {
					return withExitCode(exitPreflight, err)
				}
				return err
			})
		},
	}
}
