package playbooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/pve"
)

// What add, rebuild, remove and qdevice share: the running cluster learnt from any reachable
// member (it may have been built by hand), a lock, a plan with the quorum arithmetic of every
// step, the user's confirmation, and a ChangeEngine that backs up, acts and verifies from
// every member, one step at a time. Run again, each command plans from what it finds, so a
// run cut short resumes.

// ChangeRequest is what every change playbook is asked.
type ChangeRequest struct {
	ClusterRequest
	// Approve is shown the plan before anything changes; an error stops the run there.
	Approve     func(bootstrap.ChangePlan) error
	JoinTimeout time.Duration
	Opts        bootstrap.ChangeOpts
}

// ChangeReport is a change run's outcome, filled as far as the run got.
type ChangeReport struct {
	Plan    bootstrap.ChangePlan     `json:"plan"`
	Steps   []bootstrap.ChangeResult `json:"steps"`
	Failure *UpFailure               `json:"failure,omitempty"`
	Took    time.Duration            `json:"took"`
	// Verified says the cluster was verified from every member at the end (also when there
	// was nothing to do).
	Verified bool `json:"verified"`
	// Members is how many members the cluster has at the end.
	Members int `json:"members,omitempty"`
	// Saved is where a removed node's /etc/pve/nodes directory was saved (rebuild, remove).
	Saved string `json:"saved,omitempty"`
	// HostKey is the reinstalled node's old and new SSH host key (rebuild).
	HostKey *HostKeyChange `json:"host_key,omitempty"`
	// Cert is the reinstalled node's API certificate, as the cluster knew it and now (rebuild).
	Cert *CertChange `json:"cert,omitempty"`
	// Preflight is the preflight run before joins (add).
	Preflight *preflight.Report `json:"preflight,omitempty"`
}

// HostKeyChange is a host's SSH key as known_hosts had it and as the host presents it now.
type HostKeyChange struct {
	Node     string `json:"node"`
	Old      string `json:"old"`
	New      string `json:"new"`
	File     string `json:"known_hosts"`
	Accepted string `json:"accepted,omitempty"` // how: "--accept-new-host-key", "terminal"
}

// CertChange is a node's API certificate fingerprint in the cluster's records and on the host.
type CertChange struct {
	Cluster string `json:"cluster"` // "" when the cluster has none for it
	Host    string `json:"host"`
}

// changeRun is one change run: the connections and what was read through them.
type changeRun struct {
	*clusterRun
	observed []bootstrap.Observation
	view     bootstrap.ClusterView
	qnetd    *Conns // the qnetd host, for a qdevice setup
}

// openChange connects to every node of the file and reads the running cluster.
func (s *Session) openChange(ctx context.Context, req ChangeRequest) *changeRun {
	r := &changeRun{clusterRun: s.openCluster(ctx, req.ClusterRequest)}
	r.learn()
	return r
}

func (r *changeRun) Close() {
	if r.qnetd != nil {
		r.qnetd.Close()
	}
	r.clusterRun.Close()
}

// learn classifies the nodes and reads the cluster from the best member: reachable and
// quorate if any is, first in the file's order.
func (r *changeRun) learn() {
	r.observed = bootstrap.Classify(r.inv.Cluster.Name, r.seen)
	r.view = bootstrap.ClusterView{Name: r.inv.Cluster.Name}
	if r.inv.QDevice != nil {
		r.view.WantQDevice = r.inv.QDevice.Address
	}
	through := -1
	for i, o := range r.observed {
		if o.State != bootstrap.StateMember || r.nodes[o.Node] == nil {
			continue
		}
		if through < 0 || (o.Quorate && !r.observed[through].Quorate) {
			through = i
		}
	}
	if through < 0 {
		return
	}
	seen := r.seen[through]
	conf, err := seen.Facts.ClusterConf()
	if err != nil || conf == nil {
		return
	}
	nodes, err := conf.Nodes()
	if err != nil {
		return
	}
	r.view.Through, r.view.Quorate = seen.Node, r.observed[through].Quorate
	if name := conf.ClusterName(); name != "" {
		r.view.Name = name
	}
	if q, ok, err := conf.QDevice(); ok && err == nil {
		r.view.QDevice = &q
	}
	for _, cn := range nodes {
		vn := bootstrap.ViewNode{Name: cn.Name, NodeID: cn.NodeID, Votes: cn.Votes, Reachable: r.nodes[cn.Name] != nil,
			Listed: slices.ContainsFunc(r.inv.Nodes, func(n inventory.Node) bool { return n.Name == cn.Name })}
		if vn.Votes == 0 {
			vn.Votes = 1
		}
		for link := 0; link < 8; link++ {
			if a, ok := cn.Links[link]; ok {
				vn.Addrs = append(vn.Addrs, a)
			}
		}
		if seen.Status != nil {
			for _, m := range seen.Status.Members {
				if m.NodeID == cn.NodeID && m.Online {
					vn.Online = true
				}
			}
		}
		r.view.Nodes = append(r.view.Nodes, vn)
	}
}

