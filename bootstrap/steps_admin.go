package bootstrap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quorate/quorate/pve"
)

// The steps of add, rebuild, remove and qdevice beyond create and join, and the engine that
// carries out their plans with the same guarantees as Run: a backup of what each step changes,
// then the step, then verification from every member before the next.

const (
	StepDelNode       StepKind = "delnode"        // pvecm delnode Node, on the member Through
	StepCleanup       StepKind = "cleanup"        // Node's directory and old keys out of /etc/pve, on Through
	StepUpdateCerts   StepKind = "updatecerts"    // pvecm updatecerts on Node
	StepQDeviceSetup  StepKind = "qdevice-setup"  // pvecm qdevice setup on the member Node
	StepQDeviceRemove StepKind = "qdevice-remove" // pvecm qdevice remove on the member Node
	StepSeparate      StepKind = "separate"       // Node leaves the cluster on its own side
	StepExpected      StepKind = "expected"       // pvecm expected on Node
)

// Change is what a change step carries beyond a Step.
type Change struct {
	// NodeID is, for a join, the node id asked for (rebuild: the old one); for a rebuild's
	// delnode, the id its mark records first.
	NodeID int  `json:"nodeid,omitempty"`
	Force  bool `json:"force,omitempty"` // join: pvecm add --force, over the node's old entry
	// Unlisted are members cluster.yaml does not list: expected online, never asked or touched.
	Unlisted []string `json:"unlisted,omitempty"`
	// QDevice is the qnetd host of a qdevice step; QDeviceForce runs setup on an odd count.
	QDevice      string   `json:"qdevice,omitempty"`
	QDeviceForce bool     `json:"qdevice_force,omitempty"`
	Addrs        []string `json:"addrs,omitempty"`    // cleanup: the node's addresses, as known_hosts names it
	SaveDir      bool     `json:"save_dir,omitempty"` // delnode: the node's /etc/pve/nodes directory is saved first
	Expected     int      `json:"expected,omitempty"` // expected: the votes set
}

// ChangeStep is one step of a ChangePlan.
type ChangeStep struct {
	Step
	Change
}

// RunsOn is the node the step's command runs on, and whose files its backup holds.
func (s ChangeStep) RunsOn() string {
	switch s.Kind {
	case StepDelNode, StepCleanup:
		return s.Through
	}
	return s.Node
}

// Describe is the step as one line of a plan.
func (s ChangeStep) Describe(cluster string) string {
	switch s.Kind {
	case StepJoin:
		d := fmt.Sprintf("join %s to %s through %s", s.Node, cluster, s.Through)
		if s.NodeID > 0 {
			d += fmt.Sprintf(" with its old node id %d", s.NodeID)
		}
		if s.Force {
			d += " (pvecm add --force, over its old entry)"
		}
		return d
	case StepDelNode:
		d := fmt.Sprintf("pvecm delnode %s on %s", s.Node, s.Through)
		if s.SaveDir {
			d += fmt.Sprintf(" (its /etc/pve/nodes/%s saved here first)", s.Node)
		}
		return d
	case StepCleanup:
		return fmt.Sprintf("remove %s's node directory and old keys from /etc/pve, on %s", s.Node, s.Through)
	case StepUpdateCerts:
		return fmt.Sprintf("pvecm updatecerts on %s (the cluster learns its new keys)", s.Node)
	case StepQDeviceSetup:
		d := fmt.Sprintf("set up the QDevice on %s (pvecm qdevice setup on %s)", s.QDevice, s.Node)
		if s.QDeviceForce {
			d += ", --force: algorithm lms"
		}
		return d
	case StepQDeviceRemove:
		return fmt.Sprintf("remove the QDevice on %s (pvecm qdevice remove on %s)", s.QDevice, s.Node)
	case StepSeparate:
		return fmt.Sprintf("separate %s from the cluster on its own side (pve-docs' procedure; its guests stay)", s.Node)
	case StepExpected:
		return fmt.Sprintf("pvecm expected %d on %s (the missing votes are gone for good)", s.Expected, s.Node)
	}
	return s.Step.Describe(cluster)
}

