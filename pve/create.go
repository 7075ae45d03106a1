package pve

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/quorate/quorate/remote"
)

// CreateOpts are the options of `pvecm create`.
type CreateOpts struct {
	ClusterName string
	Links       []Link // none: pvecm uses the address the node name resolves to
	NodeID      int    // 0: pvecm's default of 1
	Votes       int    // 0: pvecm's default of 1
	// TokenCoefficient is passed when > 0; pvecm before 9.1.0 does not know the option.
	TokenCoefficient int
}

// CreateResult is a create pvecm reported as done.
type CreateResult struct {
	// KeyGenerated is false when an existing /etc/corosync/authkey was reused (docs/pve.md §1.4).
	KeyGenerated bool
}

// CreateCommand builds the command line of `pvecm create`.
func CreateCommand(o CreateOpts) (remote.Command, error) {
	if err := validClusterName(o.ClusterName); err != nil {
		return remote.Command{}, fmt.Errorf("create: %w", err)
	}
	args := []string{"pvecm", "create", o.ClusterName}
	links, err := linkArgs(o.Links, true)
	if err != nil {
		return remote.Command{}, fmt.Errorf("create: %w", err)
	}
	args = append(args, links...)
	if o.NodeID < 0 || o.Votes < 0 || o.TokenCoefficient < 0 {
		return remote.Command{}, fmt.Errorf("create: node id, votes and token coefficient cannot be negative")
	}
	if o.NodeID > 0 {
		args = append(args, "--nodeid", strconv.Itoa(o.NodeID))
	}
	if o.Votes > 0 {
		args = append(args, "--votes", strconv.Itoa(o.Votes))
	}
	if o.TokenCoefficient > 0 {
		args = append(args, "--token-coefficient", strconv.Itoa(o.TokenCoefficient))
	}
	return remote.Command{Line: shellLine(args)}, nil
}

// Create runs `pvecm create` on this node. Like add, create runs in a worker and exits 0 when
// it fails, so the verdict comes from its output (docs/pve.md §1.2-1.5).
func (n *Node) Create(ctx context.Context, o CreateOpts) (CreateResult, error) {
	cmd, err := CreateCommand(o)
	if err != nil {
		return CreateResult{}, n.wrap("create", err)
	}
	res, err := n.run(ctx, cmd, n.timeouts.Create)
	if err != nil {
		return CreateResult{}, n.wrap("create", err)
	}
	cr, f := ClassifyCreate(string(res.Stdout), string(res.Stderr))
	if f != nil {
		return cr, n.wrap("create", f)
	}
	return cr, nil
}

var createRules = append([]rule{
	{FailClusterExists, has("cluster config '/etc/pve/corosync.conf' already exists")},
	{FailNameUnresolved, has("cannot get the cluster IP")},
}, commonRules...)

const createDoneLine = "Restart corosync and cluster filesystem"

// ClassifyCreate reads the output of `pvecm create`. Success is the final line of docs/pve.md §1.4
// with nothing on stderr: the worker's failure is the only thing pvecm prints there.
func ClassifyCreate(stdout, stderr string) (CreateResult, *Failure) {
	var cr CreateResult
	done := false
	for _, l := range splitLines(stdout) {
		switch strings.TrimSpace(l) {
		case "Writing corosync key to /etc/corosync/authkey.":
			cr.KeyGenerated = true
		case createDoneLine:
			done = true
		}
	}
	if f := classify("create", stdout, stderr, createRules); f != nil {
		return cr, f
	}
	if done && len(lastLines(stderr, 1)) == 0 {
		return cr, nil
	}
	return cr, unknownFailure("create", stdout, stderr)
}
