package playbooks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quorate/quorate/internal/hostspec"
	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

// InitRequest is what init was asked: look at Hosts and write a starter cluster file.
type InitRequest struct {
	Hosts       []string // as given, "[user@]host[:port]" or ssh config aliases
	ClusterName string
	File        string // where to write the cluster file
	Force       bool   // replace an existing File
	Access      Access
}

// InitHost is what init learnt about one host.
type InitHost struct {
	Host        string                  `json:"host"`
	Hostname    string                  `json:"hostname,omitempty"`
	Addresses   []inventory.SeenAddress `json:"addresses,omitempty"`
	KeyType     string                  `json:"key_type,omitempty"`
	Fingerprint string                  `json:"fingerprint,omitempty"`
	NewKey      bool                    `json:"new_key_recorded,omitempty"`
	Error       string                  `json:"error,omitempty"`
	Err         error                   `json:"-"`
}

// InitReport is init's outcome; it is filled as far as the run got, also when Init fails.
type InitReport struct {
	Hosts    []InitHost         `json:"hosts"`
	File     string             `json:"file"`
	Written  bool               `json:"written"`
	Problems inventory.Problems `json:"problems"`
}

// HostsFailedError sums up the hosts that failed, whose own errors are in the report;
// errors.Is and errors.As still reach each of them.
type HostsFailedError struct {
	Failed []error
	Total  int
	File   string
}

func (e *HostsFailedError) Error() string {
	return fmt.Sprintf("%d of %d hosts failed (see above); %s not written", len(e.Failed), e.Total, e.File)
}

func (e *HostsFailedError) Unwrap() []error { return e.Failed }

// Init connects to every host at once, reads each one's node name and addresses through
// pve.Facts, and writes a starter cluster file when every host answered.
func (s *Session) Init(ctx context.Context, req InitRequest) (InitReport, error) {
	report := InitReport{File: req.File, Problems: inventory.Problems{}}
	targets := make([]Target, len(req.Hosts))
	for i, h := range req.Hosts {
		targets[i] = Target{Address: h}
	}
	conns := s.Connect(ctx, s.remoteConfig(req.Access), targets)
	defer conns.Close()
	report.Hosts = make([]InitHost, len(targets))
	for i, conn := range conns.All() {
		report.Hosts[i] = InitHost{Host: conn.Address, Err: conn.Err}
		if conn.Client != nil {
			key := conn.Client.HostKey()
			report.Hosts[i].KeyType, report.Hosts[i].Fingerprint, report.Hosts[i].NewKey = key.Type(), remote.Fingerprint(key), conn.NewKey
		}
		var unknown *remote.HostKeyUnknownError
		if errors.As(conn.Err, &unknown) {
			report.Hosts[i].KeyType, report.Hosts[i].Fingerprint = unknown.KeyType, unknown.Fingerprint
		}
	}
	// Each host's facts are read on its own connection; a failure stays with its host.
	_ = conns.Each(ctx, func(ctx context.Context, conn *Conn) error {
		i := conn.index
		facts, err := pve.NewNode(conn.Client).Facts(ctx)
		if err != nil {
			report.Hosts[i].Err = &HostError{Host: conn.Label(), Err: err}
			return err
		}
		report.Hosts[i].Hostname = facts.NodeName
		report.Hosts[i].Addresses = globalAddresses(facts.Interfaces)
		return nil
	})
	var failed []error
	for i := range report.Hosts {
		if err := report.Hosts[i].Err; err != nil {
			report.Hosts[i].Error = err.Error()
			failed = append(failed, err)
		}
	}
	if ctx.Err() != nil {
		// The report says which hosts answered and which were still pending.
		return report, context.Cause(ctx)
	}
	if len(failed) > 0 {
		return report, &HostsFailedError{Failed: failed, Total: len(report.Hosts), File: req.File}
	}
	data, err := starterFrom(req, report.Hosts).Render()
	if err != nil {
		return report, err
	}
	if err := inventory.WriteFile(req.File, data, req.Force); err != nil {
		if errors.Is(err, inventory.ErrFileExists) {
			return report, fmt.Errorf("%s appeared while init ran; not overwritten (pass --force to replace it)", req.File)
		}
		return report, fmt.Errorf("write cluster file: %w", err)
	}
	report.Written = true
	if p := inventory.Parse(req.File, data, os.LookupEnv).Validate(); p != nil {
		report.Problems = p
	}
	return report, nil
}

