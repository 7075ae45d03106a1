package pve

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
)

// Every value that reaches a pvecm command line is checked here first and quoted as well: the
// check gives the user a clear message, the quoting makes injection impossible even if a check
// is ever loosened.

func validNodeName(s string) bool { return NodeNameProblem(s) == "" }

// validClusterName applies pvecm create's rules.
func validClusterName(s string) error {
	if problem := ClusterNameProblem(s); problem != "" {
		return fmt.Errorf("cluster name %s", problem)
	}
	return nil
}

var dnsNameRe = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

// parseIP reads an IP address without an IPv6 zone. netip accepts any text after '%', spaces,
// commas and newlines included, which would carry into pvecm's property strings and into
// corosync.conf; neither PVE nor corosync takes a zone there.
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q has an IPv6 zone", clip(s, 60))
	}
	return a, nil
}

// validHost accepts an IP address or a DNS name, the forms `pvecm add <hostname>` and
// `pvecm qdevice setup <address>` take.
func validHost(s string) error {
	if _, err := parseIP(s); err == nil {
		return nil
	}
	if len(s) <= 253 && dnsNameRe.MatchString(s) {
		return nil
	}
	return fmt.Errorf("host %q: want an IP address or a DNS name", clip(s, 60))
}

var fingerprintRe = regexp.MustCompile(`^([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}$`)

// NormalizeFingerprint checks a SHA-256 certificate fingerprint in the form --fingerprint
// takes (32 hex pairs joined by ':') and returns it upper-cased, as PVE compares it.
func NormalizeFingerprint(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !fingerprintRe.MatchString(s) {
		return "", fmt.Errorf("fingerprint %q: want 32 hex byte pairs joined by ':' (not the SSH SHA256:... form)", clip(s, 120))
	}
	return strings.ToUpper(s), nil
}

func (l Link) validate() error {
	if l.Number < 0 || l.Number > 7 {
		return fmt.Errorf("link %d: link numbers are 0 to 7", l.Number)
	}
	if _, err := parseIP(l.Addr); err != nil {
		return fmt.Errorf("link %d: %q is not an IP address", l.Number, clip(l.Addr, 60))
	}
	if l.Priority < 0 || l.Priority > 255 {
		return fmt.Errorf("link %d: priority %d is outside 0..255", l.Number, l.Priority)
	}
	return nil
}

// linkArgs renders --linkN options in link order, with the priority when set.
func linkArgs(links []Link, withPriority bool) ([]string, error) {
	seen := map[int]bool{}
	sorted := append([]Link(nil), links...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Number < sorted[j].Number })
	var args []string
	for _, l := range sorted {
		if err := l.validate(); err != nil {
			return nil, err
		}
		if seen[l.Number] {
			return nil, fmt.Errorf("link %d given twice", l.Number)
		}
		seen[l.Number] = true
		val := l.Addr
		if withPriority && l.Priority != 0 {
			val += fmt.Sprintf(",priority=%d", l.Priority)
		}
		args = append(args, fmt.Sprintf("--link%d", l.Number), val)
	}
	return args, nil
}
