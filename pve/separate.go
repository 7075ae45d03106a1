package pve

import (
	"context"
	"strings"

	"github.com/quorate/quorate/remote"
)

// separateScript is pve-docs' "Separate a Node Without Reinstalling" (docs/pve.md §7), run on
// the node that leaves: pmxcfs in local mode to delete the cluster configuration, corosync's
// files removed, pve-cluster started again standalone. Its guests and storage stay; the
// cluster is told nothing (pvecm delnode on a member does that).
const separateScript = `set -u
systemctl stop pve-cluster
systemctl stop corosync
pmxcfs -l
rm -f /etc/pve/corosync.conf
rm -rf /etc/corosync/*
killall pmxcfs
for i in 1 2 3 4 5 6 7 8 9 10; do pidof pmxcfs >/dev/null 2>&1 || break; sleep 0.5; done
systemctl start pve-cluster
rm -rf /var/lib/corosync/*
if [ -e /etc/pve/corosync.conf ] || [ -e /etc/corosync/corosync.conf ]; then echo "still clustered"; exit 1; fi
echo separated
`

// Separate takes this node out of its cluster's configuration on its own side; run it on the
// node, after which it is standalone and the cluster sees it offline.
func (n *Node) Separate(ctx context.Context) error {
	res, err := n.run(ctx, remote.Command{Line: "cd / && sh -s", Stdin: []byte(separateScript)}, n.timeouts.Create)
	if err != nil {
		return n.wrap("separate", err)
	}
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "separated") {
		return n.wrap("separate", toolFailed(res, string(res.Stdout)+string(res.Stderr)))
	}
	return nil
}