// ChangeResult is one change step carried out and verified.
type ChangeResult struct {
	Step     ChangeStep    `json:"step"`
	Took     time.Duration `json:"took"`
	Verified Verified      `json:"verified"`
	Backup   string        `json:"backup,omitempty"`
	// Found is what the step met and the user should know (what a clean-up removed).
	Found string `json:"found,omitempty"`
}

// ChangeEngine runs change plans: an Engine, and what the qdevice steps need.
type ChangeEngine struct {
	*Engine
	// QNetd is the qnetd host of a qdevice setup, over the run's own SSH connection, and
	// QNetdHostKey its host key as quorate verified it ("ssh-ed25519 AAAA..."), which the
	// member running pvecm is given for the setup alone.
	QNetd        *pve.Node
	QNetdHostKey string
	// Backup copies what a step is about to change into the run directory and says where.
	Backup func(ctx context.Context, step ChangeStep) (string, error)
}

// Run carries out the steps in order, each verified from every member before the next; it
// stops at the first failure, a *StepError, with the results of the steps done before it.
func (e *ChangeEngine) Run(ctx context.Context, plan ChangePlan) ([]ChangeResult, error) {
	var done []ChangeResult
	for i, step := range plan.Steps {
		if ctx.Err() != nil {
			// Interrupted between steps: nothing is running, the cluster is as verified.
			return done, context.Cause(ctx)
		}
		e.progress("[%d/%d] %s", i+1, len(plan.Steps), step.Describe(plan.Cluster))
		// As in Run: an interruption lets the running step finish, up to StepGrace.
		stepCtx, stop := e.graceful(ctx, step.Step)
		res, err := e.runStep(stepCtx, step)
		stop()
		if err != nil {
			se := &StepError{Step: step.Step, Err: err}
			if ctx.Err() == nil {
				se.Diagnostics = e.diagnose(ctx, step.Members)
			}
			return done, se
		}
		if res.Found != "" {
			e.progress("    %s", res.Found)
		}
		e.progress("[%d/%d] verified from %d member(s) in %s (%d expected votes, quorum %d)",
			i+1, len(plan.Steps), len(step.Members), res.Verified.Took.Round(10*time.Millisecond), step.VotesAfter, step.QuorumAfter)
		done = append(done, res)
	}
	return done, nil
}

func (e *ChangeEngine) runStep(ctx context.Context, step ChangeStep) (ChangeResult, error) {
	start := time.Now()
	res := ChangeResult{Step: step}
	if e.Backup != nil {
		var err error
		if res.Backup, err = e.Backup(ctx, step); err != nil {
			return res, fmt.Errorf("backup before %s: %w", step.Kind, err)
		}
	}
	for _, name := range append([]string{step.RunsOn()}, step.Members...) {
		if e.Nodes[name] == nil {
			return res, fmt.Errorf("no connection to %s", name)
		}
	}
	stop := e.waiting(fmt.Sprintf("%s on %s", step.Kind, step.RunsOn()))
	found, err := e.apply(ctx, step)
	stop()
	if err != nil {
		return res, err
	}
	res.Found = found
	e.progress("    %s done; verifying from every member", step.Kind)
	stop = e.waiting("verifying")
	v, err := e.verifyStep(ctx, step)
	stop()
	if err != nil {
		return res, err
	}
	res.Verified, res.Took = v, time.Since(start)
	return res, nil
}

