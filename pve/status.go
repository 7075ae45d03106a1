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

// Status asks the node about its cluster: pvesh's JSON first (and `pvecm status` for the
// votequorum figures pvesh lacks), then `pvecm status`, then `corosync-quorumtool -siH` when
// pmxcfs cannot answer. pvesh's standalone answer is confirmed by `pvecm status`, since a
// member whose corosync is down looks standalone to pvesh. The exit status of pvecm never
// decides the answer: 2 means both "not quorate" and "no cluster".
func (n *Node) Status(ctx context.Context) (ClusterStatus, error) {
	var failures []string
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
		failures = append(failures, "pvesh: "+perr.Error())
	} else {
		failures = append(failures, fmt.Sprintf("pvesh: exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}

	st, _, err := n.pvecmStatus(ctx)
	if err == nil {
		return st, nil
	}
	var pe *ParseError
	if !errors.As(err, &pe) && !errors.Is(err, errToolFailed) {
		return ClusterStatus{}, n.wrap("status", err)
	}
	failures = append(failures, "pvecm status: "+err.Error())

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
		return ClusterStatus{}, n.wrap("status", fmt.Errorf("%w (%s)", ErrCorosyncDown, strings.Join(failures, "; ")))
	}
	failures = append(failures, fmt.Sprintf("corosync-quorumtool: exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr)+string(res.Stdout), 2), " / ")))
	return ClusterStatus{}, n.wrap("status", errors.New(strings.Join(failures, "; ")))
}

var errToolFailed = errors.New("tool failed")

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
		return ClusterStatus{}, res, fmt.Errorf("%w: exit status %d: %s", errToolFailed, res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / "))
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
	if !errors.As(err, &pe) && !errors.Is(err, errToolFailed) {
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
