package playbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

// UpRequest is what up was asked.
type UpRequest struct {
	ClusterRequest
	// Saved, when set, is a plan made earlier (quorate plan --out): up runs exactly it, and
	// refuses when the nodes are no longer as it saw them.
	Saved *SavedPlan
	// Approve is shown the plan before anything changes; an error stops the run there.
	Approve     func(bootstrap.Plan) error
	JoinTimeout time.Duration
	Ignore      []string // --ignore-check
}

// UpReport is up's outcome, filled as far as the run got.
type UpReport struct {
	Plan    bootstrap.Plan          `json:"plan"`
	Steps   []bootstrap.StepResult  `json:"steps"`
	Failure *UpFailure              `json:"failure,omitempty"`
	Took    time.Duration           `json:"took"`
	Nodes   []bootstrap.Observation `json:"-"`
	// Preflight is the preflight run before the first change (nil when there was nothing to do).
	Preflight *preflight.Report `json:"preflight,omitempty"`
}

// UpFailure is the step that failed, with its evidence.
type UpFailure struct {
	Node        string                      `json:"node"`
	Step        bootstrap.StepKind          `json:"step"`
	Error       string                      `json:"error"`
	Diagnostics map[string][]pve.Diagnostic `json:"diagnostics,omitempty"`
}

// SavedPlan is a plan written to a file for review and applied later.
type SavedPlan struct {
	Format  string         `json:"format"` // "quorate-plan v1"
	File    string         `json:"cluster_file"`
	Created time.Time      `json:"created"`
	Plan    bootstrap.Plan `json:"plan"`
}

const savedPlanFormat = "quorate-plan v1"

// ReadSavedPlan reads a plan written by quorate plan --out.
func ReadSavedPlan(path string) (*SavedPlan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sp SavedPlan
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("%s: not a saved plan: %w", path, err)
	}
	if sp.Format != savedPlanFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", path, sp.Format, savedPlanFormat)
	}
	return &sp, nil
}

