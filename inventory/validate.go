package inventory

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/quorate/quorate/internal/hostspec"
	"github.com/quorate/quorate/pve"
)

// validator collects the problems of one Inventory; each check adds to the list and never
// stops the others, so the user sees everything in one run.
type validator struct {
	inv      *Inventory
	problems Problems
	paths    map[string]bool // paths that have a problem, for has
}

// Validate reports every problem in the file: those found while decoding and those in the
// values. It needs no network. An empty result means the file is usable.
func (inv *Inventory) Validate() Problems {
	v := &validator{inv: inv, problems: append(Problems(nil), inv.problems...), paths: map[string]bool{}}
	for _, p := range inv.problems {
		v.paths[p.Path] = true
	}
	if inv.decoded {
		v.cluster()
		v.ssh()
		v.nodes()
		v.qdevice()
	}
	if len(v.problems) == 0 {
		return nil
	}
	return v.problems.sorted()
}

func (v *validator) add(path, format string, args ...any) {
	v.paths[path] = true
	v.problems = append(v.problems, Problem{
		File: v.inv.File, Line: v.inv.Line(path), Path: path, Message: fmt.Sprintf(format, args...),
	})
}

// given tells whether the file wrote path itself (rather than a default filling it in).
func (v *validator) given(path string) bool {
	_, ok := v.inv.lines[path]
	return ok
}

// has tells whether a problem was already added at path.
func (v *validator) has(path string) bool { return v.paths[path] }

// reported tells whether decoding already found path, or a section holding it, unusable, so
// that a second, derived complaint about the same value is not piled on.
func (v *validator) reported(path string) bool {
	for p := path; p != ""; p = parentPath(p) {
		if v.inv.broken[p] {
			return true
		}
	}
	return false
}

func (v *validator) cluster() {
	c := v.inv.Cluster
	switch {
	case !v.given("cluster"):
		v.add("cluster", "missing: a cluster section with at least a name is required")
	case c.Name == "" && !v.reported("cluster.name"):
		v.add("cluster.name", "missing: name the cluster (at most 15 letters, digits and inner hyphens)")
	case c.Name != "":
		if problem := pve.ClusterNameProblem(c.Name); problem != "" {
			v.add("cluster.name", "%s", problem)
		}
	}
	if c.Join != JoinAPI && c.Join != JoinSSH {
		msg := fmt.Sprintf("%q is not a join method: use api (join with the root password) or ssh (pvecm add --use_ssh)", c.Join)
		if s := DidYouMean(string(c.Join), []string{string(JoinAPI), string(JoinSSH)}); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		v.add("cluster.join", "%s", msg)
	}
	// The value is not echoed: when this check fails, it is most likely the password itself.
	if !isEnvName(c.PasswordEnv) {
		v.add("cluster.password_env", "must name an environment variable (letters, digits and _, such as %s) that holds the root password; never put the password itself in this file", DefaultPasswordEnv)
	}
}

func (v *validator) ssh() {
	s := v.inv.SSH
	if s.User != "" && strings.ContainsAny(s.User, "@: \t") {
		v.add("ssh.user", "%q is not a user name", s.User)
	}
	if v.given("ssh.port") && !v.reported("ssh.port") && (s.Port < 1 || s.Port > 65535) {
		v.add("ssh.port", "%d is not a TCP port (1-65535)", s.Port)
	}
	if s.Jump != "" {
		for i, hop := range strings.Split(s.Jump, ",") {
			if problem := jumpHopProblem(strings.TrimSpace(hop)); problem != "" {
				v.add("ssh.jump", "hop %d: %s", i+1, problem)
			}
		}
	}
}

// jumpHopProblem checks one ProxyJump hop: [user@]host[:port], IPv6 hosts in brackets.
func jumpHopProblem(hop string) string {
	if hop == "" {
		return "empty; write user@host:port, more hops separated by commas"
	}
	if _, err := hostspec.Parse(hop); err != nil {
		return err.Error()
	}
	return ""
}

func (v *validator) qdevice() {
	q := v.inv.QDevice
	if q == nil {
		return
	}
	if v.reported("qdevice") {
		return
	}
	if q.Address == "" {
		if !v.reported("qdevice.address") {
			v.add("qdevice.address", "missing: the address of the host that runs corosync-qnetd")
		}
		return
	}
	if problem := addressProblem(q.Address); problem != "" {
		v.add("qdevice.address", "%s", problem)
		return
	}
	for i, n := range v.inv.Nodes {
		if sameHost(n.Address, q.Address) || containsHost(n.Links, q.Address) {
			v.add("qdevice.address", "%s is node %s (%s); the QDevice must run on a host outside the cluster", q.Address, n.Name, v.inv.Where(nodePath(i)))
			return
		}
	}
}

// addressProblem checks where quorate connects by SSH: an IP, a host name or an ssh config
// alias, but not user@ or :port, which have their own keys.
func addressProblem(addr string) string {
	sp, err := hostspec.Parse(addr)
	switch {
	case err != nil:
		return err.Error()
	case sp.User != "":
		return fmt.Sprintf("%q holds a user; set it in ssh.user instead", addr)
	case sp.Port != 0:
		return fmt.Sprintf("%q holds a port; set the port in ssh.port", addr)
	case sp.Host != addr:
		return fmt.Sprintf("%q: write the address without brackets", addr)
	}
	return ""
}

// hostKey is the form two addresses are compared in: the canonical text of an IP, or a
// lower-cased name.
func hostKey(addr string) string {
	if ip, err := netip.ParseAddr(addr); err == nil {
		return ip.Unmap().String()
	}
	return strings.ToLower(addr)
}

func sameHost(a, b string) bool { return hostKey(a) == hostKey(b) }

func containsHost(list []string, addr string) bool {
	for _, a := range list {
		if sameHost(a, addr) {
			return true
		}
	}
	return false
}