// lock takes the run's lock on the first reachable node of the file, as up does on the first
// node: two runs on one cluster must not overlap.
func (r *changeRun) lock(ctx context.Context, command string) (func(), error) {
	for _, n := range r.inv.Nodes {
		if node := r.nodes[n.Name]; node != nil {
			// Not ended by an interruption: the step that is let finish still holds it.
			release, err := node.Lock(context.WithoutCancel(ctx), runOwner(command), 24*time.Hour)
			if err != nil {
				return nil, &HostError{Host: n.Name, Err: err}
			}
			return release, nil
		}
	}
	return nil, errors.New("nothing changed: no node of the cluster file can be reached")
}

// runChange is the common end of every change playbook: refuse a blocked plan, ask for the
// root password when a join needs it, confirm, carry the plan out, verify.
func (s *Session) runChange(ctx context.Context, req ChangeRequest, r *changeRun, plan bootstrap.ChangePlan, report *ChangeReport) error {
	report.Plan = plan
	if len(plan.Blockers) > 0 {
		return &BlockedError{Blockers: plan.Blockers}
	}
	password, err := s.joinPassword(req.Inventory, slices.ContainsFunc(plan.Steps, func(st bootstrap.ChangeStep) bool { return st.Kind == bootstrap.StepJoin }))
	if err != nil {
		return err
	}
	engine := &bootstrap.ChangeEngine{
		Engine: r.engine(s, password, req.JoinTimeout),
		Backup: func(ctx context.Context, step bootstrap.ChangeStep) (string, error) {
			return r.backupChange(ctx, s.RunDir, step, report)
		},
	}
	if needsQNetd(plan) {
		if err := s.connectQNetd(ctx, req, r, engine, plan); err != nil {
			return err
		}
	}
	if req.Approve != nil && len(plan.Steps) > 0 {
		if err := req.Approve(plan); err != nil {
			return err
		}
	}
	if len(plan.Steps) == 0 {
		members, others := finalMembers(r.view)
		if len(members) == 0 {
			return nil
		}
		s.notef("cluster %s: nothing to do; verifying", plan.Cluster)
		if _, err := engine.Verify(ctx, bootstrap.Expect{Members: members, Others: others, Votes: expectedVotes(r.view)}); err != nil {
			return err
		}
		report.Verified, report.Members = true, len(members)+len(others)
		return nil
	}
	done, err := engine.Run(ctx, plan)
	report.Steps = done
	var se *bootstrap.StepError
	if errors.As(err, &se) {
		report.Failure = &UpFailure{Node: se.Step.Node, Step: se.Step.Kind, Error: se.Err.Error(), Diagnostics: se.Diagnostics}
	}
	if err == nil {
		last := plan.Steps[len(plan.Steps)-1]
		report.Verified, report.Members = true, len(last.Members)+len(last.Unlisted)
	}
	return err
}

// finalMembers are the members to verify when nothing is to be done: the online ones quorate
// reaches, and the online ones cluster.yaml does not list.
func finalMembers(v bootstrap.ClusterView) (members, others []string) {
	for _, n := range v.Nodes {
		switch {
		case !n.Online:
		case n.Listed && n.Reachable:
			members = append(members, n.Name)
		case !n.Listed:
			others = append(others, n.Name)
		}
	}
	return members, others
}

// expectedVotes is the cluster's expected votes now: its nodes' and its QDevice's.
func expectedVotes(v bootstrap.ClusterView) int {
	total := 0
	for _, n := range v.Nodes {
		total += n.Votes
	}
	if v.QDevice != nil {
		total += pve.QDeviceVotes(*v.QDevice, total)
	}
	return total
}