// WriteSavedPlan writes p for quorate up --plan.
func WriteSavedPlan(path, clusterFile string, p bootstrap.Plan) error {
	data, err := json.MarshalIndent(SavedPlan{Format: savedPlanFormat, File: clusterFile, Created: time.Now().UTC(), Plan: p}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// BlockedError is a plan that cannot run: nodes in states no join fixes.
type BlockedError struct{ Blockers []string }

func (e *BlockedError) Error() string {
	return "nothing changed: " + strings.Join(e.Blockers, "; ")
}

// DriftError is a saved plan whose nodes have changed since it was made.
type DriftError struct{ Diffs []string }

func (e *DriftError) Error() string {
	return "nothing changed: the cluster is no longer what the saved plan saw (" + strings.Join(e.Diffs, "; ") + "); make a new plan"
}

// ErrDeclined is the user answering no to the plan.
var ErrDeclined = errors.New("not confirmed; nothing changed")

// Plan looks at every node and says what up would do; it changes nothing.
func (s *Session) Plan(ctx context.Context, req ClusterRequest) (bootstrap.Plan, error) {
	r := s.openCluster(ctx, req)
	defer r.Close()
	if err := ctx.Err(); err != nil {
		return bootstrap.Plan{}, context.Cause(ctx)
	}
	return bootstrap.MakePlan(req.Inventory, bootstrap.Classify(req.Inventory.Cluster.Name, r.seen)), r.conns.Err()
}

// Up builds the cluster: discover, plan, confirm, then create and join one node at a time,
// each step verified from every member before the next.
func (s *Session) Up(ctx context.Context, req UpRequest) (report UpReport, err error) {
	start := time.Now()
	defer func() { report.Took = time.Since(start) }()
	r := s.openCluster(ctx, req.ClusterRequest)
	defer r.Close()
	if err := ctx.Err(); err != nil {
		return report, context.Cause(ctx)
	}
	if err := r.conns.Err(); err != nil {
		return report, fmt.Errorf("nothing changed: every node must be reachable: %w", err)
	}
	// Two runs against one cluster must not overlap: the lock lives on the first node. It is
	// held until Up returns, not until an interruption: the running step is let finish
	// then, and another run must not start beside it.
	first := req.Inventory.Nodes[0].Name
	release, err := r.nodes[first].Lock(context.WithoutCancel(ctx), runOwner("up"), 24*time.Hour)
	if err != nil {
		return report, &HostError{Host: first, Err: err}
	}
	defer release()
	observed := bootstrap.Classify(req.Inventory.Cluster.Name, r.seen)
	report.Nodes = observed
	plan := bootstrap.MakePlan(req.Inventory, observed)
	if req.Saved != nil {
		if diffs := bootstrap.Drift(req.Saved.Plan.Observed, observed); len(diffs) > 0 {
			report.Plan = plan
			return report, &DriftError{Diffs: diffs}
		}
		plan = req.Saved.Plan
	}
	report.Plan = plan
	if len(plan.Steps) > 0 {
		through := first
		if len(plan.Members) > 0 {
			through = plan.Members[0]
		}
		pf, err := s.runPreflight(ctx, PreflightRequest{ClusterRequest: req.ClusterRequest, Ignore: req.Ignore}, r.conns, through)
		report.Preflight = pf
		if err != nil {
			return report, err
		}
	}
	if len(plan.Blockers) > 0 {
		return report, &BlockedError{Blockers: plan.Blockers}
	}
	if len(plan.Steps) == 0 {
		s.notef("cluster %s: every node is already a member; verifying", plan.Cluster)
	}
	password, err := s.joinPassword(req.Inventory, len(planJoins(plan)) > 0)
	if err != nil {
		return report, err
	}
	if req.Approve != nil && len(plan.Steps) > 0 {
		if err := req.Approve(plan); err != nil {
			return report, err
		}
	}
	engine := r.engine(s, password, req.JoinTimeout)
	engine.Backup = func(ctx context.Context, step bootstrap.Step) (string, error) {
		return r.backup(ctx, s.RunDir, step)
	}
	if len(plan.Steps) == 0 {
		if _, err := engine.Verify(ctx, bootstrap.Expect{Members: plan.Members, Votes: votes(req.Inventory, plan.Members)}); err != nil {
			return report, err
		}
		return report, nil
	}
	var done []bootstrap.StepResult
	done, err = engine.Run(ctx, plan)
	report.Steps = done
	var se *bootstrap.StepError
	if errors.As(err, &se) {
		report.Failure = &UpFailure{Node: se.Step.Node, Step: se.Step.Kind, Error: se.Err.Error(), Diagnostics: se.Diagnostics}
	}
	return report, err
}

func planJoins(p bootstrap.Plan) []bootstrap.Step {
	var joins []bootstrap.Step
	for _, s := range p.Steps {
		if s.Kind == bootstrap.StepJoin {
			joins = append(joins, s)
		}
	}
	return joins
}

func votes(inv *inventory.Inventory, members []string) int {
	total := 0
	for _, n := range inv.Nodes {
		for _, m := range members {
			if n.Name == m {
				total += max(n.Votes, 1)
			}
		}
	}
	return total
}

// backup copies bootstrap.BackedUp from the step's node over SFTP into
// dir/backup/NODE/before-STEP-TIME/, keeping each file's path; files the node does not have
// are left out. It returns the directory.
func (r *clusterRun) backup(ctx context.Context, dir string, step bootstrap.Step) (string, error) {
	if dir == "" {
		return "", errors.New("no run directory for backups")
	}
	var client *remote.Client
	for _, c := range r.conns.All() {
		if c.Name == step.Node {
			client = c.Client
		}
	}
	if client == nil {
		return "", fmt.Errorf("no connection to %s", step.Node)
	}
	into := filepath.Join(dir, "backup", step.Node, fmt.Sprintf("before-%s-%s", step.Kind, time.Now().UTC().Format("20060102T150405Z")))
	for _, path := range bootstrap.BackedUp {
		data, err := client.Download(ctx, path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		local := filepath.Join(into, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(local, data, 0o600); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(into, 0o700); err != nil {
		return "", err
	}
	return into, nil
}

// runOwner is how another run sees this one holding a lock.
func runOwner(command string) string {
	host, _ := os.Hostname()
	user := os.Getenv("USER")
	if user == "" {
		user = fmt.Sprintf("uid %d", os.Getuid())
	}
	return fmt.Sprintf("quorate %s by %s on %s, pid %d", command, user, host, os.Getpid())
}
