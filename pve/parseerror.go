package pve

import (
	"errors"
	"fmt"
	"strings"
)

// ParseError reports output that did not have the shape we know, quoting the line at fault so
// that a changed PVE release shows up as a readable message rather than a wrong answer.
type ParseError struct {
	Format string // what we were reading, e.g. "pvecm status"
	LineNo int    // 1-based; 0 when the problem is not one line
	Line   string
	Reason string
}

func (e *ParseError) Error() string {
	if e.LineNo > 0 {
		return fmt.Sprintf("unrecognised %s output, line %d %q: %s", e.Format, e.LineNo, clip(e.Line, 200), e.Reason)
	}
	return fmt.Sprintf("unrecognised %s output: %s", e.Format, e.Reason)
}

// ErrNotInCluster is returned by the queries that only make sense on a cluster member (join
// information, the corosync nodelist) when the node is standalone.
var ErrNotInCluster = errors.New("node is not in a cluster")

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// splitLines splits output into lines without their line endings; a final newline does not
// make an extra empty line.
func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// lastLines returns up to n last non-blank lines of s, for quoting a tool's own words.
func lastLines(s string, n int) []string {
	var out []string
	lines := splitLines(s)
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append([]string{l}, out...)
		}
	}
	return out
}
