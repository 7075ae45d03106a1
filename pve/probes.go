package pve

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/quorate/quorate/remote"
)

// ErrPmxcfsReadOnly is /etc/pve refusing a write: pmxcfs without quorum (docs/pve.md §0.6).
var ErrPmxcfsReadOnly = errors.New("/etc/pve is read-only (no quorum, or pmxcfs is not running)")

// PmxcfsWritable writes a probe file into /etc/pve, reads it back and removes it. A quorate
// member whose pmxcfs lags behind corosync still refuses writes; this is the test that matters
// for everything stored there (root's authorized_keys among them).
func (n *Node) PmxcfsWritable(ctx context.Context) error {
	token := "quorate-probe-" + rand.Text()[:12]
	path := "/etc/pve/." + token
	line := fmt.Sprintf("cd / && printf '%%s\\n' %s > %s && cat %s && rm -f %s", remote.Quote(token), path, path, path)
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return n.wrap("write /etc/pve", err)
	}
	if res.ExitCode != 0 {
		stderr := strings.TrimSpace(string(res.Stderr))
		if strings.Contains(stderr, "Read-only file system") || strings.Contains(stderr, "Permission denied") ||
			strings.Contains(stderr, "Transport endpoint is not connected") || strings.Contains(stderr, "No such file or directory") {
			return n.wrap("write /etc/pve", fmt.Errorf("%w: %s", ErrPmxcfsReadOnly, lastLine(stderr)))
		}
		return n.wrap("write /etc/pve", toolFailed(res, stderr))
	}
	if strings.TrimSpace(string(res.Stdout)) != token {
		return n.wrap("write /etc/pve", fmt.Errorf("read back %q, wrote %q", clip(strings.TrimSpace(string(res.Stdout)), 60), token))
	}
	return nil
}

// APIStatus asks, from this node, whether the PVE API of address answers on TCP 8006: the
// HTTP status of an unauthenticated request (401 is an API that answers), or an error.
func (n *Node) APIStatus(ctx context.Context, address string) (int, error) {
	host, err := parseIP(address)
	target := address
	if err == nil && host.Is6() {
		target = "[" + host.String() + "]"
	} else if verr := validHost(address); verr != nil {
		return 0, n.wrap("API check", verr)
	}
	line := "cd / && curl -sk --max-time 5 -o /dev/null -w '%{http_code}' " + remote.Quote("https://"+target+":8006/api2/json/version")
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return 0, n.wrap("API check", err)
	}
	code, perr := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if res.ExitCode != 0 || perr != nil || code == 0 {
		return 0, n.wrap("API check", fmt.Errorf("https://%s:8006 does not answer (curl exit status %d)", target, res.ExitCode))
	}
	return code, nil
}

// Diagnostic is one piece of evidence gathered after a failure.
type Diagnostic struct {
	Name   string `json:"name"`
	Output string `json:"output"`
}

// diagnosticCommands are what an admin would look at first when a step failed: corosync's
// view of its links, its last log lines, pmxcfs's, and the node's cluster status.
var diagnosticCommands = []Diagnostic{
	{Name: "corosync-cfgtool -s", Output: "cd / && corosync-cfgtool -s 2>&1"},
	{Name: "pvecm status", Output: "cd / && pvecm status 2>&1"},
	{Name: "corosync log", Output: "cd / && (journalctl -u corosync -n 25 --no-pager 2>/dev/null || tail -n 25 /var/log/corosync/corosync.log 2>&1)"},
	{Name: "pve-cluster log", Output: "cd / && journalctl -u pve-cluster -n 15 --no-pager 2>&1"},
}

// Diagnostics gathers the evidence of diagnosticCommands; each failure to gather one becomes
// its text rather than stopping the rest.
func (n *Node) Diagnostics(ctx context.Context) []Diagnostic {
	out := make([]Diagnostic, 0, len(diagnosticCommands))
	for _, d := range diagnosticCommands {
		res, err := n.run(ctx, remote.Command{Line: d.Output}, n.timeouts.Query)
		text := strings.TrimRight(string(res.Stdout)+string(res.Stderr), "\n")
		if err != nil {
			text = strings.TrimSpace(text + "\n(" + err.Error() + ")")
		}
		out = append(out, Diagnostic{Name: d.Name, Output: text})
	}
	return out
}

func lastLine(s string) string {
	lines := lastLines(s, 1)
	if len(lines) == 0 {
		return ""
	}
	return lines[0]
}