func (e *ChangeEngine) apply(ctx context.Context, step ChangeStep) (string, error) {
	on := e.Nodes[step.RunsOn()]
	var f *pve.Failure
	switch step.Kind {
	case StepJoin:
		n, ok := e.invNode(step.Node)
		if !ok {
			return "", errors.New("not in cluster.yaml")
		}
		if step.NodeID > 0 {
			n.NodeID = step.NodeID
		}
		var err error
		if step.Force {
			err = e.forceJoin(ctx, step, n.NodeID)
		} else {
			err = e.join(ctx, step.Step, n)
		}
		if err == nil && step.NodeID > 0 {
			// Back in the nodelist: a rebuild's mark has done its job.
			err = e.Nodes[step.Through].RemoveRebuildMark(ctx, step.Node)
		}
		return "", err
	case StepDelNode:
		if step.NodeID > 0 {
			if err := on.WriteRebuildMark(ctx, step.Node, step.NodeID); err != nil {
				return "", err
			}
		}
		_, err := on.DelNode(ctx, step.Node)
		if errors.As(err, &f) && f.Kind == pve.FailUnknownNode {
			return fmt.Sprintf("%s was no longer in the nodelist", step.Node), nil
		}
		return "", err
	case StepCleanup:
		keep, err := e.rootKeys(ctx, step.Members)
		if err != nil {
			return "", err
		}
		found, err := on.StaleNode(ctx, pve.StaleNodeOpts{Name: step.Node, Addrs: step.Addrs, Keep: keep, Remove: true})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("removed from /etc/pve: %s", found), nil
	case StepUpdateCerts:
		return "", on.UpdateCerts(ctx, pve.UpdateCertsOpts{})
	case StepQDeviceSetup:
		return "", e.qdeviceSetup(ctx, step)
	case StepQDeviceRemove:
		err := on.QDeviceRemove(ctx)
		if errors.As(err, &f) && f.Kind == pve.FailQDeviceMissing {
			return "no QDevice was configured any more", nil
		}
		return "", err
	case StepSeparate:
		return "", on.Separate(ctx)
	case StepExpected:
		return "", on.SetExpected(ctx, step.Expected)
	}
	return "", fmt.Errorf("no such step kind %q", step.Kind)
}

// forceJoin re-adds a node over its own nodelist entry: pvecm add --force with the old node
// id (docs/pve.md §2.6, §7), the fingerprint read over quorate's session as for any join.
func (e *ChangeEngine) forceJoin(ctx context.Context, step ChangeStep, nodeID int) error {
	fp, err := e.Nodes[step.Through].CertFingerprint(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", step.Through, err)
	}
	n, _ := e.invNode(step.Node)
	opts := pve.JoinOpts{Target: e.apiAddress(step.Through), Password: e.Password, Fingerprint: fp, Links: links(n),
		NodeID: nodeID, Force: true, Timeout: e.joinTimeout()}
	jr, err := e.Nodes[step.Node].Join(ctx, opts)
	if err != nil {
		return err
	}
	if !strings.EqualFold(jr.Node, step.Node) {
		return fmt.Errorf("pvecm reports node %q added, not %s", jr.Node, step.Node)
	}
	return nil
}

// rootKeys are the root keys of the members: a clean-up never removes them, whatever their
// comment says. The node cleaned up is not among them, even when it is reachable (separated).
func (e *ChangeEngine) rootKeys(ctx context.Context, members []string) ([]string, error) {
	var keep []string
	for _, name := range members {
		key, err := e.Nodes[name].ExistingRootKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if blob := pve.KeyBlob(key); blob != "" {
			keep = append(keep, blob)
		}
	}
	slices.Sort(keep)
	return keep, nil
}