// globalAddresses are the addresses a starter file can choose links from: not loopback, not
// link-local.
func globalAddresses(ifaces []pve.Interface) []inventory.SeenAddress {
	var out []inventory.SeenAddress
	for _, iface := range ifaces {
		for _, a := range iface.Addrs {
			ip := a.Prefix.Addr()
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() {
				continue
			}
			out = append(out, inventory.SeenAddress{Interface: iface.Name, Prefix: a.Prefix})
		}
	}
	return out
}

func starterFrom(req InitRequest, hosts []InitHost) inventory.Starter {
	st := inventory.Starter{ClusterName: req.ClusterName, SSH: req.Access.SSH, Written: time.Now()}
	for _, h := range hosts {
		address := h.Host
		if spec, err := hostspec.Parse(h.Host); err == nil {
			address = spec.Host // user and port have keys of their own in the file
		}
		st.Nodes = append(st.Nodes, inventory.StarterNode{
			Name: h.Hostname, Address: address, Link: pickLink(address, h.Addresses), Seen: h.Addresses,
		})
	}
	return st
}

// pickLink chooses link0 for a starter file: the address quorate reached the host at when it
// is one of the host's own, else its first IPv4, else its first IPv6. "" when there is none;
// the user then has to write links by hand.
func pickLink(reachedAt string, addrs []inventory.SeenAddress) string {
	if ip, err := netip.ParseAddr(reachedAt); err == nil {
		for _, a := range addrs {
			if a.Prefix.Addr() == ip.Unmap() {
				return ip.Unmap().String()
			}
		}
	}
	for _, want4 := range []bool{true, false} {
		for _, a := range addrs {
			if ip := a.Prefix.Addr(); ip.Is4() == want4 {
				return ip.String()
			}
		}
	}
	return ""
}

// Check reads the request before anything is contacted: every host parses, none is given
// twice, they agree on user and port (the cluster file has one ssh.user and ssh.port), and
// the cluster name is one PVE takes. It fills Access.SSH's user and port from the hosts and
// makes relative key and known_hosts paths absolute, since the file is read later from
// wherever the user is then.
func (r *InitRequest) Check() error {
	if len(r.Hosts) == 0 {
		return errors.New("init needs at least one HOST")
	}
	if problem := pve.ClusterNameProblem(r.ClusterName); problem != "" {
		return fmt.Errorf("--name: %s", problem)
	}
	seen := map[string]bool{}
	var first hostspec.Spec
	for i, h := range r.Hosts {
		spec, err := hostspec.Parse(h)
		if err != nil {
			return fmt.Errorf("host %w", err)
		}
		if key := strings.ToLower(spec.Host); seen[key] {
			return fmt.Errorf("host %s given twice", spec.Host)
		} else {
			seen[key] = true
		}
		if i == 0 {
			first = spec
		} else if spec.User != first.User || spec.Port != first.Port {
			return fmt.Errorf("%s and %s differ in user or port; the cluster file has one ssh.user and ssh.port, so put per-host ones in ~/.ssh/config (Host alias, User, Port) and pass the aliases", r.Hosts[0], h)
		}
	}
	if first.User != "" {
		r.Access.SSH.User = first.User
	}
	if first.Port != 0 {
		r.Access.SSH.Port = first.Port
	}
	r.Access.SSH.IdentityFile = absoluteUnlessHome(r.Access.SSH.IdentityFile)
	r.Access.SSH.KnownHosts = absoluteUnlessHome(r.Access.SSH.KnownHosts)
	for i, f := range r.Access.IdentityFiles {
		r.Access.IdentityFiles[i] = absoluteUnlessHome(f)
	}
	return nil
}

// absoluteUnlessHome makes a relative path absolute; "" and ~/... are kept as they are.
func absoluteUnlessHome(p string) string {
	if p == "" || strings.HasPrefix(p, "~") || filepath.IsAbs(p) {
		return p
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// RefuseOverwrite is init's early refusal, before a single host is contacted; the write at
// the end checks again.
func (r *InitRequest) RefuseOverwrite() error {
	if _, err := os.Lstat(r.File); err == nil && !r.Force {
		return fmt.Errorf("%s exists; quorate init never overwrites a cluster file: pass --force, or write another with -c FILE", r.File)
	}
	return nil
}
