package preflight

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
)

// Target is one node of the cluster file as the connection set gives it.
type Target struct {
	Node inventory.Node
	// Runner runs commands on the node over its one SSH connection; nil when DialErr is set.
	Runner pve.Runner
	// DialErr is why the node could not be reached: it becomes one ssh-access finding, and the
	// other nodes are still checked.
	DialErr error
	// HostKey is the SHA256 fingerprint ("SHA256:...") of the host key the connection was
	// made with, for unique-identity; "" when unknown.
	HostKey string
}

// Options tune Run. The zero value is the preflight of `quorate preflight`.
type Options struct {
	// Ignore names checks whose errors become warnings (--ignore-check); a name that is not
	// one of Checks() makes Run fail before it contacts anything.
	Ignore []string
	// JoinThrough is the node joiners will join through (pvecm add's target). Default: the
	// first node that is already a member of this cluster, else the first node, which would
	// create it.
	JoinThrough string
	// CommandTimeout bounds the facts script and each clock sample (default 20 s).
	CommandTimeout time.Duration
	// ProbeTimeout bounds the mesh probes: how long a probe agent keeps trying a peer that
	// does not answer (default 1.5 s). A clean mesh is done long before.
	ProbeTimeout time.Duration
	// ProbeCount is how many echoed probes a direction is measured on (default 16), sent
	// ProbeInterval apart (default 4 ms, more with many peers).
	ProbeCount    int
	ProbeInterval time.Duration
	// TCPTimeout bounds each TCP connect of api-port (default 800 ms).
	TCPTimeout time.Duration
	// ClockSamples is how many clock samples are taken per node (default 4).
	ClockSamples int
	// PortBase is corosync's port for link 0 (default 5405); link N is PortBase+N.
	PortBase int
	// Now is the controller's clock (default time.Now).
	Now func() time.Time
	// Log receives one debug line per phase and node (default: discard).
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.CommandTimeout, 20*time.Second)
	def(&o.ProbeTimeout, 1500*time.Millisecond)
	def(&o.ProbeInterval, 4*time.Millisecond)
	def(&o.TCPTimeout, 800*time.Millisecond)
	if o.ProbeCount <= 0 {
		o.ProbeCount = 16
	}
	if o.ClockSamples <= 0 {
		o.ClockSamples = 4
	}
	if o.PortBase <= 0 {
		o.PortBase = 5405
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// ErrUnknownCheck is wrapped by Run's error when Options.Ignore names no check.
var ErrUnknownCheck = errors.New("unknown check")

// ValidateIgnore returns an error wrapping ErrUnknownCheck for every name that is not a check.
func ValidateIgnore(names []string) error {
	var errs []error
	for _, n := range names {
		if !slices.Contains(Checks(), n) {
			errs = append(errs, fmt.Errorf("%w %q (the checks: %s)", ErrUnknownCheck, n, joinList(Checks())))
		}
	}
	return errors.Join(errs...)
}

// node is everything known about one node of the cluster file during a run.
type node struct {
	idx    int
	inv    inventory.Node
	target Target

	facts    *pve.Facts // nil when unreachable or the facts could not be had
	factsErr error
	agent    *agentResult // the probe agent's report; nil when it did not run
	agentErr error
	clock    *Clock
	clockErr error

	member membership
	role   role
}

func (n *node) reached() bool { return n.target.DialErr == nil && n.target.Runner != nil }

// Run gathers every node's facts, probes the mesh, samples the clocks (all nodes at once,
// each node's three jobs at once), then runs every check. It changes nothing on any host
// beyond the probe agents it starts, which end by themselves. The error is only for what
// stops the run as a whole: an unknown ignored check, or ctx ending (Ctrl-C).
func Run(ctx context.Context, inv *inventory.Inventory, targets []Target, opts Options) (*Report, error) {
	if err := ValidateIgnore(opts.Ignore); err != nil {
		return nil, err
	}
	if opts.JoinThrough != "" && !slices.ContainsFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name == opts.JoinThrough }) {
		return nil, fmt.Errorf("preflight: join through %q: no such node in %s", opts.JoinThrough, inv.File)
	}
	opts = opts.withDefaults()
	start := opts.Now()
	nodes := matchTargets(inv, targets)
	e := &env{inv: inv, opts: opts, nodes: nodes, token: newToken()}
	e.gather(ctx)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	e.classify()
	r := &Report{Cluster: inv.Cluster.Name, Checks: Checks(), Facts: map[string]*pve.Facts{}}
	for _, n := range nodes {
		r.Nodes = append(r.Nodes, n.inv.Name)
		if n.facts != nil {
			r.Facts[n.inv.Name] = n.facts
		}
		if n.clock != nil {
			r.Clocks = append(r.Clocks, *n.clock)
		}
	}
	r.Findings = e.findings()
	r.Paths = e.allPaths()
	r.Duration = opts.Now().Sub(start)
	return r, nil
}

// matchTargets pairs each node of the cluster file with its target, by name; a node with no
// target is one that was not reached.
func matchTargets(inv *inventory.Inventory, targets []Target) []*node {
	byName := map[string]Target{}
	for _, t := range targets {
		byName[t.Node.Name] = t
	}
	var nodes []*node
	for i, in := range inv.Nodes {
		t, ok := byName[in.Name]
		if !ok {
			t = Target{Node: in, DialErr: errors.New("no connection was made to it")}
		}
		t.Node = in
		nodes = append(nodes, &node{idx: i, inv: in, target: t})
	}
	return nodes
}

// gather runs, on every reachable node at once, the probe agents, then the facts script and
// the clock samples; each one's outcome is kept on the node. The probes go first and alone:
// the facts script's forks on a busy node (and on a lab, where the hosts share the CPUs)
// delay the probes' packets. A clock sample only loses precision to them, half its round
// trip at most, and the thresholds are 100 ms and 1 s.
func (e *env) gather(ctx context.Context) {
	e.each(ctx, "probe agent", func(n *node) error {
		n.agent, n.agentErr = e.runAgent(ctx, n)
		return n.agentErr
	})
	// A direction that got no echo is probed once more, with every agent, before it counts:
	// on a busy host an agent can start after its peers have given up on it. A path that is
	// really blocked costs one more round; what either round measured stands.
	if e.probeGaps() {
		e.opts.ProbeTimeout *= 2
		e.each(ctx, "probe agent, second round", func(n *node) error {
			again, err := e.runAgent(ctx, n)
			switch {
			case err != nil:
			case n.agent == nil:
				n.agent, n.agentErr = again, nil
			default:
				n.agent.merge(again)
			}
			return err
		})
		e.opts.ProbeTimeout /= 2
	}
	e.each(ctx, "facts and clock", func(n *node) error {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.clock, n.clockErr = e.sampleClock(ctx, n)
		}()
		nd := pve.NewNode(n.target.Runner).WithTimeouts(pve.Timeouts{Facts: e.opts.CommandTimeout})
		f, err := nd.Facts(ctx)
		if err == nil {
			n.facts = &f
		}
		n.factsErr = err
		wg.Wait()
		return errors.Join(n.factsErr, n.clockErr)
	})
}

// each runs job on every reachable node at once and waits for all of them.
func (e *env) each(ctx context.Context, what string, job func(n *node) error) {
	if ctx.Err() != nil {
		return
	}
	var wg sync.WaitGroup
	for _, n := range e.nodes {
		if !n.reached() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			err := job(n)
			e.opts.Log.Debug(what, "host", n.inv.Name, "step", "preflight", "took", time.Since(t0), "err", err)
		}()
	}
	wg.Wait()
}
