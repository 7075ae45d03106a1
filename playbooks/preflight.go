package playbooks

import (
	"context"
	"errors"
	"fmt"

	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/remote"
)

// PreflightRequest is what preflight was asked.
type PreflightRequest struct {
	ClusterRequest
	Ignore []string // --ignore-check: these checks' errors become warnings
}

// PreflightFailedError is preflight finding errors that were not ignored; the report says
// which, with their fixes.
type PreflightFailedError struct{ Report *preflight.Report }

func (e *PreflightFailedError) Error() string {
	s := e.Report.Summary()
	return fmt.Sprintf("preflight found %d error(s) (and %d warning(s)); nothing was changed", s.Errors, s.Warnings)
}

// Preflight connects to every node and runs every check; it changes nothing on any host
// beyond the short-lived probe responders it starts.
func (s *Session) Preflight(ctx context.Context, req PreflightRequest) (*preflight.Report, error) {
	if err := preflight.ValidateIgnore(req.Ignore); err != nil {
		return nil, err
	}
	targets := make([]Target, len(req.Inventory.Nodes))
	for i, n := range req.Inventory.Nodes {
		targets[i] = Target{Name: n.Name, Address: n.Address}
	}
	conns := s.Connect(ctx, s.clusterConfig(req.Access), targets)
	defer conns.Close()
	return s.runPreflight(ctx, req, conns, "")
}

// runPreflight runs the checks over an open connection set. joinThrough is the member the
// plan joins through ("" lets preflight choose).
func (s *Session) runPreflight(ctx context.Context, req PreflightRequest, conns *Conns, joinThrough string) (*preflight.Report, error) {
	var targets []preflight.Target
	for i, conn := range conns.All() {
		t := preflight.Target{Node: req.Inventory.Nodes[i], DialErr: conn.Err}
		var he *HostError
		if errors.As(conn.Err, &he) {
			t.DialErr = he.Err // preflight names the node itself
		}
		if conn.Client != nil {
			t.Runner = conn.Client
			t.HostKey = remote.Fingerprint(conn.Client.HostKey())
		}
		targets = append(targets, t)
	}
	report, err := preflight.Run(ctx, req.Inventory, targets, preflight.Options{Ignore: req.Ignore, JoinThrough: joinThrough, Log: s.Log})
	if err != nil {
		return report, err
	}
	if report.HasErrors() {
		return report, &PreflightFailedError{Report: report}
	}
	return report, nil
}