// qdeviceSetup prepares what pvecm qdevice setup needs (docs/pve.md §3.6) and runs it:
// corosync-qnetd running on the qnetd host, corosync-qdevice on every member, TCP 5403 from
// each, and root SSH from the member to the qnetd host for the setup alone (its root key
// authorised there, the qnetd host's verified key in its known_hosts, both lines marked and
// removed after).
func (e *ChangeEngine) qdeviceSetup(ctx context.Context, step ChangeStep) error {
	if e.QNetd == nil || e.QNetdHostKey == "" {
		return fmt.Errorf("no connection to the qnetd host %s", step.QDevice)
	}
	missing, err := e.QNetd.MissingCommands(ctx, "corosync-qnetd", "corosync-qnetd-certutil")
	if err != nil {
		return fmt.Errorf("qnetd host %s: %w", step.QDevice, err)
	}
	if len(missing) > 0 {
		e.progress("    installing %s on %s", pve.QNetdPackage, step.QDevice)
		if err := e.QNetd.InstallPackages(ctx, pve.QNetdPackage); err != nil {
			return fmt.Errorf("qnetd host %s: %w", step.QDevice, err)
		}
	}
	if err := e.QNetd.StartService(ctx, "corosync-qnetd"); err != nil {
		return fmt.Errorf("qnetd host %s: %w", step.QDevice, err)
	}
	for _, m := range step.Members {
		missing, err := e.Nodes[m].MissingCommands(ctx, "corosync-qdevice")
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		if len(missing) > 0 {
			e.progress("    installing %s on %s", pve.QDevicePackage, m)
			if err := e.Nodes[m].InstallPackages(ctx, pve.QDevicePackage); err != nil {
				return fmt.Errorf("%s: %w", m, err)
			}
		}
		if err := e.Nodes[m].TCPReachable(ctx, step.QDevice, pve.QNetdPort); err != nil {
			return fmt.Errorf("%s: %w (corosync-qdevice connects there)", m, err)
		}
	}
	node := e.Nodes[step.Node]
	key, err := node.RootPublicKey(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", step.Node, err)
	}
	knew, err := node.KnowsHost(ctx, step.QDevice)
	if err != nil {
		return fmt.Errorf("%s: %w", step.Node, err)
	}
	marker := "quorate-qdevice-" + rand.Text()[:12]
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := e.QNetd.RemoveMarked(ctx, AuthorizedKeysFile, marker); err != nil {
			e.progress("    %s: could not remove the temporary SSH trust (lines marked %s in %s): %v", step.QDevice, marker, AuthorizedKeysFile, err)
		}
		err := node.RemoveMarked(ctx, KnownHostsFile, marker)
		if err == nil && !knew {
			// ssh records the host's other keys too (UpdateHostKeys): none of it was there before.
			err = node.ForgetHost(ctx, step.QDevice)
		}
		if err != nil {
			e.progress("    %s: could not remove the temporary SSH trust (lines marked %s in %s): %v", step.Node, marker, KnownHostsFile, err)
		}
	}
	defer cleanup()
	if err := e.QNetd.AppendMarked(ctx, AuthorizedKeysFile, key, marker); err != nil {
		return fmt.Errorf("qnetd host %s: %w", step.QDevice, err)
	}
	if err := node.AppendMarked(ctx, KnownHostsFile, step.QDevice+" "+e.QNetdHostKey, marker); err != nil {
		return fmt.Errorf("%s: %w", step.Node, err)
	}
	e.progress("    SSH trust for the setup alone: %s's root key on %s, %s's host key on %s", step.Node, step.QDevice, step.QDevice, step.Node)
	return node.QDeviceSetup(ctx, step.QDevice, step.QDeviceForce)
}

// verifyStep proves the cluster is what the step said it would be, from every member it
// asks: as Verify does for every step that changes the membership, then what the step itself
// promised.
func (e *ChangeEngine) verifyStep(ctx context.Context, step ChangeStep) (Verified, error) {
	var v Verified
	switch step.Kind {
	case StepSeparate, StepExpected:
		// The node is still in the nodelist, offline: Verify's membership check does not apply.
	default:
		want := Expect{Members: step.Members, Others: step.Unlisted, Votes: step.VotesAfter}
		if step.Kind == StepJoin || step.Kind == StepUpdateCerts {
			want.NewNode = step.Node
		}
		var err error
		if v, err = e.Verify(ctx, want); err != nil {
			return v, err
		}
	}
	start := time.Now()
	err := e.pollChecks(ctx, func(ctx context.Context) []string { return e.stepProblems(ctx, step) })
	v.Took += time.Since(start)
	return v, err
}

// pollChecks polls check until it finds no problem, as Verify does.
func (e *ChangeEngine) pollChecks(ctx context.Context, check func(ctx context.Context) []string) error {
	start := time.Now()
	deadline := start.Add(e.verifyTimeout())
	for {
		lookCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		problems := check(lookCtx)
		cancel()
		if len(problems) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if time.Now().After(deadline) {
			return &NotQuorateError{Waited: time.Since(start), Problems: problems}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(e.pollInterval()):
		}
	}
}

