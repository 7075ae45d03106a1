package bootstrap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
)

// Engine carries out a plan on the nodes of one cluster file.
type Engine struct {
	Inventory *inventory.Inventory
	Nodes     map[string]*pve.Node // by node name, over the run's connections
	// Password is root@pam's password for join: api; it travels on stdin only.
	Password string
	// UseSSH joins with pvecm add --use_ssh (join: ssh); HostKey then gives each node's
	// host key as quorate verified it ("ssh-ed25519 AAAA..."), for the joiner's known_hosts.
	UseSSH  bool
	HostKey func(node string) string
	// Relogin makes a fresh SSH login to a node, as a user or migration would.
	Relogin func(ctx context.Context, node string) error
	// Backup copies what a step is about to change on its node (BackedUp) to the local run
	// directory and says where.
	Backup func(ctx context.Context, step Step) (string, error)
	// Progress tells the user what happens as it happens.
	Progress func(format string, args ...any)
	// Waiting, when set, shows a long wait (a join, the quorum wait) as it goes, until the
	// returned stop is called.
	Waiting func(what string) (stop func())

	JoinTimeout   time.Duration // default 5m; pvecm's own wait has none
	StepGrace     time.Duration // after an interruption, for the running step to finish; default 60s
	VerifyTimeout time.Duration // default 2m
	PollInterval  time.Duration // default 200ms
}

// BackedUp are the files a create or join replaces on the node it runs on: a join replaces
// the node's whole configuration database with the cluster's.
var BackedUp = []string{
	"/etc/pve/corosync.conf", "/etc/corosync/corosync.conf", "/etc/corosync/authkey",
	"/var/lib/pve-cluster/config.db", "/etc/pve/priv/authorized_keys",
}

// StepResult is one step carried out and verified.
type StepResult struct {
	Step     Step          `json:"step"`
	Took     time.Duration `json:"took"`
	Verified Verified      `json:"verified"`
	Backup   string        `json:"backup,omitempty"`
}

// StepError is a step that failed: what failed, and the evidence gathered from each node.
type StepError struct {
	Step        Step
	Err         error
	Diagnostics map[string][]pve.Diagnostic // by node
}

// Error names the node; the step is named by the error itself ("join: failed (...)").
func (e *StepError) Error() string {
	return fmt.Sprintf("%s: %v", e.Step.Node, e.Err)
}
func (e *StepError) Unwrap() error { return e.Err }

// Run carries out the steps in order, each verified from every member before the next
// starts; it stops at the first failure, which it returns as a *StepError, with the results
// of the steps done before it.
func (e *Engine) Run(ctx context.Context, plan Plan) ([]StepResult, error) {
	var done []StepResult
	for i, step := range plan.Steps {
		if ctx.Err() != nil {
			// Interrupted between steps: nothing is running, the cluster is as verified.
			return done, context.Cause(ctx)
		}
		e.progress("[%d/%d] %s", i+1, len(plan.Steps), step.Describe(plan.Cluster))
		stepCtx, stop := e.graceful(ctx, step)
		res, err := e.runStep(stepCtx, step)
		stop()
		if err != nil {
			se := &StepError{Step: step, Err: err}
			if ctx.Err() == nil {
				se.Diagnostics = e.diagnose(ctx, step.Members)
			}
			return done, se
		}
		e.progress("[%d/%d] %s: verified from %d member(s) in %s (%d of %d votes, quorum %d)",
			i+1, len(plan.Steps), step.Node, len(step.Members), res.Verified.Took.Round(10*time.Millisecond),
			step.VotesAfter, step.VotesAfter, step.QuorumAfter)
		done = append(done, res)
	}
	return done, nil
}

// graceful is ctx for one step, except that an interruption gives the running step
// StepGrace (default 60 s) to finish before it is stopped: a join cut in the middle leaves a
// half-joined node, a finished one a verified member. A second Ctrl-C ends the process at once.
func (e *Engine) graceful(ctx context.Context, step Step) (context.Context, func()) {
	grace := e.StepGrace
	if grace <= 0 {
		grace = 60 * time.Second
	}
	stepCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stopWatch := context.AfterFunc(ctx, func() {
		e.progress("    interrupted: letting the %s of %s finish (up to %s); interrupt again to stop at once", step.Kind, step.Node, grace)
		timer := time.AfterFunc(grace, func() { cancel(context.Cause(ctx)) })
		context.AfterFunc(stepCtx, func() { timer.Stop() })
	})
	return stepCtx, func() {
		stopWatch()
		cancel(nil)
	}
}

