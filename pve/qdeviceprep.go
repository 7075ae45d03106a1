package pve

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/quorate/quorate/remote"
)

// What `pvecm qdevice setup` needs around it (docs/pve.md §3.6): corosync-qnetd on the qnetd
// host, corosync-qdevice on every member, TCP 5403 from every member to the qnetd host, and
// root SSH from the member that runs it to the qnetd host, host key known (its first step is
// an interactive ssh-copy-id). These calls prepare that, on any Debian host quorate reaches;
// the qnetd host is not a PVE node but is driven through the same Node.

// QNetdPort is corosync-qnetd's TCP port (docs/pve.md §6.1).
const QNetdPort = 5403

// Packages of the QDevice: corosync-qnetd on the external host, corosync-qdevice on every node.
const (
	QNetdPackage   = "corosync-qnetd"
	QDevicePackage = "corosync-qdevice"
)

// MissingCommands lists which of the commands are not installed on the node.
func (n *Node) MissingCommands(ctx context.Context, commands ...string) ([]string, error) {
	var words []string
	for _, c := range commands {
		if !commandNameRe.MatchString(c) {
			return nil, n.wrap("check commands", fmt.Errorf("%q is not a command name", clip(c, 40)))
		}
		words = append(words, c)
	}
	line := "cd / && for c in " + strings.Join(words, " ") + `; do command -v "$c" >/dev/null 2>&1 || echo "$c"; done`
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return nil, n.wrap("check commands", err)
	}
	if res.ExitCode != 0 {
		return nil, n.wrap("check commands", toolFailed(res, string(res.Stderr)))
	}
	return strings.Fields(string(res.Stdout)), nil
}

var commandNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*$`)

// InstallPackages installs Debian packages with apt-get, without questions.
func (n *Node) InstallPackages(ctx context.Context, packages ...string) error {
	for _, p := range packages {
		if !commandNameRe.MatchString(p) {
			return n.wrap("install", fmt.Errorf("%q is not a package name", clip(p, 40)))
		}
	}
	line := "cd / && DEBIAN_FRONTEND=noninteractive apt-get install -y -q " + strings.Join(packages, " ")
	res, err := n.run(ctx, remote.Command{Line: line}, 10*time.Minute)
	if err != nil {
		return n.wrap("install "+strings.Join(packages, " "), err)
	}
	if res.ExitCode != 0 {
		return n.wrap("install "+strings.Join(packages, " "), toolFailed(res, string(res.Stderr)))
	}
	return nil
}

// StartService enables and starts a systemd unit unless it is already active.
func (n *Node) StartService(ctx context.Context, unit string) error {
	if !commandNameRe.MatchString(unit) {
		return n.wrap("start", fmt.Errorf("%q is not a unit name", clip(unit, 40)))
	}
	line := fmt.Sprintf("cd / && { systemctl is-active --quiet %s || systemctl enable --now %s; }", unit, unit)
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return n.wrap("start "+unit, err)
	}
	if res.ExitCode != 0 {
		return n.wrap("start "+unit, toolFailed(res, string(res.Stderr)))
	}
	return nil
}

// TCPReachable checks from this node that host accepts TCP connections on port (bash's
// /dev/tcp, bounded to 5 s; PVE nodes and Debian hosts have bash).
func (n *Node) TCPReachable(ctx context.Context, host string, port int) error {
	if err := validHost(host); err != nil {
		return n.wrap("tcp check", err)
	}
	line := fmt.Sprintf(`cd / && timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' %s %d`, remote.Quote(host), port)
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return n.wrap("tcp check", err)
	}
	if res.ExitCode != 0 {
		why := lastLine(strings.TrimSpace(string(res.Stderr)))
		if res.ExitCode == 124 {
			why = "no answer within 5s"
		}
		return n.wrap("tcp check", fmt.Errorf("%s port %d is not reachable: %s", host, port, why))
	}
	return nil
}

// KeyBlob is the base64 part of an authorized_keys or known_hosts line ("" if none).
func KeyBlob(line string) string {
	for _, f := range strings.Fields(line) {
		if keyBlobRe.MatchString(f) {
			return f
		}
	}
	return ""
}

// KnowsHost tells whether root's known_hosts on this node has an entry for host (plain or
// hashed; ssh-keygen -F).
func (n *Node) KnowsHost(ctx context.Context, host string) (bool, error) {
	if err := validHost(host); err != nil {
		return false, n.wrap("known hosts", err)
	}
	line := fmt.Sprintf("cd / && [ -f /root/.ssh/known_hosts ] && ssh-keygen -F %s -f /root/.ssh/known_hosts >/dev/null && echo known || echo unknown", remote.Quote(host))
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return false, n.wrap("known hosts", err)
	}
	switch strings.TrimSpace(string(res.Stdout)) {
	case "known":
		return true, nil
	case "unknown":
		return false, nil
	}
	return false, n.wrap("known hosts", toolFailed(res, string(res.Stderr)))
}

// ForgetHost removes every entry for host from root's known_hosts on this node (ssh-keygen
// -R, without the backup file it leaves): what ssh itself recorded there (OpenSSH's
// UpdateHostKeys adds the host's other keys, hashed) during a login quorate arranged.
func (n *Node) ForgetHost(ctx context.Context, host string) error {
	if err := validHost(host); err != nil {
		return n.wrap("known hosts", err)
	}
	line := fmt.Sprintf("cd / && f=/root/.ssh/known_hosts && [ -f \"$f\" ] || exit 0; ssh-keygen -R %s -f \"$f\" >/dev/null 2>&1; rm -f \"$f.old\"", remote.Quote(host))
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err == nil && res.ExitCode != 0 {
		err = toolFailed(res, string(res.Stderr))
	}
	return n.wrap("known hosts", err)
}

// ExistingRootKey is root's /root/.ssh/id_rsa.pub when there is one ("" when not), read
// without making one: a clean-up must change nothing on the nodes it only looks at.
func (n *Node) ExistingRootKey(ctx context.Context) (string, error) {
	res, err := n.run(ctx, remote.Command{Line: "cd / && cat /root/.ssh/id_rsa.pub 2>/dev/null || true"}, n.timeouts.Query)
	if err != nil {
		return "", n.wrap("root key", err)
	}
	line := strings.TrimSpace(string(res.Stdout))
	if KeyBlob(line) == "" {
		return "", nil
	}
	return line, nil
}
