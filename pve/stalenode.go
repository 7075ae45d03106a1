package pve

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/quorate/quorate/remote"
)

// StaleNode is what /etc/pve still holds of a node after `pvecm delnode` (docs/pve.md §3.4,
// "Cleanup Steps After Node Removal", and §7): its directory, its root key in the
// cluster-wide authorized_keys, and its host key in the legacy known_hosts.
type StaleNode struct {
	Dir bool // /etc/pve/nodes/NAME exists
	// AuthorizedKeys counts the lines of /etc/pve/priv/authorized_keys with its root key.
	AuthorizedKeys int
	// KnownHosts counts the lines of /etc/pve/priv/known_hosts naming it or its addresses.
	KnownHosts int
}

// Clean reports whether nothing of the node is left.
func (s StaleNode) Clean() bool { return !s.Dir && s.AuthorizedKeys == 0 && s.KnownHosts == 0 }

func (s StaleNode) String() string {
	var parts []string
	if s.Dir {
		parts = append(parts, "its node directory")
	}
	if s.AuthorizedKeys > 0 {
		parts = append(parts, fmt.Sprintf("%d root key line(s) in /etc/pve/priv/authorized_keys", s.AuthorizedKeys))
	}
	if s.KnownHosts > 0 {
		parts = append(parts, fmt.Sprintf("%d host key line(s) in /etc/pve/priv/known_hosts", s.KnownHosts))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// StaleNodeOpts says which node's traces to look for, and whether to remove them.
type StaleNodeOpts struct {
	Name string
	// Addrs are its addresses, as the legacy known_hosts names hosts.
	Addrs []string
	// Keep are root public keys (their base64 part) never removed, whatever their comment:
	// the remaining members' and the new incarnation's, so that a rerun after the re-join
	// cannot take away the key the join just merged.
	Keep []string
	// Remove removes what was found; without it the command only counts.
	Remove bool
}

var keyBlobRe = regexp.MustCompile(`^AAAA[A-Za-z0-9+/]+={0,3}$`)

// StaleNodeCommand builds the script, sent on stdin to sh: it prints "dir yes|no",
// "authorized-keys N" and "known-hosts N" (what it found), and "error WHAT" for what it could
// not remove. A root key is the node's when its comment is root@NAME, as PVE generates it
// (ssh-keygen's default comment, pve-cluster src/PVE/Cluster/Setup.pm setup_rootsshconfig).
// Files are rewritten as PVE writes them: a temporary file, then a rename.
func StaleNodeCommand(o StaleNodeOpts) (remote.Command, error) {
	if !validNodeName(o.Name) {
		return remote.Command{}, fmt.Errorf("stale node: %q is not a node name", clip(o.Name, 60))
	}
	for _, a := range o.Addrs {
		if _, err := parseIP(a); err != nil {
			return remote.Command{}, fmt.Errorf("stale node %s: %q is not an IP address", o.Name, clip(a, 60))
		}
	}
	for _, k := range o.Keep {
		if !keyBlobRe.MatchString(k) {
			return remote.Command{}, fmt.Errorf("stale node %s: %q is not the base64 part of a public key", o.Name, clip(k, 40))
		}
	}
	remove := "0"
	if o.Remove {
		remove = "1"
	}
	script := fmt.Sprintf(staleNodeScript, remote.Quote(o.Name), remote.Quote(" "+strings.Join(o.Addrs, " ")+" "),
		remote.Quote(" "+strings.Join(o.Keep, " ")+" "), remove)
	return remote.Command{Line: "cd / && sh -s", Stdin: []byte(script)}, nil
}

const staleNodeScript = `set -u
name=%s addrs=%s keep=%s remove=%s
dir=/etc/pve/nodes/$name
if [ -d "$dir" ]; then
	echo "dir yes"
	[ "$remove" = 1 ] && { rm -rf -- "$dir" || echo "error dir"; }
else
	echo "dir no"
fi
# A line is the node's root key: comment root@NAME, key not one to keep.
ak='{ blob = ""; for (i = 1; i <= NF; i++) if ($i ~ /^AAAA/) { blob = $i; break } }
	{ stale = ($NF == "root@" name && blob != "" && index(keep, " " blob " ") == 0) }'
# A line names the node: one of its comma-separated hosts is the name or an address.
kh='{ stale = 0; n = split($1, h, ","); for (i = 1; i <= n; i++) { x = h[i]; sub(/^\[/, "", x); sub(/\]:[0-9]+$/, "", x)
	if (x == name || index(addrs, " " x " ") > 0) stale = 1 } }'
clean() { # what file awk-program
	f=$2
	if [ ! -f "$f" ]; then echo "$1 0"; return; fi
	n=$(awk -v name="$name" -v keep="$keep" -v addrs="$addrs" "$3"' stale { c++ } END { print c + 0 }' "$f") || { echo "error $1"; return; }
	echo "$1 $n"
	[ "$remove" = 1 ] && [ "$n" -gt 0 ] || return 0
	tmp="$f.tmp.$$"
	if (umask 077 && awk -v name="$name" -v keep="$keep" -v addrs="$addrs" "$3"' !stale' "$f" > "$tmp") &&
		chmod --reference="$f" "$tmp" && mv -f "$tmp" "$f"; then :; else rm -f "$tmp"; echo "error $1"; fi
}
clean authorized-keys /etc/pve/priv/authorized_keys "$ak"
clean known-hosts /etc/pve/priv/known_hosts "$kh"
`

// ParseStaleNode reads the script's output; the "error" lines become the error.
func ParseStaleNode(out string) (StaleNode, error) {
	const format = "stale node script"
	var s StaleNode
	var failed []string
	seen := map[string]bool{}
	for i, line := range splitLines(out) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		perr := func(reason string) error {
			return &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: reason}
		}
		if len(f) != 2 {
			return StaleNode{}, perr("want WHAT VALUE")
		}
		switch f[0] {
		case "dir":
			if f[1] != "yes" && f[1] != "no" {
				return StaleNode{}, perr("want dir yes or no")
			}
			s.Dir = f[1] == "yes"
		case "authorized-keys", "known-hosts":
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 {
				return StaleNode{}, perr("want a count")
			}
			if f[0] == "authorized-keys" {
				s.AuthorizedKeys = n
			} else {
				s.KnownHosts = n
			}
		case "error":
			failed = append(failed, f[1])
			continue
		default:
			return StaleNode{}, perr("unknown line")
		}
		seen[f[0]] = true
	}
	for _, want := range []string{"dir", "authorized-keys", "known-hosts"} {
		if !seen[want] {
			return StaleNode{}, &ParseError{Format: format, Reason: fmt.Sprintf("no %q line", want)}
		}
	}
	if len(failed) > 0 {
		return s, fmt.Errorf("could not remove: %s", strings.Join(failed, ", "))
	}
	return s, nil
}

// StaleNode looks for (and with o.Remove removes) what /etc/pve holds of node o.Name; it
// reports what it found. Run it on a quorate member: /etc/pve is read-only otherwise.
func (n *Node) StaleNode(ctx context.Context, o StaleNodeOpts) (StaleNode, error) {
	cmd, err := StaleNodeCommand(o)
	if err != nil {
		return StaleNode{}, n.wrap("clean up", err)
	}
	res, err := n.run(ctx, cmd, n.timeouts.Query)
	if err != nil {
		return StaleNode{}, n.wrap("clean up", err)
	}
	if res.ExitCode != 0 {
		return StaleNode{}, n.wrap("clean up", toolFailed(res, string(res.Stderr)))
	}
	s, err := ParseStaleNode(string(res.Stdout))
	return s, n.wrap("clean up", err)
}
