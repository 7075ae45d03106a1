package pve

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/quorate/quorate/remote"
)

// A rebuild's mark: the node id a node had, kept in /etc/pve while it is out of the nodelist
// between delnode and its join again, so that a rebuild cut short in between resumes with the
// old id rather than pvecm's lowest free one. It is quorate's own file: nothing of PVE reads
// it, and it lives in /etc/pve so that every member sees it.

// RebuildMarkPath is the mark's file for node name.
func RebuildMarkPath(name string) string { return "/etc/pve/.quorate-rebuild-" + name }

// ParseRebuildMark reads the mark: one line "nodeid N".
func ParseRebuildMark(out string) (int, error) {
	const format = "rebuild mark"
	lines := splitLines(strings.TrimSpace(out))
	if len(lines) != 1 {
		return 0, &ParseError{Format: format, Reason: "want one line"}
	}
	f := strings.Fields(lines[0])
	if len(f) != 2 || f[0] != "nodeid" {
		return 0, &ParseError{Format: format, LineNo: 1, Line: lines[0], Reason: "want nodeid N"}
	}
	id, err := strconv.Atoi(f[1])
	if err != nil || id < 1 {
		return 0, &ParseError{Format: format, LineNo: 1, Line: lines[0], Reason: "the node id is not a positive number"}
	}
	return id, nil
}

// WriteRebuildMark records that node name had node id id.
func (n *Node) WriteRebuildMark(ctx context.Context, name string, id int) error {
	if !validNodeName(name) || id < 1 {
		return n.wrap("rebuild mark", fmt.Errorf("bad mark %q %d", clip(name, 40), id))
	}
	line := fmt.Sprintf("cd / && printf 'nodeid %%d\\n' %d > %s", id, RebuildMarkPath(name))
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err == nil && res.ExitCode != 0 {
		err = toolFailed(res, string(res.Stderr))
	}
	return n.wrap("rebuild mark", err)
}

// ReadRebuildMark is the node id recorded for node name; ok is false without a mark.
func (n *Node) ReadRebuildMark(ctx context.Context, name string) (id int, ok bool, err error) {
	if !validNodeName(name) {
		return 0, false, n.wrap("rebuild mark", fmt.Errorf("%q is not a node name", clip(name, 40)))
	}
	res, err := n.run(ctx, remote.Command{Line: "cd / && cat " + RebuildMarkPath(name) + " 2>/dev/null || echo none"}, n.timeouts.Query)
	if err != nil {
		return 0, false, n.wrap("rebuild mark", err)
	}
	if strings.TrimSpace(string(res.Stdout)) == "none" {
		return 0, false, nil
	}
	id, err = ParseRebuildMark(string(res.Stdout))
	return id, err == nil, n.wrap("rebuild mark", err)
}

// RemoveRebuildMark removes node name's mark, once it is back in the nodelist.
func (n *Node) RemoveRebuildMark(ctx context.Context, name string) error {
	if !validNodeName(name) {
		return n.wrap("rebuild mark", fmt.Errorf("%q is not a node name", clip(name, 40)))
	}
	res, err := n.run(ctx, remote.Command{Line: "cd / && rm -f " + RebuildMarkPath(name)}, n.timeouts.Query)
	if err == nil && res.ExitCode != 0 {
		err = toolFailed(res, string(res.Stderr))
	}
	return n.wrap("rebuild mark", err)
}
