package playbooks

import (
	"context"
	"fmt"
	"time"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/pve"
)

// RemoveRequest is what remove was asked: a node to take out of its cluster for good.
type RemoveRequest struct {
	ChangeRequest
	Node string
}

// Remove takes a node out of the cluster for good: refused while it is online in the
// membership unless Opts.Separate has it separated cleanly first; its /etc/pve/nodes directory
// saved locally, pvecm delnode on a member, the same clean-up as rebuild, the QDevice
// re-evaluated for the new count; verified from every remaining member.
func (s *Session) Remove(ctx context.Context, req RemoveRequest) (report ChangeReport, err error) {
	start := time.Now()
	defer func() { report.Took = time.Since(start) }()
	r := s.openChange(ctx, req.ChangeRequest)
	defer r.Close()
	if err := ctx.Err(); err != nil {
		return report, context.Cause(ctx)
	}
	_, inList := r.viewNode(req.Node)
	if !inList && !inFile(req.Inventory, req.Node) {
		return report, fmt.Errorf("nothing changed: %s is neither in %s nor in the nodelist of cluster %s", req.Node, req.Inventory.File, r.view.Name)
	}
	release, err := r.lock(ctx, "remove")
	if err != nil {
		return report, err
	}
	defer release()
	var stale *pve.StaleNode
	if !inList && r.view.Through != "" {
		// Gone from the nodelist already (an earlier run, or by hand): is anything left?
		found, err := r.nodes[r.view.Through].StaleNode(ctx, pve.StaleNodeOpts{Name: req.Node, Addrs: fileAddrs(req, req.Node)})
		if err != nil {
			return report, &HostError{Host: r.view.Through, Err: err}
		}
		stale = &found
	}
	plan := bootstrap.PlanRemove(req.Inventory, r.view, r.observed, req.Node, req.Opts, stale)
	return report, s.runChange(ctx, req.ChangeRequest, r, plan, &report)
}

// fileAddrs are the IP addresses cluster.yaml gives a node (its links).
func fileAddrs(req RemoveRequest, name string) []string {
	for _, n := range req.Inventory.Nodes {
		if n.Name == name {
			return n.Links
		}
	}
	return nil
}