func (e *Engine) runStep(ctx context.Context, step Step) (StepResult, error) {
	start := time.Now()
	res := StepResult{Step: step}
	node := e.Nodes[step.Node]
	if e.Backup != nil {
		var err error
		if res.Backup, err = e.Backup(ctx, step); err != nil {
			return res, fmt.Errorf("backup before %s: %w", step.Kind, err)
		}
	}
	n, ok := e.invNode(step.Node)
	if !ok {
		return res, fmt.Errorf("not in cluster.yaml")
	}
	switch step.Kind {
	case StepCreate:
		if _, err := node.Create(ctx, pve.CreateOpts{ClusterName: e.Inventory.Cluster.Name, Links: links(n), NodeID: n.NodeID, Votes: n.Votes}); err != nil {
			return res, err
		}
	case StepFinish:
		if err := node.UpdateCerts(ctx, pve.UpdateCertsOpts{}); err != nil {
			return res, err
		}
	case StepJoin:
		stop := e.waiting(fmt.Sprintf("pvecm add on %s", step.Node))
		err := e.join(ctx, step, n)
		stop()
		if err != nil {
			return res, err
		}
	}
	e.progress("    %s done; verifying from every member", step.Kind)
	stop := e.waiting("waiting for quorum and verifying")
	v, err := e.Verify(ctx, Expect{Members: step.Members, Votes: step.VotesAfter, NewNode: step.Node})
	stop()
	if err != nil {
		return res, err
	}
	res.Verified, res.Took = v, time.Since(start)
	return res, nil
}

func (e *Engine) join(ctx context.Context, step Step, n inventory.Node) error {
	through := e.Nodes[step.Through]
	// The fingerprint is read over quorate's own verified SSH session to the member, so the
	// joiner never has to trust the certificate on first use.
	fp, err := through.CertFingerprint(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", step.Through, err)
	}
	opts := pve.JoinOpts{
		Target:      e.apiAddress(step.Through),
		Password:    e.Password,
		Fingerprint: fp,
		Links:       links(n),
		NodeID:      n.NodeID,
		UseSSH:      e.UseSSH,
		Timeout:     e.joinTimeout(),
	}
	if opts.UseSSH {
		opts.Password, opts.Fingerprint = "", ""
	}
	if n.Votes != 0 {
		v := n.Votes
		opts.Votes = &v
	}
	var cleanup func()
	if opts.UseSSH {
		if cleanup, err = e.trustForJoin(ctx, step); err != nil {
			return err
		}
	}
	jr, err := e.Nodes[step.Node].Join(ctx, opts)
	if cleanup != nil {
		cleanup()
		if err == nil {
			err = e.keepRootKey(ctx, step.Node)
		}
	}
	var f *pve.Failure
	if errors.As(err, &f) && f.Kind == pve.FailPasswordRejected {
		return &passwordRejectedError{member: step.Through, joiner: step.Node, line: f.Line, err: err}
	}
	if err != nil {
		return err
	}
	if !strings.EqualFold(jr.Node, step.Node) {
		return fmt.Errorf("pvecm reports node %q added, not %s: the host's name is not its name in cluster.yaml", jr.Node, step.Node)
	}
	return nil
}

// passwordRejectedError is the member refusing the root password: said plainly, since it is
// the user's to fix, with pvecm's own line.
type passwordRejectedError struct {
	member, joiner, line string
	err                  error
}

func (e *passwordRejectedError) Error() string {
	return fmt.Sprintf("join: the root password for %s was rejected (%s); %s is unchanged", e.member, e.line, e.joiner)
}

func (e *passwordRejectedError) Unwrap() error { return e.err }

