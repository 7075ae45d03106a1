package pve

import (
	"context"
	"fmt"
	"strings"

	"github.com/quorate/quorate/remote"
)

// DelNodeResult is a delnode pvecm reported as done.
type DelNodeResult struct {
	// Killed is false when corosync-cfgtool -k could not reach the node, which is normal for a
	// node that is already off (the docs say to ignore "Could not kill node").
	Killed bool
}

// DelNodeCommand builds `pvecm delnode <name>`. The CLI refuses IP addresses (docs/pve.md §3.4).
func DelNodeCommand(name string) (remote.Command, error) {
	if !validNodeName(name) {
		return remote.Command{}, fmt.Errorf("delnode: %q is not a node name", clip(name, 60))
	}
	return remote.Command{Line: shellLine([]string{"pvecm", "delnode", name})}, nil
}

var delnodeRules = append([]rule{
	{FailDeleteSelf, has("Cannot delete myself from cluster!")},
	{FailNoQuorum, has("cluster not ready - no quorum?")},
	{FailUnknownNode, has("is not a known host of the cluster")},
}, commonRules...)

// ClassifyDelNode reads `pvecm delnode` output; delnode is not a worker, so its exit status
// counts as well, but only together with the absence of every known error text.
func ClassifyDelNode(stdout, stderr string, exitCode int) (DelNodeResult, *Failure) {
	var r DelNodeResult
	if f := classify("delnode", stdout, stderr, delnodeRules); f != nil {
		return r, f
	}
	if exitCode != 0 {
		return r, unknownFailure("delnode", stdout, stderr)
	}
	r.Killed = strings.Contains(stdout, "Killing node ") && !strings.Contains(stdout+stderr, "Could not kill node")
	return r, nil
}

// DelNode removes name from the cluster, run on a remaining member. The node must be off.
func (n *Node) DelNode(ctx context.Context, name string) (DelNodeResult, error) {
	cmd, err := DelNodeCommand(name)
	if err != nil {
		return DelNodeResult{}, n.wrap("delnode", err)
	}
	res, err := n.run(ctx, cmd, n.timeouts.DelNode)
	if err != nil {
		return DelNodeResult{}, n.wrap("delnode", err)
	}
	r, f := ClassifyDelNode(string(res.Stdout), string(res.Stderr), res.ExitCode)
	if f != nil {
		return r, n.wrap("delnode", f)
	}
	return r, nil
}

// UpdateCertsOpts are the options of `pvecm updatecerts`.
type UpdateCertsOpts struct {
	Force             bool // regenerate the node certificate
	UnmergeKnownHosts bool // drop the legacy shared known_hosts (docs/pve.md §7)
}

// UpdateCertsCommand builds `pvecm updatecerts`.
func UpdateCertsCommand(o UpdateCertsOpts) remote.Command {
	args := []string{"pvecm", "updatecerts"}
	if o.Force {
		args = append(args, "--force", "1")
	}
	if o.UnmergeKnownHosts {
		args = append(args, "--unmerge-known-hosts", "1")
	}
	return remote.Command{Line: shellLine(args)}
}

var updatecertsRules = append([]rule{
	{FailNoQuorum, has("no quorum - unable to update files")},
	{FailTimeout, has("got timeout when trying to ensure cluster certificates")},
}, commonRules...)

// UpdateCerts runs `pvecm updatecerts` (docs/pve.md §3.5).
func (n *Node) UpdateCerts(ctx context.Context, o UpdateCertsOpts) error {
	res, err := n.run(ctx, UpdateCertsCommand(o), n.timeouts.UpdateCerts)
	if err != nil {
		return n.wrap("updatecerts", err)
	}
	return n.wrap("updatecerts", nilIfNoFailure(ClassifyUpdateCerts(string(res.Stdout), string(res.Stderr), res.ExitCode)))
}

// ClassifyUpdateCerts reads `pvecm updatecerts` output; nil means done.
func ClassifyUpdateCerts(stdout, stderr string, exitCode int) *Failure {
	if f := classify("updatecerts", stdout, stderr, updatecertsRules); f != nil {
		return f
	}
	if exitCode != 0 || !strings.Contains(stdout, "(re)generate node files") {
		return unknownFailure("updatecerts", stdout, stderr)
	}
	return nil
}

// nilIfNoFailure turns a nil *Failure into a nil error (a typed nil would not compare nil).
func nilIfNoFailure(f *Failure) error {
	if f == nil {
		return nil
	}
	return f
}

// QDeviceSetupCommand builds `pvecm qdevice setup <address>`. pvecm first runs an interactive
// ssh-copy-id to the qnetd host, so root's key must already be authorised there.
func QDeviceSetupCommand(address string, force bool) (remote.Command, error) {
	if err := validHost(address); err != nil {
		return remote.Command{}, fmt.Errorf("qdevice setup: %w", err)
	}
	args := []string{"pvecm", "qdevice", "setup", address}
	if force {
		args = append(args, "--force", "1")
	}
	return remote.Command{Line: shellLine(args)}, nil
}

var qdeviceRules = append([]rule{
	{FailNodeOffline, has("All nodes must be online!")},
	{FailQDeviceExists, has("QDevice already configured!", "Qdevice already configured, must be removed")},
	{FailOddNodeCount, has("Clusters with an odd node count are not officially supported!")},
	{FailCertStoreExists, has("QDevice certificate store already initialised")},
	{FailQDeviceMissing, has("No QDevice configured!")},
	{FailSSH, has("Permission denied", "Host key verification failed", "ssh-copy-id: ERROR")},
}, commonRules...)

// QDeviceSetup adds the qnetd host at address as a QDevice (docs/pve.md §3.6), run on one member.
func (n *Node) QDeviceSetup(ctx context.Context, address string, force bool) error {
	cmd, err := QDeviceSetupCommand(address, force)
	if err != nil {
		return n.wrap("qdevice setup", err)
	}
	res, err := n.run(ctx, cmd, n.timeouts.QDevice)
	if err != nil {
		return n.wrap("qdevice setup", err)
	}
	return n.wrap("qdevice setup", nilIfNoFailure(ClassifyQDevice("qdevice setup", string(res.Stdout), string(res.Stderr), res.ExitCode)))
}

// QDeviceRemove removes the QDevice (docs/pve.md §3.6).
func (n *Node) QDeviceRemove(ctx context.Context) error {
	res, err := n.run(ctx, remote.Command{Line: shellLine([]string{"pvecm", "qdevice", "remove"})}, n.timeouts.QDevice)
	if err != nil {
		return n.wrap("qdevice remove", err)
	}
	return n.wrap("qdevice remove", nilIfNoFailure(ClassifyQDevice("qdevice remove", string(res.Stdout), string(res.Stderr), res.ExitCode)))
}

// ClassifyQDevice reads `pvecm qdevice setup|remove` output; nil means done. Setup is done
// when the configuration step was reached, remove when pvecm said "Removed Qdevice.".
func ClassifyQDevice(op, stdout, stderr string, exitCode int) *Failure {
	done := "INFO: add QDevice to cluster configuration"
	if op == "qdevice remove" {
		done = "Removed Qdevice."
	}
	// Success first: ssh-copy-id may print "Permission denied" for a key it tried before one
	// that worked.
	if exitCode == 0 && strings.Contains(stdout, done) {
		return nil
	}
	if f := classify(op, stdout, stderr, qdeviceRules); f != nil {
		return f
	}
	return unknownFailure(op, stdout, stderr)
}