func needsQNetd(plan bootstrap.ChangePlan) bool {
	return slices.ContainsFunc(plan.Steps, func(st bootstrap.ChangeStep) bool { return st.Kind == bootstrap.StepQDeviceSetup })
}

// connectQNetd dials the qnetd host of the plan's setup with the run's SSH settings: its key
// is checked against known_hosts like every host's, and is what the member running pvecm is
// given to trust.
func (s *Session) connectQNetd(ctx context.Context, req ChangeRequest, r *changeRun, engine *bootstrap.ChangeEngine, plan bootstrap.ChangePlan) error {
	host := ""
	for _, st := range plan.Steps {
		if st.Kind == bootstrap.StepQDeviceSetup {
			host = st.QDevice
		}
	}
	r.qnetd = s.Connect(ctx, r.cfg, []Target{{Address: host}})
	conn := r.qnetd.All()[0]
	if conn.Err != nil {
		return fmt.Errorf("nothing changed: the qnetd host must be reachable by SSH (corosync-qnetd is prepared there, and pvecm logs in to it): %w", conn.Err)
	}
	engine.QNetd = pve.NewNode(conn.Client)
	engine.QNetdHostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(conn.Client.HostKey())))
	return nil
}

// changeBackups are the files each kind of step changes on the node it runs on.
func changeBackups(step bootstrap.ChangeStep) []string {
	switch step.Kind {
	case bootstrap.StepJoin:
		return bootstrap.BackedUp
	case bootstrap.StepDelNode:
		return []string{"/etc/pve/corosync.conf", "/etc/corosync/corosync.conf", "/etc/pve/nodes/" + step.Node,
			"/etc/pve/priv/authorized_keys", "/etc/pve/priv/known_hosts"}
	case bootstrap.StepCleanup:
		return []string{"/etc/pve/nodes/" + step.Node, "/etc/pve/priv/authorized_keys", "/etc/pve/priv/known_hosts"}
	case bootstrap.StepUpdateCerts:
		return []string{"/etc/pve/nodes/" + step.Node, "/etc/pve/priv/authorized_keys", "/etc/pve/priv/known_hosts"}
	case bootstrap.StepQDeviceSetup, bootstrap.StepQDeviceRemove:
		return []string{"/etc/pve/corosync.conf", "/etc/corosync/corosync.conf", "/etc/corosync/qdevice"}
	case bootstrap.StepSeparate:
		return []string{"/etc/pve/corosync.conf", "/etc/corosync", "/var/lib/pve-cluster/config.db", "/var/lib/corosync"}
	}
	return nil
}

// backupChange copies what the step changes, from the node it runs on, into the run
// directory as up's backups are laid out (backup/NODE/before-KIND-TIME/, each file at its
// path), fetched as one tar. Before a delnode, the node's directory of /etc/pve (its guests'
// configurations are the user's data) is also put under saved/NODE, and report.Saved says
// where.
func (r *changeRun) backupChange(ctx context.Context, dir string, step bootstrap.ChangeStep, report *ChangeReport) (string, error) {
	if dir == "" {
		return "", errors.New("no run directory for backups")
	}
	on := step.RunsOn()
	node := r.nodes[on]
	if node == nil {
		return "", fmt.Errorf("no connection to %s", on)
	}
	into := filepath.Join(dir, "backup", on, fmt.Sprintf("before-%s-%s", step.Kind, time.Now().UTC().Format("20060102T150405.000Z")))
	if err := os.MkdirAll(into, 0o700); err != nil {
		return "", err
	}
	data, err := node.Archive(ctx, changeBackups(step))
	if err != nil {
		return "", fmt.Errorf("%s: %w", on, err)
	}
	if data == nil {
		return into, nil // none of the files exists yet
	}
	if _, err := unpackUnder(data, "", into); err != nil {
		return "", fmt.Errorf("backup from %s: %w", on, err)
	}
	if step.Kind == bootstrap.StepDelNode && step.SaveDir {
		saved := filepath.Join(dir, "saved", step.Node)
		n, err := unpackUnder(data, "etc/pve/nodes/"+step.Node+"/", saved)
		if err != nil {
			return into, fmt.Errorf("saving /etc/pve/nodes/%s: %w", step.Node, err)
		}
		if n > 0 {
			report.Saved = saved
		}
	}
	return into, nil
}
