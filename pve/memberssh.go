package pve

import (
	"context"
	"fmt"
	"strings"

	"github.com/quorate/quorate/remote"
)

// SSHToMemberCommand is root SSH from this node to the member name at ip as PVE's own
// migration and qdevice commands log in: the member's key pinned from
// /etc/pve/nodes/<name>/ssh_known_hosts under its name, nothing else trusted (pve-cluster
// src/PVE/SSHInfo.pm ssh_info_to_command, docs/pve.md §7).
func SSHToMemberCommand(name, ip string) (remote.Command, error) {
	if !validNodeName(name) {
		return remote.Command{}, fmt.Errorf("ssh: %q is not a node name", clip(name, 60))
	}
	if _, err := parseIP(ip); err != nil {
		return remote.Command{}, fmt.Errorf("ssh to %s: %q is not an IP address", name, clip(ip, 60))
	}
	args := []string{"/usr/bin/ssh", "-e", "none", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-o", "HostKeyAlias=" + name, "-o", "UserKnownHostsFile=/etc/pve/nodes/" + name + "/ssh_known_hosts",
		"-o", "GlobalKnownHostsFile=none", "root@" + ip, "--", "/bin/true"}
	return remote.Command{Line: shellLine(args)}, nil
}

// SSHToMember proves that root on this node logs in to member name (at ip) as migration
// would; the error quotes ssh's last line ("Host key verification failed." for a stale key).
func (n *Node) SSHToMember(ctx context.Context, name, ip string) error {
	cmd, err := SSHToMemberCommand(name, ip)
	if err != nil {
		return n.wrap("ssh", err)
	}
	res, err := n.run(ctx, cmd, n.timeouts.Query)
	if err != nil {
		return n.wrap("ssh to "+name, err)
	}
	if res.ExitCode != 0 {
		last := lastLine(strings.TrimSpace(string(res.Stderr)))
		if last == "" {
			last = "no output"
		}
		return n.wrap("ssh to "+name, fmt.Errorf("exit status %d: %s", res.ExitCode, last))
	}
	return nil
}
