package bootstrap_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/pve/pvetest"
)

// backups records the Backup callback: which node, before which step, and whether the node
// had already been changed when it was called.
type backups struct {
	t     *testing.T
	c     *cluster
	err   error // returned by every call
	mu    sync.Mutex
	calls []string // "pve1 create"
}

func (b *backups) backup(_ context.Context, step bootstrap.Step) (string, error) {
	node := step.Node
	for _, l := range b.c.runners[node].Lines() {
		if strings.HasPrefix(l, "cd / && pvecm create") || strings.HasPrefix(l, "cd / && pvecm add") {
			b.t.Errorf("the backup of %s was stored after %q ran", node, l)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf("%s %s", node, step.Kind))
	return "/run/" + node + "-before-" + string(step.Kind) + ".tar.gz", b.err
}

func (b *backups) got() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// waits records the long waits shown to the user and whether each was ended: a wait left
// running would keep rewriting the terminal line under whatever comes next.
type waits struct {
	mu      sync.Mutex
	started []string
	open    int
}

func (w *waits) waiting(what string) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = append(w.started, what)
	w.open++
	once := sync.OnceFunc(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.open--
	})
	return once
}

// check wants one wait per text, in order, each holding its text.
func (w *waits) check(t *testing.T, want ...string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.started) != len(want) {
		t.Errorf("waits shown %q, want one for each of %q", w.started, want)
	}
	for i := range min(len(w.started), len(want)) {
		if !strings.Contains(w.started[i], want[i]) {
			t.Errorf("wait %d shows %q, want it to say %q", i+1, w.started[i], want[i])
		}
	}
	if w.open != 0 {
		t.Errorf("%d wait(s) still shown after Run returned", w.open)
	}
}