// trustForJoin sets up what pvecm add --use_ssh needs and nothing more: the joiner's root key
// authorised on the member, the member's host key (as quorate verified it) known to the
// joiner. Both lines carry a marker, and cleanup removes exactly them, whatever the join did.
func (e *Engine) trustForJoin(ctx context.Context, step Step) (cleanup func(), err error) {
	joiner, member := e.Nodes[step.Node], e.Nodes[step.Through]
	hostKey := ""
	if e.HostKey != nil {
		hostKey = e.HostKey(step.Through)
	}
	if hostKey == "" {
		return nil, fmt.Errorf("join: ssh needs %s's host key", step.Through)
	}
	key, err := joiner.RootPublicKey(ctx)
	if err != nil {
		return nil, err
	}
	marker := "quorate-join-" + rand.Text()[:12]
	cleanup = func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for node, file := range map[string]string{step.Through: AuthorizedKeysFile, step.Node: KnownHostsFile} {
			if err := e.Nodes[node].RemoveMarked(ctx, file, marker); err != nil {
				e.progress("    %s: could not remove the temporary SSH trust (lines marked %s in %s): %v", node, marker, file, err)
			}
		}
	}
	if err := member.AppendMarked(ctx, AuthorizedKeysFile, key, marker); err != nil {
		cleanup()
		return nil, fmt.Errorf("%s: %w", step.Through, err)
	}
	if err := joiner.AppendMarked(ctx, KnownHostsFile, e.apiAddress(step.Through)+" "+hostKey, marker); err != nil {
		cleanup()
		return nil, err
	}
	e.progress("    SSH trust for the join alone: %s's root key on %s, %s's host key on %s", step.Node, step.Through, step.Through, step.Node)
	return cleanup, nil
}

// keepRootKey puts the joiner's root key back in the cluster's authorized_keys when the
// removal of the temporary trust took it away. ssh-copy-id in the join adds no line for a key
// that already logs in, and PVE's ssh_merge_keys keeps only the first line of each key
// (docs/pve.md §1.3 step 5, §2.4): the first was quorate's marked line, so the one the join
// added for the node itself was dropped. pvecm updatecerts merges the node's key again.
// Verify judges the outcome; a failed check here is left to it.
func (e *Engine) keepRootKey(ctx context.Context, node string) error {
	n := e.Nodes[node]
	if ok, err := n.RootKeyInCluster(ctx); err != nil || ok {
		return nil
	}
	e.progress("    %s: its root key went with the temporary trust; pvecm updatecerts adds it again", node)
	if err := n.UpdateCerts(ctx, pve.UpdateCertsOpts{}); err != nil {
		return fmt.Errorf("putting the root key back after the join: %w", err)
	}
	return nil
}

// Root's SSH files on a node, where temporary trust goes.
const (
	AuthorizedKeysFile = "/root/.ssh/authorized_keys"
	KnownHostsFile     = "/root/.ssh/known_hosts"
)

// diagnose gathers the evidence from every node the step involved, with a budget of its own.
func (e *Engine) diagnose(ctx context.Context, nodes []string) map[string][]pve.Diagnostic {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	out := map[string][]pve.Diagnostic{}
	type got struct {
		node string
		d    []pve.Diagnostic
	}
	ch := make(chan got, len(nodes))
	for _, name := range nodes {
		go func() { ch <- got{name, e.Nodes[name].Diagnostics(ctx)} }()
	}
	for range nodes {
		g := <-ch
		out[g.node] = g.d
	}
	return out
}

func (e *Engine) invNode(name string) (inventory.Node, bool) {
	for _, n := range e.Inventory.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return inventory.Node{}, false
}

// apiAddress is where other nodes reach name's API: its link0 address, an IP by the file's rules.
func (e *Engine) apiAddress(name string) string {
	if n, ok := e.invNode(name); ok && len(n.Links) > 0 {
		return n.Links[0]
	}
	return name
}

func links(n inventory.Node) []pve.Link {
	out := make([]pve.Link, len(n.Links))
	for i, a := range n.Links {
		out[i] = pve.Link{Number: i, Addr: a}
	}
	return out
}

func (e *Engine) progress(format string, args ...any) {
	if e.Progress != nil {
		e.Progress(format, args...)
	}
}

func (e *Engine) waiting(what string) func() {
	if e.Waiting == nil {
		return func() {}
	}
	return e.Waiting(what)
}

func (e *Engine) joinTimeout() time.Duration {
	if e.JoinTimeout > 0 {
		return e.JoinTimeout
	}
	return 5 * time.Minute
}

func (e *Engine) verifyTimeout() time.Duration {
	if e.VerifyTimeout > 0 {
		return e.VerifyTimeout
	}
	return 2 * time.Minute
}

func (e *Engine) pollInterval() time.Duration {
	if e.PollInterval > 0 {
		return e.PollInterval
	}
	return 200 * time.Millisecond
}
