package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/internal/prompt"
	"github.com/quorate/quorate/playbooks"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

func upCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "build the cluster: create it on the first node, then join the others one at a time, each verified",
		Description: "Connects to every node of the cluster file, reads its state, shows the plan (with the\n" +
			"quorum arithmetic of each step) and, once confirmed (or with --yes), runs pvecm create on\n" +
			"the first node and pvecm add on each other node, one at a time. After every step it\n" +
			"verifies from every member: quorate, votes, membership, one config version, /etc/pve\n" +
			"writable, the new node's API and a fresh SSH login. Running it again resumes: verified\n" +
			"members are skipped. Exits 4 when the cluster did not become quorate in time.",
		Flags: append(clusterFlags(),
			&cli.StringFlag{Name: "plan", Usage: "run exactly the plan saved by quorate plan --out FILE, refusing if the nodes changed since", TakesFile: true},
			&cli.DurationFlag{Name: "join-timeout", Value: 5 * time.Minute, Usage: "limit for each pvecm add (its own wait for quorum has none)"},
			ignoreCheckFlag(),
		),
		Action: func(c *cli.Context) error {
			return withCluster(c, s, func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest) error {
				up := playbooks.UpRequest{ClusterRequest: req, JoinTimeout: c.Duration("join-timeout"), Ignore: c.StringSlice("ignore-check")}
				if path := c.String("plan"); path != "" {
					saved, err := playbooks.ReadSavedPlan(path)
					if err != nil {
						return withExitCode(exitUsage, err)
					}
					up.Saved = saved
				}
				up.Approve = func(p bootstrap.Plan) error {
					if !opts.json {
						printPlan(s.stdout, p)
					}
					return confirm(sess.Ask, opts, s.stderr, fmt.Sprintf("Apply these %s to cluster %s? [y/N] ", plural(len(p.Steps), "step"), p.Cluster))
				}
				report, err := sess.Up(ctx, up)
				if report.Preflight != nil && !opts.json && (report.Preflight.HasErrors() || opts.verbose) {
					printPreflight(s, opts, report.Preflight)
				}
				printUpReport(s, opts, report, err)
				out := upJSON{UpReport: report, OK: err == nil}
				if err != nil {
					out.Error = err.Error()
				}
				if werr := saveReport(sess.RunDir, out); werr != nil {
					fmt.Fprintf(s.stderr, "quorate: the report of this run could not be saved: %v\n", werr)
				}
				return upExit(err)
			})
		},
	}
}

// confirm asks on a terminal; without one, --yes is the only yes.
func confirm(ask *prompt.Prompter, opts globalOptions, stderr io.Writer, question string) error {
	if opts.yes {
		return nil
	}
	ok, err := ask.Confirm(question)
	if errors.Is(err, prompt.ErrNoTerminal) {
		return usageErrorf("stdin is not a terminal, so the plan cannot be confirmed: review it with quorate plan, then pass --yes")
	}
	if err != nil {
		return err
	}
	if !ok {
		return playbooks.ErrDeclined
	}
	return nil
}

// upExit gives up's failures their exit codes.
func upExit(err error) error {
	if perr := preflightExit(err); perr != err {
		return perr
	}
	err = hostKeyAdvice(err)
	var notQuorate *bootstrap.NotQuorateError
	var failure *pve.Failure
	// A pvecm add cut short by our deadline was waiting for quorum (docs/pve.md §0.6).
	if errors.As(err, &notQuorate) || (errors.As(err, &failure) && failure.Kind == pve.FailTimeout) {
		return withExitCode(exitNotQuorate, err)
	}
	return err
}

// hostKeyAdvice adds, to a run refused for unknown host keys, how to accept them with the
// commands that work on a cluster file.
func hostKeyAdvice(err error) error {
	var unknown *remote.HostKeyUnknownError
	if errors.As(err, &unknown) && unknown.Refused == "" {
		return fmt.Errorf("%w\ncheck each key against its host's console, then accept them with --accept-new-host-keys", err)
	}
	if errors.Is(err, remote.ErrHostKeyChanged) {
		return fmt.Errorf("%w\na node reinstalled under the same name is brought back with quorate rebuild NODE, which shows the old and new keys before it changes anything", err)
	}
	return err
}

// printObserved is each node's state as a plan saw it, one line a node.
func printObserved(w io.Writer, observed []bootstrap.Observation) {
	for _, o := range observed {
		detail := ""
		if o.Detail != "" {
			detail = ": " + o.Detail
		}
		fmt.Fprintf(w, "  %-12s %s%s\n", o.Node, o.State, detail)
	}
}

func printPlan(w io.Writer, p bootstrap.Plan) {
	fmt.Fprintf(w, "Plan for cluster %s\n", p.Cluster)
	printObserved(w, p.Observed)
	if len(p.Members) > 0 {
		fmt.Fprintf(w, "  already members, skipped: %s\n", strings.Join(p.Members, ", "))
	}
	for _, o := range p.Observed {
		if o.State == bootstrap.StateMember && !o.Quorate {
			fmt.Fprintf(w, "  warning: %s is a member but not quorate: up will verify and stop there (see quorate status)\n", o.Node)
		}
	}
	for _, b := range p.Blockers {
		fmt.Fprintf(w, "  BLOCKED %s\n", b)
	}
	if len(p.Steps) == 0 && len(p.Blockers) == 0 {
		fmt.Fprintln(w, "  nothing to do")
	}
	for i, st := range p.Steps {
		fmt.Fprintf(w, "  %d. %-40s votes %d -> %d, quorum %d -> %d, members: %s\n", i+1, st.Describe(p.Cluster),
			st.VotesBefore, st.VotesAfter, st.QuorumBefore, st.QuorumAfter, strings.Join(st.Members, " "))
		if st.Warning != "" {
			fmt.Fprintf(w, "     warning: %s\n", st.Warning)
		}
	}
}

type upJSON struct {
	playbooks.UpReport
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func printUpReport(s streams, opts globalOptions, report playbooks.UpReport, err error) {
	if opts.json {
		out := upJSON{UpReport: report, OK: err == nil}
		if err != nil {
			out.Error = err.Error()
		}
		writeJSON(s.stdout, out)
		return
	}
	for _, r := range report.Steps {
		fmt.Fprintf(s.stdout, "ok  %-40s %s (quorate and verified %s after the change)\n", r.Step.Describe(report.Plan.Cluster),
			r.Took.Round(10*time.Millisecond), r.Verified.Took.Round(10*time.Millisecond))
	}
	if f := report.Failure; f != nil {
		fmt.Fprintf(s.stdout, "FAILED %s on %s: %s\n", f.Step, f.Node, f.Error)
		for _, node := range slices.Sorted(maps.Keys(f.Diagnostics)) {
			for _, d := range f.Diagnostics[node] {
				fmt.Fprintf(s.stdout, "--- %s: %s\n%s\n", node, d.Name, indent(d.Output))
			}
		}
		fmt.Fprintln(s.stdout, "The cluster was left as it is after the last verified step; fix the cause, then run quorate up again to resume.")
		return
	}
	if err == nil {
		members := len(report.Plan.Members)
		if n := len(report.Steps); n > 0 {
			members = len(report.Steps[n-1].Step.Members)
		}
		fmt.Fprintf(s.stdout, "cluster %s is quorate with %s, every one verified (%s)\n", report.Plan.Cluster,
			plural(members, "member"), report.Took.Round(10*time.Millisecond))
	}
}

func indent(text string) string {
	if text == "" {
		return "    (nothing)"
	}
	return "    " + strings.ReplaceAll(text, "\n", "\n    ")
}
