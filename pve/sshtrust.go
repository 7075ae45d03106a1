package pve

import (
	"context"
	"fmt"
	"strings"

	"github.com/quorate/quorate/remote"
)

// The SSH trust `pvecm add --use_ssh` (docs/pve.md §2.4) and `pvecm qdevice setup` need: a
// node's root key authorised on another host, and that host's key known to the node. quorate
// adds such lines for one operation alone, each tagged with a marker, and removes exactly
// those lines afterwards, leaving whatever PVE itself added.

// RootPublicKey is root's /root/.ssh/id_rsa.pub ("ssh-rsa AAAA..."), the key PVE's tools log
// in with, without its comment. A node without one gets it made as pvecm's own
// setup_rootsshconfig would make it, moments later, in the join (docs/pve.md §2.1).
func (n *Node) RootPublicKey(ctx context.Context) (string, error) {
	line := "cd / && { [ -f /root/.ssh/id_rsa.pub ] || { mkdir -p -m 700 /root/.ssh && ssh-keygen -q -t rsa -N '' -b 4096 -f /root/.ssh/id_rsa >/dev/null; }; } && cat /root/.ssh/id_rsa.pub"
	// A 4096-bit key can take a busy node well over the query timeout to make.
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Create)
	if err != nil {
		return "", n.wrap("root ssh key", err)
	}
	f := strings.Fields(strings.TrimSpace(string(res.Stdout)))
	if res.ExitCode != 0 || len(f) < 2 || !strings.HasPrefix(f[0], "ssh-") {
		return "", n.wrap("root ssh key", fmt.Errorf("no usable /root/.ssh/id_rsa.pub (pvecm updatecerts creates it): %s", lastLine(string(res.Stderr))))
	}
	return f[0] + " " + f[1], nil
}

// AppendMarked appends line, tagged with marker as its last field, to file (created mode
// 0600 when absent). It writes through a symlink (root's authorized_keys points into /etc/pve
// on PVE) rather than replacing it.
func (n *Node) AppendMarked(ctx context.Context, file, line, marker string) error {
	if strings.ContainsAny(line+marker, "\n\r") || marker == "" || strings.Contains(line, marker) {
		return n.wrap("ssh trust", fmt.Errorf("bad line or marker"))
	}
	cmd := fmt.Sprintf("cd / && mkdir -p -m 700 /root/.ssh && (umask 077 && printf '%%s\\n' %s >> %s)",
		remote.Quote(line+" "+marker), remote.Quote(file))
	res, err := n.run(ctx, remote.Command{Line: cmd}, n.timeouts.Query)
	if err == nil && res.ExitCode != 0 {
		err = toolFailed(res, string(res.Stderr))
	}
	return n.wrap("ssh trust: add to "+file, err)
}

// RemoveMarked removes the lines tagged with marker from file, if there are any, writing
// through a symlink.
func (n *Node) RemoveMarked(ctx context.Context, file, marker string) error {
	if marker == "" {
		return n.wrap("ssh trust", fmt.Errorf("empty marker"))
	}
	q := remote.Quote(file)
	cmd := fmt.Sprintf("cd / && [ ! -e %s ] || { t=$(mktemp) && { grep -vF -- %s %s > \"$t\"; [ $? -le 1 ]; } && cat \"$t\" > %s; r=$?; rm -f \"$t\"; exit $r; }",
		q, remote.Quote(marker), q, q)
	res, err := n.run(ctx, remote.Command{Line: cmd}, n.timeouts.Query)
	if err == nil && res.ExitCode != 0 {
		err = toolFailed(res, string(res.Stderr))
	}
	return n.wrap("ssh trust: remove from "+file, err)
}

// HasMarked tells whether file holds a line tagged with marker.
func (n *Node) HasMarked(ctx context.Context, file, marker string) (bool, error) {
	res, err := n.run(ctx, remote.Command{Line: fmt.Sprintf("cd / && grep -cF -- %s %s", remote.Quote(marker), remote.Quote(file))}, n.timeouts.Query)
	if err != nil {
		return false, n.wrap("ssh trust", err)
	}
	return res.ExitCode == 0 && strings.TrimSpace(string(res.Stdout)) != "0", nil
}

// RootKeyInCluster tells whether this node's root key is in the cluster's authorized_keys
// (/etc/pve/priv/authorized_keys), where a finished join puts it (pvecm updatecerts, the
// last step of finish_join, docs/pve.md §2.2): without it, migration and `pvecm` over SSH
// from other members fail. false on a node without a root key.
func (n *Node) RootKeyInCluster(ctx context.Context) (bool, error) {
	line := `cd / && k=$(cut -d' ' -f2 /root/.ssh/id_rsa.pub 2>/dev/null) && [ -n "$k" ] && grep -qF -- "$k" /etc/pve/priv/authorized_keys && echo yes || echo no`
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return false, n.wrap("root key in cluster", err)
	}
	return strings.TrimSpace(string(res.Stdout)) == "yes", nil
}
