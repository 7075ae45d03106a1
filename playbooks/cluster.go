package playbooks

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

// ClusterRequest is what every playbook on a cluster file starts from.
type ClusterRequest struct {
	Inventory *inventory.Inventory
	Access    Access
}

// clusterRun is one run on the nodes of a cluster file: the connections, a pve.Node per
// reached node, and what was seen of each.
type clusterRun struct {
	inv   *inventory.Inventory
	cfg   remote.Config
	conns *Conns
	nodes map[string]*pve.Node
	seen  []bootstrap.Seen
}

// RootPassword reads the root password from the variable cluster.password_env names, or asks
// on a terminal when it is not set. "" with no error means there is none and none can be asked.
func (s *Session) RootPassword(inv *inventory.Inventory) (string, error) {
	if v, ok := os.LookupEnv(inv.Cluster.PasswordEnv); ok && v != "" {
		s.addSecret(v)
		return v, nil
	}
	if s.Ask == nil || !s.Ask.Terminal() {
		return "", nil
	}
	v, err := s.Ask.Secret(fmt.Sprintf("Root password of the cluster's nodes (or set %s): ", inv.Cluster.PasswordEnv))
	s.addSecret(v)
	return v, err
}

// openCluster dials every node of the file and reads, on each, its facts and cluster status.
func (s *Session) openCluster(ctx context.Context, req ClusterRequest) *clusterRun {
	r := &clusterRun{inv: req.Inventory, cfg: s.clusterConfig(req.Access), nodes: map[string]*pve.Node{}}
	targets := make([]Target, len(r.inv.Nodes))
	for i, n := range r.inv.Nodes {
		targets[i] = Target{Name: n.Name, Address: n.Address}
	}
	r.conns = s.Connect(ctx, r.cfg, targets)
	r.seen = make([]bootstrap.Seen, len(targets))
	for i, conn := range r.conns.All() {
		r.seen[i] = bootstrap.Seen{Node: conn.Name, Err: conn.Err}
		if conn.Client != nil {
			r.nodes[conn.Name] = pve.NewNode(conn.Client)
		}
	}
	_ = r.conns.Each(ctx, func(ctx context.Context, conn *Conn) error {
		seen := &r.seen[conn.index]
		facts, err := r.nodes[conn.Name].Facts(ctx)
		if err != nil {
			seen.Err = &HostError{Host: conn.Label(), Err: err}
			return err
		}
		seen.Facts = &facts
		st, err := r.nodes[conn.Name].Status(ctx)
		if err != nil {
			seen.StatusErr = err
			return nil
		}
		seen.Status = &st
		if st.State != pve.NotInCluster {
			ok, err := r.nodes[conn.Name].RootKeyInCluster(ctx)
			seen.RootKeyMissing = err == nil && !ok
		}
		return nil
	})
	return r
}

func (r *clusterRun) Close() { r.conns.Close() }

// joinPassword is the root password when a plan joins with join: api ("" otherwise), or why
// nothing can be changed without it.
func (s *Session) joinPassword(inv *inventory.Inventory, joins bool) (string, error) {
	if inv.Cluster.Join != inventory.JoinAPI || !joins {
		return "", nil
	}
	pw, err := s.RootPassword(inv)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", fmt.Errorf("nothing changed: joining needs the root password: set %s (cluster.password_env), or run on a terminal to be asked", inv.Cluster.PasswordEnv)
	}
	return pw, nil
}

// engine is the step engine over this run's nodes and connections.
func (r *clusterRun) engine(s *Session, password string, joinTimeout time.Duration) *bootstrap.Engine {
	return &bootstrap.Engine{
		Inventory:   r.inv,
		Nodes:       r.nodes,
		Password:    password,
		UseSSH:      r.inv.Cluster.Join == inventory.JoinSSH,
		HostKey:     r.hostKey,
		Relogin:     r.relogin,
		Progress:    s.notef,
		Waiting:     s.waiting,
		JoinTimeout: joinTimeout,
	}
}

// hostKey is node's host key as this run verified it, in authorized_keys form.
func (r *clusterRun) hostKey(node string) string {
	for _, c := range r.conns.All() {
		if c.Name == node && c.Client != nil {
			return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(c.Client.HostKey())))
		}
	}
	return ""
}

// relogin proves a fresh SSH login to node works, with the run's own settings.
func (r *clusterRun) relogin(ctx context.Context, node string) error {
	for _, n := range r.inv.Nodes {
		if n.Name != node {
			continue
		}
		c, err := remote.Dial(ctx, n.Address, r.cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Run(ctx, remote.Command{Line: "true"})
		return err
	}
	return fmt.Errorf("%s is not in cluster.yaml", node)
}

// StatusReport is what every node says of itself and its cluster.
type StatusReport struct {
	Cluster string                  `json:"cluster"`
	Nodes   []bootstrap.Observation `json:"nodes"`
	// Views are each reachable member's cluster status, by node.
	Views map[string]*pve.ClusterStatus `json:"views"`
	// Versions are each node's pveversion line, by node.
	Versions map[string]string `json:"versions"`
	// Links are corosync's view of its links from each member (corosync-cfgtool), by node.
	Links map[string]*pve.Links `json:"links"`
}

// Status reads every node; it changes nothing.
func (s *Session) Status(ctx context.Context, req ClusterRequest) (StatusReport, error) {
	r := s.openCluster(ctx, req)
	defer r.Close()
	rep := StatusReport{Cluster: req.Inventory.Cluster.Name, Views: map[string]*pve.ClusterStatus{},
		Versions: map[string]string{}, Links: map[string]*pve.Links{}}
	rep.Nodes = bootstrap.Classify(req.Inventory.Cluster.Name, r.seen)
	for _, seen := range r.seen {
		if seen.Status != nil {
			rep.Views[seen.Node] = seen.Status
		}
		if seen.Facts != nil {
			rep.Versions[seen.Node] = seen.Facts.PVEVersionLine
		}
	}
	var linksMu sync.Mutex
	_ = r.conns.Each(ctx, func(ctx context.Context, conn *Conn) error {
		if st := rep.Views[conn.Name]; st == nil || st.State == pve.NotInCluster {
			return nil
		}
		links, err := r.nodes[conn.Name].Links(ctx)
		if err != nil {
			return err
		}
		linksMu.Lock()
		defer linksMu.Unlock()
		rep.Links[conn.Name] = &links
		return nil
	})
	if err := ctx.Err(); err != nil {
		return rep, context.Cause(ctx)
	}
	return rep, r.conns.Err()
}