// servedFingerprint is what the join must pin: the certificate pve1's pveproxy serves.
func servedFingerprint(t *testing.T) string {
	certs, err := pve.ParseCertInfo(pvetest.Golden(t, "pvenode-cert-info.json").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := pve.ServedFingerprint(certs)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func joinLine(t *testing.T, node, through string) string {
	return "cd / && pvecm add " + addrOf(through) + " --fingerprint " + servedFingerprint(t) + " --link0 " + addrOf(node)
}

func joined(t *testing.T, node string) pvetest.Output {
	o := pvetest.Golden(t, "join-success-pipe.txt")
	o.Stdout = strings.Replace(o.Stdout, "'pve02'", "'"+node+"'", 1)
	return o
}

// The diagnostics pve.Node gathers after a failure (pve/probes.go diagnosticCommands).
var diagnostics = []struct{ name, prefix string }{
	{"corosync-cfgtool -s", "cd / && corosync-cfgtool -s"},
	{"pvecm status", "cd / && pvecm status 2>&1"},
	{"corosync log", "cd / && (journalctl -u corosync"},
	{"pve-cluster log", "cd / && journalctl -u pve-cluster"},
}

func expectDiagnostics(r *pvetest.Runner) {
	for _, d := range diagnostics {
		r.OnPrefix(d.prefix).Reply(pvetest.Output{Stdout: r.Host() + " says: " + d.name + "\n"}).Required()
	}
}

func engine(c *cluster, e *bootstrap.Engine) *bootstrap.Engine {
	e.Nodes = c.nodes
	e.Password = "root-pw"
	e.VerifyTimeout = 5 * time.Second
	e.PollInterval = time.Millisecond
	return e
}

func TestRunBuildsAClusterOneVerifiedStepAtATime(t *testing.T) {
	names := []string{"pve1", "pve2", "pve3"}
	inv := clusterFile("demo", names...)
	plan := bootstrap.MakePlan(inv, fresh(names...))
	c := newCluster(t, names...)
	for _, n := range names {
		writable(c.runners[n], -1)
	}
	p1, p2, p3 := c.runners["pve1"], c.runners["pve2"], c.runners["pve3"]
	p1.On("cd / && pvecm create demo --link0 198.51.100.11").ReplyGolden("create-keygen.txt").Required()
	// Each member's view, in the order the steps make it true.
	answer(p1, healthy("pve1", "pve1"), 1)
	apiAnswers(p1, "pve1", 1).Required()
	// The fingerprint is read afresh for each join, over quorate's own session to pve1.
	p1.On(certInfo).ReplyGolden("pvenode-cert-info.json").Times(2).Required()
	p2.On(joinLine(t, "pve2", "pve1")).WantStdin("root-pw\n").WantSecrets("root-pw").Reply(joined(t, "pve2")).Required()
	answer(p1, healthy("pve1", "pve1", "pve2"), 1)
	answer(p2, healthy("pve2", "pve1", "pve2"), 1)
	apiAnswers(p1, "pve2", 1).Required()
	p3.On(joinLine(t, "pve3", "pve1")).WantStdin("root-pw\n").WantSecrets("root-pw").Reply(joined(t, "pve3")).Required()
	for _, n := range names {
		answer(c.runners[n], healthy(n, names...), 1)
	}
	apiAnswers(p1, "pve3", 1).Required()

	login := &relogins{}
	var progress []string
	b := &backups{t: t, c: c}
	w := &waits{}
	e := engine(c, &bootstrap.Engine{Inventory: inv, Relogin: login.login, Backup: b.backup, Waiting: w.waiting,
		Progress: func(f string, a ...any) { progress = append(progress, fmt.Sprintf(f, a...)) }})
	done, err := e.Run(context.Background(), plan)
	if err != nil {
		t.Fatalf("Run: %v\ncommands:\n%s", err, c.log)
	}
	if len(done) != 3 {
		t.Fatalf("%d steps done, want 3", len(done))
	}
	for i, want := range []string{"/run/pve1-before-create.tar.gz", "/run/pve2-before-join.tar.gz", "/run/pve3-before-join.tar.gz"} {
		if done[i].Backup != want || done[i].Step.Node != names[i] || done[i].Verified.ConfigVersion != 1 {
			t.Errorf("step %d: %+v, want node %s backed up to %s", i+1, done[i], names[i], want)
		}
	}
	if got, want := b.got(), []string{"pve1 create", "pve2 join", "pve3 join"}; !slices.Equal(got, want) {
		t.Errorf("backups %q, want %q", got, want)
	}
	w.check(t, "quorum", "pve2", "quorum", "pve3", "quorum")
	if got := login.got(); !slices.Equal(got, names) {
		t.Errorf("fresh SSH logins %v, want one to each node after its step: %v", got, names)
	}
	// pve3 joins only once pve2's join is verified from both members: each wrote to /etc/pve.
	add2 := c.log.index(0, "pve2: cd / && pvecm add")
	add3 := c.log.index(0, "pve3: cd / && pvecm add")
	for _, m := range []string{"pve1", "pve2"} {
		if i := c.log.index(add2, m+": cd / && printf"); i < 0 || i > add3 {
			t.Errorf("pve3 joined before %s verified pve2's join:\n%s", m, c.log)
		}
	}
	for _, want := range []string{"[1/3] create cluster demo on pve1", "[2/3] join pve2 to demo through pve1", "[3/3] join pve3 to demo through pve1", "(3 of 3 votes, quorum 2)"} {
		if !slices.ContainsFunc(progress, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("progress does not say %q:\n%s", want, strings.Join(progress, "\n"))
		}
	}
}

func TestRunStopsAtAFailedJoin(t *testing.T) {
	tests := []struct {
		golden string
		kind   pve.FailureKind
		says   []string // besides pvecm's own line
	}{
		// Whose password it was, and that nothing changed on the joiner.
		{"join-auth.txt", pve.FailPasswordRejected, []string{"root password for pve1 was rejected", "pve2 is unchanged"}},
		{"join-no-quorum.txt", pve.FailNoQuorum, nil},
		{"join-existing.txt", pve.FailNodeExists, nil},
		{"join-fp-mismatch.txt", pve.FailFingerprintMismatch, nil},
		{"join-precheck-guests.txt", pve.FailPrecheck, []string{"this host already contains virtual guests"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			names := []string{"pve1", "pve2", "pve3"}
			inv := clusterFile("demo", names...)
			plan := bootstrap.MakePlan(inv, fresh(names...))
			// pve3 answers nothing: were its join attempted, the runner would fail the test.
			c := newCluster(t, names...)
			p1, p2 := c.runners["pve1"], c.runners["pve2"]
			p1.On("cd / && pvecm create demo --link0 198.51.100.11").ReplyGolden("create-keygen.txt")
			answer(p1, healthy("pve1", "pve1"), 1)
			writable(p1, 1)
			apiAnswers(p1, "pve1", 1)
			p1.On(certInfo).ReplyGolden("pvenode-cert-info.json")
			p2.On(joinLine(t, "pve2", "pve1")).WantStdin("root-pw\n").ReplyGolden(tt.golden).Required()
			expectDiagnostics(p1)
			expectDiagnostics(p2)

			b := &backups{t: t, c: c}
			w := &waits{}
			e := engine(c, &bootstrap.Engine{Inventory: inv, Backup: b.backup, Waiting: w.waiting})
			done, err := e.Run(context.Background(), plan)
			w.check(t, "quorum", "pve2")

			var se *bootstrap.StepError
			if !errors.As(err, &se) {
				t.Fatalf("Run = %v, want a *StepError", err)
			}
			if se.Step.Node != "pve2" || se.Step.Kind != bootstrap.StepJoin {
				t.Errorf("failed step %s %s, want the join of pve2", se.Step.Kind, se.Step.Node)
			}
			var f *pve.Failure
			if !errors.As(err, &f) || f.Kind != tt.kind {
				t.Fatalf("the error does not reach the pvecm failure %s: %v", tt.kind, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "pve2: join: ") || strings.HasPrefix(msg, "pve2: join: pve2") {
				t.Errorf("error %q: want the node and the step named once, up front", msg)
			}
			for _, s := range append([]string{f.Line}, tt.says...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if len(done) != 1 || done[0].Step.Kind != bootstrap.StepCreate {
				t.Errorf("steps done %+v, want the create alone", done)
			}
			if got := slices.Sorted(maps.Keys(se.Diagnostics)); !slices.Equal(got, []string{"pve1", "pve2"}) {
				t.Fatalf("diagnostics from %v, want from the members of the step: pve1 pve2", got)
			}
			for node, ds := range se.Diagnostics {
				if len(ds) != len(diagnostics) {
					t.Errorf("%s: %d diagnostics, want %d", node, len(ds), len(diagnostics))
					continue
				}
				for i, d := range ds {
					if d.Name != diagnostics[i].name || d.Output != node+" says: "+d.Name {
						t.Errorf("%s: diagnostic %+v, want %s's own output of %s", node, d, node, diagnostics[i].name)
					}
				}
			}
			if got := c.runners["pve3"].Lines(); len(got) != 0 {
				t.Errorf("pve3 was touched after the failed join: %q", got)
			}
			if got, want := b.got(), []string{"pve1 create", "pve2 join"}; !slices.Equal(got, want) {
				t.Errorf("backups %q, want %q", got, want)
			}
		})
	}
}

// No backup, no change: a failed backup stops the step before pvecm runs.
func TestRunWithoutABackupChangesNothing(t *testing.T) {
	inv := clusterFile("demo", "pve1", "pve2")
	plan := bootstrap.MakePlan(inv, fresh("pve1", "pve2"))
	c := newCluster(t, "pve1", "pve2")
	expectDiagnostics(c.runners["pve1"])
	diskFull := errors.New("no space left on device")
	b := &backups{t: t, c: c, err: diskFull}
	e := engine(c, &bootstrap.Engine{Inventory: inv, Backup: b.backup})
	done, err := e.Run(context.Background(), plan)
	var se *bootstrap.StepError
	if !errors.As(err, &se) || se.Step.Kind != bootstrap.StepCreate || !errors.Is(err, diskFull) {
		t.Fatalf("Run = %v, want the create's *StepError wrapping the backup's error", err)
	}
	if !strings.Contains(err.Error(), "backup") {
		t.Errorf("error %q does not say the backup failed", err)
	}
	if len(done) != 0 {
		t.Errorf("steps done: %+v", done)
	}
	for _, l := range c.runners["pve1"].Lines() {
		if strings.Contains(l, "pvecm create") {
			t.Errorf("pvecm create ran without a backup")
		}
	}
	if got := c.runners["pve2"].Lines(); len(got) != 0 {
		t.Errorf("pve2 was touched: %q", got)
	}
}
