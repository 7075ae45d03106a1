package playbooks

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/inventory"
)

// AddRequest is what add was asked: nodes of cluster.yaml to join to the running cluster.
type AddRequest struct {
	ChangeRequest
	Nodes  []string
	Ignore []string // --ignore-check
}

// NotInFileError is a node named on the command line that cluster.yaml does not list.
type NotInFileError struct{ Node, File string }

func (e *NotInFileError) Error() string {
	return fmt.Sprintf("%s is not a node of %s: add it there (name, address, links) first", e.Node, e.File)
}

// Add joins the named nodes to the existing cluster, one at a time, each verified from every
// member; a QDevice is removed first and set up again for an even count. It learns the
// cluster from any reachable member and never creates one.
func (s *Session) Add(ctx context.Context, req AddRequest) (report ChangeReport, err error) {
	start := time.Now()
	defer func() { report.Took = time.Since(start) }()
	for _, n := range req.Nodes {
		if !inFile(req.Inventory, n) {
			return report, &NotInFileError{Node: n, File: req.Inventory.File}
		}
	}
	r := s.openChange(ctx, req.ChangeRequest)
	defer r.Close()
	if err := ctx.Err(); err != nil {
		return report, context.Cause(ctx)
	}
	release, err := r.lock(ctx, "add")
	if err != nil {
		return report, err
	}
	defer release()
	plan := bootstrap.PlanAdd(req.Inventory, r.view, r.observed, req.Nodes)
	report.Plan = plan
	if len(plan.Blockers) == 0 && slices.ContainsFunc(plan.Steps, func(st bootstrap.ChangeStep) bool { return st.Kind == bootstrap.StepJoin }) {
		// Preflight looks at the nodes the joins concern: the joiners and the members. A node of
		// the file that is neither (down, or for later) is no reason to refuse.
		sub, conns := r.subset(append(planNodes(plan), r.view.Through))
		pf, err := s.runPreflight(ctx, PreflightRequest{ClusterRequest: ClusterRequest{Inventory: sub, Access: req.Access}, Ignore: req.Ignore}, conns, r.view.Through)
		report.Preflight = pf
		if err != nil {
			return report, err
		}
	}
	return report, s.runChange(ctx, req.ChangeRequest, r, plan, &report)
}

func inFile(inv *inventory.Inventory, name string) bool {
	return slices.ContainsFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name == name })
}

// planNodes are the nodes a plan's steps involve: each step's node and the members after it.
func planNodes(plan bootstrap.ChangePlan) []string {
	var names []string
	for _, st := range plan.Steps {
		for _, n := range append([]string{st.Node, st.Through}, st.Members...) {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// subset is the cluster file and the connection set cut down to names, in the file's order.
func (r *changeRun) subset(names []string) (*inventory.Inventory, *Conns) {
	inv := *r.inv
	inv.Nodes = nil
	conns := &Conns{}
	for i, n := range r.inv.Nodes {
		if slices.Contains(names, n.Name) {
			inv.Nodes = append(inv.Nodes, n)
			conns.list = append(conns.list, r.conns.list[i])
		}
	}
	return &inv, conns
}