// stepProblems is what is still wrong for the step's own promise.
func (e *ChangeEngine) stepProblems(ctx context.Context, step ChangeStep) []string {
	var problems []string
	switch step.Kind {
	case StepCleanup:
		// A member's key is never stale, whatever its comment.
		keep, err := e.rootKeys(ctx, step.Members)
		if err != nil {
			return []string{err.Error()}
		}
		left, err := e.Nodes[step.Through].StaleNode(ctx, pve.StaleNodeOpts{Name: step.Node, Addrs: step.Addrs, Keep: keep})
		if err != nil {
			return []string{fmt.Sprintf("%s: %v", step.Through, err)}
		}
		if !left.Clean() {
			problems = append(problems, fmt.Sprintf("%s: /etc/pve still holds %s of %s", step.Through, left, step.Node))
		}
	case StepUpdateCerts:
		problems = append(problems, e.sshProblems(ctx, step)...)
	case StepQDeviceSetup, StepQDeviceRemove:
		problems = append(problems, e.qdeviceProblems(ctx, step)...)
	case StepSeparate:
		st, err := e.Nodes[step.Node].Status(ctx)
		if err != nil || st.State != pve.NotInCluster {
			problems = append(problems, fmt.Sprintf("%s: still in a cluster (%s, %v)", step.Node, st.State, err))
		}
	case StepExpected:
		st, err := e.Nodes[step.Node].Status(ctx)
		if err != nil || st.State != pve.Quorate {
			problems = append(problems, fmt.Sprintf("%s: not quorate after pvecm expected (%s, %v)", step.Node, st.State, err))
		}
	}
	return problems
}

// sshProblems checks root SSH by node name, as migration logs in, from the re-added node to
// every other member and back (docs/pve.md §7: stale fingerprints break exactly this).
func (e *ChangeEngine) sshProblems(ctx context.Context, step ChangeStep) []string {
	var problems []string
	for _, m := range step.Members {
		if m == step.Node {
			continue
		}
		for _, pair := range [][2]string{{m, step.Node}, {step.Node, m}} {
			from, to := pair[0], pair[1]
			if err := e.Nodes[from].SSHToMember(ctx, to, e.apiAddress(to)); err != nil {
				problems = append(problems, fmt.Sprintf("%s: root SSH to %s by name fails: %v", from, to, err))
			}
		}
	}
	return problems
}

// qdeviceProblems checks the QDevice from every member: after a setup, its vote counted
// (flags A,V in the membership) and the daemon connected to the qnetd host; after a remove,
// neither a QDevice row nor a running daemon.
func (e *ChangeEngine) qdeviceProblems(ctx context.Context, step ChangeStep) []string {
	var problems []string
	setup := step.Kind == StepQDeviceSetup
	for _, m := range step.Members {
		st, err := e.Nodes[m].Status(ctx)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", m, err))
			continue
		}
		local, _ := st.Local()
		flags := strings.Split(local.QDevice, ",")
		switch {
		case setup && (st.QDevice == nil || !st.QDevice.Voting):
			problems = append(problems, fmt.Sprintf("%s: the QDevice's vote is not counted", m))
		case setup && !(slices.Contains(flags, "A") && slices.Contains(flags, "V")):
			problems = append(problems, fmt.Sprintf("%s: QDevice flags %q, want A (alive) and V (vote)", m, local.QDevice))
		case !setup && (st.QDevice != nil || st.HasFlag("Qdevice")):
			problems = append(problems, fmt.Sprintf("%s: a QDevice is still registered", m))
		}
		d, running, err := e.Nodes[m].QDeviceDaemon(ctx)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", m, err))
		case setup && (!running || !d.Connected()):
			problems = append(problems, fmt.Sprintf("%s: corosync-qdevice is not connected to %s (state %q)", m, step.QDevice, d.State))
		case !setup && running:
			problems = append(problems, fmt.Sprintf("%s: corosync-qdevice still runs", m))
		}
	}
	return problems
}
