package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/playbooks"
)

// What add, rebuild, remove and qdevice share on the command line: the cluster file and
// positional node names, the plan shown and confirmed, and the report.

func joinTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "join-timeout", Value: 5 * time.Minute, Usage: "limit for each pvecm add (its own wait for quorum has none)"}
}

func overrideQuorumFlag() cli.Flag {
	return &cli.BoolFlag{Name: "override-quorum", Usage: "when the members present lack quorum because the node is gone for good (2 nodes without a QDevice), set their expected votes (pvecm expected) first instead of refusing"}
}

// changeRun is one change command on the command line: it shows the plan once, before the
// confirmation or, when the plan is blocked, with the refusal.
type changeRun struct {
	s       streams
	opts    globalOptions
	sess    *playbooks.Session
	command string // "add", "rebuild", ... as the user runs it again to resume
	shown   bool
}

func (r *changeRun) request(c *cli.Context, req playbooks.ClusterRequest, o bootstrap.ChangeOpts) playbooks.ChangeRequest {
	cr := playbooks.ChangeRequest{ClusterRequest: req, Opts: o, JoinTimeout: 5 * time.Minute}
	if d := c.Duration("join-timeout"); d > 0 {
		cr.JoinTimeout = d
	}
	cr.Approve = func(p bootstrap.ChangePlan) error {
		r.show(p)
		return confirm(r.sess.Ask, r.opts, r.s.stderr, fmt.Sprintf("Apply these %s to cluster %s? [y/N] ", plural(len(p.Steps), "step"), p.Cluster))
	}
	return cr
}

func (r *changeRun) show(p bootstrap.ChangePlan) {
	if r.shown || r.opts.json || (len(p.Steps) == 0 && len(p.Blockers) == 0 && len(p.Notes) == 0) {
		return
	}
	r.shown = true
	printChangePlan(r.s.stdout, p)
}

// finish renders the outcome, saves report.json in the run directory and decides the exit.
func (r *changeRun) finish(report playbooks.ChangeReport, err error) error {
	if report.Preflight != nil && !r.opts.json && (report.Preflight.HasErrors() || r.opts.verbose) {
		printPreflight(r.s, r.opts, report.Preflight)
	}
	if report.Plan.Cluster != "" {
		r.show(report.Plan)
	}
	printChangeReport(r.s, r.opts, r.command, report, err)
	out := changeJSON{ChangeReport: report, OK: err == nil}
	if err != nil {
		out.Error = err.Error()
	}
	if werr := saveReport(r.sess.RunDir, out); werr != nil {
		fmt.Fprintf(r.s.stderr, "quorate: the report of this run could not be saved: %v\n", werr)
	}
	return changeExit(err)
}

func printChangePlan(w io.Writer, p bootstrap.ChangePlan) {
	fmt.Fprintf(w, "Plan for cluster %s: %s\n", p.Cluster, p.Command)
	printObserved(w, p.Observed)
	if len(p.Members) > 0 {
		fmt.Fprintf(w, "  already done, skipped: %s\n", strings.Join(p.Members, ", "))
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, b := range p.Blockers {
		fmt.Fprintf(w, "  BLOCKED %s\n", b)
	}
	if len(p.Steps) == 0 && len(p.Blockers) == 0 {
		fmt.Fprintln(w, "  nothing to do")
	}
	for i, st := range p.Steps {
		members := strings.Join(st.Members, " ")
		if len(st.Unlisted) > 0 {
			members += " (and " + strings.Join(st.Unlisted, " ") + ", not in cluster.yaml)"
		}
		fmt.Fprintf(w, "  %d. %s\n     votes %d -> %d, quorum %d -> %d, members: %s\n", i+1, st.Describe(p.Cluster),
			st.VotesBefore, st.VotesAfter, st.QuorumBefore, st.QuorumAfter, members)
		if st.Warning != "" {
			fmt.Fprintf(w, "     warning: %s\n", st.Warning)
		}
	}
}

type changeJSON struct {
	playbooks.ChangeReport
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func printChangeReport(s streams, opts globalOptions, command string, report playbooks.ChangeReport, err error) {
	if opts.json {
		out := changeJSON{ChangeReport: report, OK: err == nil}
		if err != nil {
			out.Error = err.Error()
		}
		writeJSON(s.stdout, out)
		return
	}
	for _, r := range report.Steps {
		fmt.Fprintf(s.stdout, "ok  %s  %s (verified %s after the change)\n", r.Step.Describe(report.Plan.Cluster),
			r.Took.Round(10*time.Millisecond), r.Verified.Took.Round(10*time.Millisecond))
		if r.Found != "" {
			fmt.Fprintf(s.stdout, "    %s\n", r.Found)
		}
	}
	if report.Saved != "" {
		fmt.Fprintf(s.stdout, "the node's old directory of /etc/pve (its guests' configurations) is saved in %s\n", report.Saved)
	}
	if f := report.Failure; f != nil {
		fmt.Fprintf(s.stdout, "FAILED %s on %s: %s\n", f.Step, f.Node, f.Error)
		for node, diags := range f.Diagnostics {
			for _, d := range diags {
				fmt.Fprintf(s.stdout, "--- %s: %s\n%s\n", node, d.Name, indent(d.Output))
			}
		}
		fmt.Fprintf(s.stdout, "The cluster was left as it is after the last verified step; fix the cause, then run quorate %s again to resume.\n", command)
		return
	}
	if err == nil && report.Verified {
		fmt.Fprintf(s.stdout, "cluster %s is quorate with %s, every one verified (%s)\n", report.Plan.Cluster,
			plural(report.Members, "member"), report.Took.Round(10*time.Millisecond))
	}
}

// changeExit gives the change commands' failures their exit codes: up's, plus a node or host
// the command line names wrongly (usage).
func changeExit(err error) error {
	var notInFile *playbooks.NotInFileError
	switch {
	case errors.As(err, &notInFile), errors.Is(err, playbooks.ErrNoQDeviceHost):
		return withExitCode(exitUsage, err)
	}
	return upExit(err)
}
