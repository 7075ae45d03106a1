package pve

import (
	"regexp"
	"strconv"
	"strings"
)

// PrecheckKind is one of the checks pvecm add makes on the joining node (docs/pve.md §2.5a).
type PrecheckKind string

const (
	PrecheckAuthkeyExists       PrecheckKind = "authkey-exists"
	PrecheckClusterConfigExists PrecheckKind = "cluster-config-exists"
	PrecheckHasGuests           PrecheckKind = "has-guests"
	PrecheckCorosyncRunning     PrecheckKind = "corosync-running"
	PrecheckLocalIPMissing      PrecheckKind = "local-ip-missing"
	PrecheckLinkIPMissing       PrecheckKind = "link-ip-missing"
	PrecheckLinkUnresolvable    PrecheckKind = "link-unresolvable"
	PrecheckOther               PrecheckKind = "other"
)

// Precheck is one "* ..." line under "detected the following error(s):".
type Precheck struct {
	Kind PrecheckKind
	Link int    // the link number for the link checks, else -1
	Addr string // the IP or host named in the line, if any
	Text string // pvecm's words
}

var (
	precheckIPRe   = regexp.MustCompile(`^(local node address|link([0-7])): cannot use IP '([^']*)', (not found on local node!|it must be configured exactly once on local node!)$`)
	precheckHostRe = regexp.MustCompile(`^link([0-7]): cannot use '([^']*)': (.*)$`)
)

// parsePrechecks reads the docs/pve.md §2.5a block; forced reports that --force carried on past it.
func parsePrechecks(out string) (checks []Precheck, forced bool) {
	in := false
	for _, l := range splitLines(out) {
		t := strings.TrimSpace(l)
		switch {
		case t == "detected the following error(s):":
			in = true
		case strings.HasPrefix(t, "WARNING : detected error but forced to continue!"):
			forced = true
			in = false
		case in && t == "":
			// "cannot use" messages end in their own newline, leaving a blank line.
		case in && strings.HasPrefix(t, "* "):
			checks = append(checks, classifyPrecheck(strings.TrimPrefix(t, "* ")))
		default:
			in = false
		}
	}
	return checks, forced
}

func classifyPrecheck(text string) Precheck {
	p := Precheck{Kind: PrecheckOther, Link: -1, Text: text}
	switch {
	case strings.HasPrefix(text, "authentication key ") && strings.HasSuffix(text, "already exists"):
		p.Kind = PrecheckAuthkeyExists
	case strings.HasPrefix(text, "cluster config ") && strings.HasSuffix(text, "already exists"):
		p.Kind = PrecheckClusterConfigExists
	case text == "this host already contains virtual guests":
		p.Kind = PrecheckHasGuests
	case strings.HasPrefix(text, "corosync is already running"):
		p.Kind = PrecheckCorosyncRunning
	default:
		if m := precheckIPRe.FindStringSubmatch(text); m != nil {
			p.Addr = m[3]
			if m[2] == "" {
				p.Kind = PrecheckLocalIPMissing
			} else {
				p.Kind = PrecheckLinkIPMissing
				p.Link, _ = strconv.Atoi(m[2])
			}
		} else if m := precheckHostRe.FindStringSubmatch(text); m != nil {
			p.Kind = PrecheckLinkUnresolvable
			p.Link, _ = strconv.Atoi(m[1])
			p.Addr = m[2]
		}
	}
	return p
}
