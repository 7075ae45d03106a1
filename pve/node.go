// Package pve is everything quorate knows about one Proxmox VE node: how to ask it questions
// (facts, cluster status, join information, versions, corosync links) and how to make it act
// (create, join, delnode, updatecerts, qdevice), with every answer parsed into types.
//
// PVE's tools mislead when read naively: pvecm add and create exit 0 when they fail, "not in a
// cluster" and "not quorate" share an exit code, and some prompts appear only on a terminal.
// That knowledge lives here so that no other package parses Proxmox text.
package pve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quorate/quorate/remote"
)

// Runner runs commands on one host. remote.Runner (and so *remote.Client) satisfies it; tests
// use fakes.
type Runner interface {
	Host() string
	Run(ctx context.Context, cmd remote.Command) (remote.Result, error)
}

// Timeouts bound each kind of call. A zero field means the default from DefaultTimeouts.
type Timeouts struct {
	Query       time.Duration // status, join info, versions, links, certificates
	Facts       time.Duration
	Create      time.Duration
	Join        time.Duration // pvecm add waits for quorum without a limit of its own
	DelNode     time.Duration
	UpdateCerts time.Duration // pvecm's own limit is 80 s
	QDevice     time.Duration
}

// DefaultTimeouts are generous: a slow node is better than a half-finished join.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Query:       30 * time.Second,
		Facts:       45 * time.Second,
		Create:      2 * time.Minute,
		Join:        5 * time.Minute,
		DelNode:     time.Minute,
		UpdateCerts: 2 * time.Minute,
		QDevice:     5 * time.Minute,
	}
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	return Timeouts{
		Query:       pick(t.Query, d.Query),
		Facts:       pick(t.Facts, d.Facts),
		Create:      pick(t.Create, d.Create),
		Join:        pick(t.Join, d.Join),
		DelNode:     pick(t.DelNode, d.DelNode),
		UpdateCerts: pick(t.UpdateCerts, d.UpdateCerts),
		QDevice:     pick(t.QDevice, d.QDevice),
	}
}

// Node is one Proxmox VE host reached through a Runner.
type Node struct {
	runner   Runner
	timeouts Timeouts
}

// NewNode wraps r with the default timeouts.
func NewNode(r Runner) *Node {
	return &Node{runner: r, timeouts: DefaultTimeouts()}
}

// WithTimeouts returns a copy of n using t; zero fields keep their defaults.
func (n *Node) WithTimeouts(t Timeouts) *Node {
	return &Node{runner: n.runner, timeouts: t.withDefaults()}
}

// Host is the name of the host in logs and errors.
func (n *Node) Host() string { return n.runner.Host() }

// run runs cmd bounded by timeout, both as our context deadline and as the command's own
// timeout, so a hung remote process is killed rather than left behind. A non-zero exit is not
// an error here: callers read Result.ExitCode, because for PVE tools it carries no verdict.
func (n *Node) run(ctx context.Context, cmd remote.Command, timeout time.Duration) (remote.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd.Timeout = timeout
	res, err := n.runner.Run(ctx, cmd)
	var exitErr *remote.ExitError
	if errors.As(err, &exitErr) {
		if res.ExitCode == 0 {
			res.ExitCode = exitErr.Code
		}
		return res, nil
	}
	return res, err
}

// wrap names the step that failed. The host is left out: the transport's errors carry it as a
// field, and the layer that fans out over hosts names it once, by its node name when it knows
// it.
func (n *Node) wrap(step string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", step, err)
}

// remote.Runner must keep satisfying Runner: this fails to compile if the two drift apart.
var _ Runner = remote.Runner(nil)
