package pve

import (
	"fmt"
	"regexp"
	"strings"
)

// The rules PVE applies to node and cluster names, in one place: the cluster file's
// validation and the command builders both use them, so a name the file accepts is one pvecm
// takes.

// pveNodeRe is PVE's pve-node format (docs/pve.md §1.5).
var pveNodeRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)

const (
	// MaxClusterNameLen is pvecm create's limit (docs/pve.md §1.5).
	MaxClusterNameLen = 15
	// MaxNodeNameLen: a node name is a host name label.
	MaxNodeNameLen = 63
)

// ClusterNameProblem says what is wrong with name as a PVE cluster name, or "" when nothing is.
func ClusterNameProblem(name string) string {
	var why []string
	if len(name) > MaxClusterNameLen {
		why = append(why, fmt.Sprintf("is %d characters long; PVE allows at most %d", len(name), MaxClusterNameLen))
	}
	if !pveNodeRe.MatchString(name) {
		why = append(why, "may only hold letters, digits and inner hyphens (no dots, underscores, spaces, or hyphen at either end)")
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("%q %s", clip(name, 40), strings.Join(why, ", and "))
}

// NodeNameProblem says what is wrong with name as a PVE node name, or "" when nothing is.
func NodeNameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > MaxNodeNameLen:
		return fmt.Sprintf("%q is %d characters long; a node name is at most %d", clip(name, 70), len(name), MaxNodeNameLen)
	case !pveNodeRe.MatchString(name):
		hint := ""
		if strings.Contains(name, ".") {
			hint = fmt.Sprintf("; use the short hostname %q, not the FQDN", strings.SplitN(name, ".", 2)[0])
		}
		return fmt.Sprintf("%q is not a valid PVE node name: letters, digits and inner hyphens only%s", clip(name, 70), hint)
	}
	return ""
}
