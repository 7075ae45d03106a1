package pve

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/quorate/quorate/remote"
)

// ErrCorosyncDown is reported when no source can answer because corosync is not running and
// pmxcfs cannot tell either; the node may be standalone or a member that lost its corosync.
var ErrCorosyncDown = errors.New("corosync is not running and pmxcfs cannot answer")

const notInClusterText = "does not exist - is this node part of a cluster?"

// SourceError is why one source of cluster status gave no answer.
type SourceError struct {
	Source Source
	Err    error
}

func (e *SourceError) Error() string { return string(e.Source) + ": " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// StatusUnavailableError is Status failing after every source it tried: Tried holds each
// source's own error in the order tried, for errors.As to reach. Cause, when set, is what
// the failures mean together (ErrCorosyncDown).
type StatusUnavailableError struct {
	Cause error
	Tried []*SourceError
}

func (e *StatusUnavailableError) Error() string {
	tried := make([]string, len(e.Tried))
	for i, t := range e.Tried {
		tried[i] = t.Error()
	}
	if e.Cause == nil {
		return strings.Join(tried, "; ")
	}
	return fmt.Sprintf("%v (%s)", e.Cause, strings.Join(tried, "; "))
}

func (e *StatusUnavailableError) Unwrap() []error {
	errs := make([]error, 0, len(e.Tried)+1)
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	for _, t := range e.Tried {
		errs = append(errs, t)
	}
	return errs
}

// exitStatusError is a tool that ran and failed without output quorate could read.
type exitStatusError struct {
	Code int
	Tail string // its last lines
}

func (e *exitStatusError) Error() string {
	return fmt.Sprintf("exit status %d: %s", e.Code, e.Tail)
}

func toolFailed(res remote.Result, streams string) error {
	return &exitStatusError{Code: res.ExitCode, Tail: strings.Join(lastLines(streams, 2), " / ")}
}

// Status asks the node about its cluster: pvesh's JSON first (and `pvecm status` for the
// votequorum figures pvesh lacks), then `pvecm status`, then `corosync-quorumtool -siH` when
// pmxcfs cannot answer. pvesh's standalone answer is confirmed by `pvecm status`, since a
// member whose corosync is down looks standalone to pvesh. The exit status of pvecm never
// decides the answer: 2 means both "not quorate" and "no cluster". When no source answers,
// the error is a *StatusUnavailableError holding each source's cause.
func (n *Node) Status(ctx context.Context) (ClusterStatus, error) {
	unavailable := &StatusUnavailableError{}
	tried := func(src Source, err error) {
		unavailable.Tried = append(unavailable.Tried, &SourceError{Source: src, Err: err})
	}
	res, err := n.run(ctx, remote.Command{Line: "cd / && pvesh get /cluster/status --output-format json"}, n.timeouts.Query)
	if err != nil {
		return ClusterStatus{}, n.wrap("status", err)
	}
	if res.ExitCode == 0 {
		st, perr := ParsePveshClusterStatus(string(res.Stdout))
		if perr == nil {
			if st.State == NotInCluster {
				return n.confirmStandalone(ctx, st)
			}
			n.addVotes(ctx, &st)
			return st, nil
		}
		tried(SourcePvesh, perr)
	} else {
		tried(SourcePvesh, toolFailed(res, string(res.Stderr)))
	}

	st, _, err := n.pvecmStatus(ctx)
	if err == nil {
		return st, nil
	}
	var pe *ParseError
	var failed *exitStatusError
	if !errors.As(err, &pe) && !errors.As(err, &failed) {
		return ClusterStatus{}, n.wrap("status", err)
	}
	tried(SourcePvecm, err)

	res, err = n.run(ctx, remote.Command{Line: "cd / && corosync-quorumtool -siH"}, n.timeouts.Query)
	if err != nil {
		return ClusterStatus{}, n.wrap("status", err)
	}
	st, perr := ParseQuorumStatus(string(res.Stdout))
	if perr == nil {
		st.Source = SourceQuorumtool
		return st, nil
	}
	if strings.Contains(string(res.Stderr), "Cannot initialize CMAP service") {
		unavailable.Cause = ErrCorosyncDown
		return ClusterStatus{}, n.wrap("status", unavailable)
	}
	tried(SourceQuorumtool, toolFailed(res, string(res.Stderr)+string(res.Stdout)))
	return ClusterStatus{}, n.wrap("status", unavailable)
}

// pvecmStatus runs `pvecm status`, telling "not in a cluster" by its text.
func (n *Node) pvecmStatus(ctx context.Context) (ClusterStatus, remote.Result, error) {
	res, err := n.run(ctx, remote.Command{Line: "cd / && pvecm status"}, n.timeouts.Query)
	if err != nil {
		return ClusterStatus{}, res, err
	}
	combined := string(res.Stdout) + string(res.Stderr)
	if strings.Contains(combined, notInClusterText) {
		return ClusterStatus{State: NotInCluster, Source: SourcePvecm}, res, nil
	}
	st, perr := ParseQuorumStatus(string(res.Stdout))
	if perr == nil {
		return st, res, nil
	}
	if res.ExitCode != 0 {
		return ClusterStatus{}, res, toolFailed(res, string(res.Stderr))
	}
	return ClusterStatus{}, res, perr
}

// confirmStandalone checks pvesh's standalone answer with `pvecm status`. pmxcfs learns the
// cluster from corosync (cmap), so a member whose corosync is not running gets the same fake
// nodeid 0 entry as a node that never joined; only /etc/pve/corosync.conf, which pvecm status
// looks for first, tells the two apart.
func (n *Node) confirmStandalone(ctx context.Context, st ClusterStatus) (ClusterStatus, error) {
	q, res, err := n.pvecmStatus(ctx)
	switch {
	case err == nil && q.State == NotInCluster:
		return st, nil
	case err == nil:
		return q, nil // corosync answers after all: pmxcfs had not caught up
	}
	var pe *ParseError
	var failed *exitStatusError
	if !errors.As(err, &pe) && !errors.As(err, &failed) {
		return ClusterStatus{}, n.wrap("status", err)
	}
	if strings.Contains(string(res.Stderr), "Cannot initialize CMAP service") {
		return ClusterStatus{}, n.wrap("status", fmt.Errorf("%w (pvesh shows no cluster, but /etc/pve/corosync.conf exists)", ErrCorosyncDown))
	}
	return ClusterStatus{}, n.wrap("status", fmt.Errorf("pvesh shows no cluster, but pvecm status does not confirm it: %w", err))
}

// addVotes fills in votequorum figures from `pvecm status`; pvesh is still the authority on
// membership, so a failure here only leaves VotesKnown false.
func (n *Node) addVotes(ctx context.Context, st *ClusterStatus) {
	q, _, err := n.pvecmStatus(ctx)
	if err != nil || q.State == NotInCluster || !q.VotesKnown {
		return
	}
	st.VotesKnown = true
	st.ExpectedVotes, st.HighestExpected, st.TotalVotes, st.Quorum = q.ExpectedVotes, q.HighestExpected, q.TotalVotes, q.Quorum
	st.Flags, st.QDevice, st.RingID, st.LocalNodeID = q.Flags, q.QDevice, q.RingID, q.LocalNodeID
	for i := range st.Members {
		for _, qm := range q.Members {
			if qm.NodeID == st.Members[i].NodeID {
				st.Members[i].Votes = qm.Votes
				st.Members[i].QDevice = qm.QDevice
			}
		}
	}
}

// JoinInfo asks a cluster member for what a joiner needs: nodelist with fingerprints, totem.
// A standalone node answers ErrNotInCluster.
func (n *Node) JoinInfo(ctx context.Context) (JoinInfo, error) {
	res, err := n.run(ctx, remote.Command{Line: "cd / && pvesh get /cluster/config/join --output-format json"}, n.timeouts.Query)
	if err != nil {
		return JoinInfo{}, n.wrap("join info", err)
	}
	if strings.Contains(string(res.Stderr)+string(res.Stdout), "node is not in a cluster") {
		return JoinInfo{}, n.wrap("join info", ErrNotInCluster)
	}
	if res.ExitCode != 0 {
		return JoinInfo{}, n.wrap("join info", fmt.Errorf("pvesh exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}
	ji, err := ParseJoinInfo(string(res.Stdout))
	return ji, n.wrap("join info", err)
}

// Nodelist asks for the corosync nodelist (`pvesh get /cluster/config/nodes`), offline nodes
// included. A standalone node has no nodelist: ErrNotInCluster.
func (n *Node) Nodelist(ctx context.Context) ([]ClusterNode, error) {
	res, err := n.run(ctx, remote.Command{Line: "cd / && pvesh get /cluster/config/nodes --output-format json"}, n.timeouts.Query)
	if err != nil {
		return nil, n.wrap("nodelist", err)
	}
	if res.ExitCode != 0 {
		if strings.Contains(string(res.Stderr), notInClusterText) || strings.Contains(string(res.Stderr), "not in a cluster") {
			return nil, n.wrap("nodelist", ErrNotInCluster)
		}
		return nil, n.wrap("nodelist", fmt.Errorf("pvesh exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}
	nodes, err := ParseNodelist(string(res.Stdout))
	if err != nil {
		return nil, n.wrap("nodelist", err)
	}
	if len(nodes) == 0 {
		return nil, n.wrap("nodelist", ErrNotInCluster)
	}
	return nodes, nil
}
