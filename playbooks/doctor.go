package playbooks

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/pve"
)

// Doctor is the read-only diagnosis of a running cluster: every member is read (its
// cluster status, corosync's links and knet counters, its services, /etc/pve, the cluster's
// files) and the findings follow preflight's conventions: named checks, a severity, the node,
// a one-line fix. It changes nothing; preflight's short-lived probe agents are the only
// processes it starts.

// DoctorRequest is what doctor was asked.
type DoctorRequest struct {
	ClusterRequest
	// Window is the least time between the two readings of corosync's knet counters, whose
	// difference shows a link flapping now (default 2 s).
	Window time.Duration
}

// DoctorChecks are doctor's checks, in the order it reports them. The names are stable: the
// JSON and the README use them. Those preflight also has mean the same there.
var DoctorChecks = []string{
	"ssh-access",        // preflight's: the member could be logged in to
	"cluster-status",    // its cluster status was read whole
	"quorum",            // quorate or not, and the arithmetic
	"membership",        // split-brain signs: members disagree on membership, config version, nodelist
	"services",          // corosync and pve-cluster active
	"pmxcfs-writable",   // /etc/pve takes a write
	"corosync-links",    // corosync's own view of every link to every peer: down, flapping, losing
	"link-latency",      // knet's round trips against PVE's guidance
	"link-redundancy",   // one link, or links sharing a NIC
	"link-interface",    // preflight's: Wi-Fi, half duplex, a bridge without ports
	"link-speed",        // the same link at different speeds on different nodes
	"mtu",               // preflight's: MTU mismatches on a link
	"storage-network",   // a link's interface also carries network storage traffic
	"migration-network", // migrations over a corosync link
	"qdevice",           // the QDevice's flags on every member
	"clock-offset",      // preflight's NTP-style offsets between members
	"time-sync",         // preflight's: a time service runs and is synchronised
	"versions",          // preflight's: PVE versions drifting apart
}

// preflightChecks are the preflight checks doctor takes over as they are.
var preflightChecks = []string{"ssh-access", "link-interface", "mtu", "clock-offset", "time-sync", "versions"}

// DoctorReport is what doctor found.
type DoctorReport struct {
	Cluster string
	// ConfigVersion is the nodelist's (ConfFrom's /etc/pve/corosync.conf); 0 when unknown.
	ConfigVersion int
	ConfFrom      string
	Nodes         []string
	Members       []DoctorMember
	Findings      []preflight.Finding
	Clocks        []preflight.Clock
	Duration      time.Duration
}

// DoctorMember is one node's state as the summary shows it.
type DoctorMember struct {
	Node    string   `json:"node"`
	NodeID  int      `json:"nodeid,omitempty"`
	State   string   `json:"state"` // quorate, not quorate, not in a cluster, unreadable, unreachable, not a member
	Votes   int      `json:"votes,omitempty"`
	Expect  int      `json:"expected_votes,omitempty"`
	Quorum  int      `json:"quorum,omitempty"`
	Members []string `json:"members,omitempty"` // whom it sees online
	Detail  string   `json:"detail,omitempty"`
}

// DoctorSchema names the JSON schema of DoctorReport.
const DoctorSchema = "quorate-doctor/v1"

// DoctorFailedError is doctor finding errors; the report says which, with their fixes.
type DoctorFailedError struct{ Report *DoctorReport }

func (e *DoctorFailedError) Error() string {
	s := e.Report.Summary()
	return fmt.Sprintf("doctor found %s (and %s)", pluralize(s.Errors, "error"), pluralize(s.Warnings, "warning"))
}

// Doctor reads every member of the cluster and diagnoses it. The error is a
// *DoctorFailedError when a finding is an error, or what stopped the run (ctx).
func (s *Session) Doctor(ctx context.Context, req DoctorRequest) (*DoctorReport, error) {
	window := req.Window
	if window <= 0 {
		window = 2 * time.Second
	}
	r, sets := s.readRunning(ctx, req.ClusterRequest, readOptions{preflight: true, window: window})
	for _, set := range sets {
		defer set.Close()
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	rep := diagnose(r)
	if rep.HasErrors() {
		return rep, &DoctorFailedError{Report: rep}
	}
	return rep, nil
}

// diagnose runs every check on what was read.
func diagnose(r *liveCluster) *DoctorReport {
	rep := &DoctorReport{Cluster: r.Cluster, ConfFrom: r.ConfFrom, Duration: r.Duration}
	if r.Conf != nil {
		rep.ConfigVersion, _ = r.Conf.ConfigVersion()
	}
	for _, m := range r.Members {
		rep.Nodes = append(rep.Nodes, m.Name)
		rep.Members = append(rep.Members, summarize(r, m))
		if m.Clock != nil {
			rep.Clocks = append(rep.Clocks, *m.Clock)
		}
	}
	byCheck := map[string][]preflight.Finding{}
	if r.Preflight != nil {
		for _, f := range r.Preflight.Findings {
			if slices.Contains(preflightChecks, f.Check) {
				byCheck[f.Check] = append(byCheck[f.Check], f)
			}
		}
	} else {
		byCheck["ssh-access"] = checkReached(r)
	}
	for name, check := range doctorChecks {
		fs := check(r)
		for i := range fs {
			fs[i].Check = name
		}
		byCheck[name] = fs
	}
	order := map[string]int{"": -1}
	for i, m := range r.Members {
		order[m.Name] = i
	}
	for _, name := range DoctorChecks {
		fs := byCheck[name]
		slices.SortStableFunc(fs, func(a, b preflight.Finding) int { return order[a.Node] - order[b.Node] })
		rep.Findings = append(rep.Findings, fs...)
	}
	return rep
}

// doctorChecks are doctor's own checks, by name.
var doctorChecks = map[string]func(*liveCluster) []preflight.Finding{
	"cluster-status":    checkClusterStatus,
	"quorum":            checkQuorum,
	"membership":        checkMembership,
	"services":          checkServices,
	"pmxcfs-writable":   checkWritable,
	"corosync-links":    checkCorosyncLinks,
	"link-latency":      checkLinkLatency,
	"link-redundancy":   checkLinkRedundancy,
	"link-speed":        checkLinkSpeed,
	"storage-network":   checkStorageNetwork,
	"migration-network": checkMigrationNetwork,
	"qdevice":           checkQDevice,
}

// summarize is one member's line of the summary.
func summarize(r *liveCluster, m *liveMember) DoctorMember {
	d := DoctorMember{Node: m.Name, NodeID: m.Conf.NodeID}
	switch {
	case !m.reached():
		d.State, d.Detail = "unreachable", errText(m.DialErr)
	case m.StatusErr != nil:
		d.State, d.Detail = "unreadable", errText(m.StatusErr)
	case m.Status == nil:
		d.State = "unknown"
	case m.Status.State == pve.NotInCluster:
		d.State = "not in a cluster"
	default:
		d.State = m.Status.State.String()
		d.Votes, d.Expect, d.Quorum = m.Status.TotalVotes, m.Status.ExpectedVotes, m.Status.Quorum
		for _, id := range onlineIDs(m.Status) {
			d.Members = append(d.Members, r.nameOf(id))
		}
	}
	if m.Conf.NodeID == 0 && d.State != "unreachable" {
		d.Detail = strings.TrimSpace("in " + r.File + " but not in the cluster's nodelist. " + d.Detail)
	}
	return d
}

// errText is err without the host it names: the line it goes on names the host already.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var he *HostError
	if errors.As(err, &he) {
		return he.Err.Error()
	}
	return err.Error()
}

// Summary counts the findings by severity.
func (r *DoctorReport) Summary() preflight.Summary {
	return r.asPreflight().Summary()
}

// HasErrors reports whether a finding is an error: doctor then exits 3.
func (r *DoctorReport) HasErrors() bool { return r.Summary().Errors > 0 }

// asPreflight is the report in preflight's shape, whose table and findings doctor prints the
// same way.
func (r *DoctorReport) asPreflight() *preflight.Report {
	return &preflight.Report{Cluster: r.Cluster, Checks: DoctorChecks, Nodes: r.Nodes, Findings: r.Findings, Clocks: r.Clocks, Duration: r.Duration}
}

// WriteText writes the summary of every member, then preflight's table of checks by node,
// every finding that is not a pass with its fix, and the counts.
func (r *DoctorReport) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	head := "cluster " + r.Cluster
	if r.ConfigVersion > 0 {
		head += fmt.Sprintf(", config version %d (%s's /etc/pve/corosync.conf)", r.ConfigVersion, r.ConfFrom)
	}
	fmt.Fprintln(bw, head)
	width := 4
	for _, m := range r.Members {
		width = max(width, len(m.Node))
	}
	for _, m := range r.Members {
		line := fmt.Sprintf("  %-*s  %s", width, m.Node, m.State)
		if m.NodeID > 0 {
			line = fmt.Sprintf("  %-*s  nodeid %d, %s", width, m.Node, m.NodeID, m.State)
		}
		if m.Expect > 0 {
			line += fmt.Sprintf(", votes %d/%d (quorum %d)", m.Votes, m.Expect, m.Quorum)
		}
		if len(m.Members) > 0 {
			line += ", sees " + strings.Join(m.Members, " ")
		}
		if m.Detail != "" {
			line += ": " + m.Detail
		}
		fmt.Fprintln(bw, line)
	}
	fmt.Fprintln(bw)
	if err := bw.Flush(); err != nil {
		return err
	}
	return r.asPreflight().WriteText(w)
}

// MarshalJSON writes the schema "quorate-doctor/v1", shaped as preflight's:
//
//	{
//	  "schema": "quorate-doctor/v1",
//	  "cluster": "demo", "config_version": 3, "config_from": "pve1",
//	  "nodes": ["pve1", "pve2", "pve3"],        // the members (nodelist order), then the file's other nodes
//	  "checks": ["ssh-access", ...],            // DoctorChecks
//	  "ok": false,                              // no finding is an error
//	  "summary": {"errors": 1, "warnings": 2, "passes": 40},
//	  "duration_ms": 2612.3,
//	  "members": [{"node": "pve1", "nodeid": 1, "state": "quorate", "votes": 3,
//	               "expected_votes": 3, "quorum": 2, "members": ["pve1", "pve2", "pve3"]}],
//	  "findings": [{"check": "quorum", "node": "pve1", "severity": "error", "message": "...", "fix": "..."}],
//	  "clocks": [{"node": "pve1", "offset_ms": 0.4, "rtt_ms": 2.1, "samples": 4}]
//	}
//
// A member's state is "quorate", "not quorate", "not in a cluster", "unreadable" (its status
// output was cut short or could not be had), "unreachable" or "unknown". Fields may be added;
// none is removed or changes meaning without a new schema name.
func (r *DoctorReport) MarshalJSON() ([]byte, error) {
	out := struct {
		Schema        string              `json:"schema"`
		Cluster       string              `json:"cluster"`
		ConfigVersion int                 `json:"config_version,omitempty"`
		ConfigFrom    string              `json:"config_from,omitempty"`
		Nodes         []string            `json:"nodes"`
		Checks        []string            `json:"checks"`
		OK            bool                `json:"ok"`
		Summary       preflight.Summary   `json:"summary"`
		DurationMS    float64             `json:"duration_ms"`
		Members       []DoctorMember      `json:"members"`
		Findings      []preflight.Finding `json:"findings"`
		Clocks        []preflight.Clock   `json:"clocks"`
	}{
		Schema: DoctorSchema, Cluster: r.Cluster, ConfigVersion: r.ConfigVersion, ConfigFrom: r.ConfFrom,
		Nodes: orEmpty(r.Nodes), Checks: DoctorChecks, OK: !r.HasErrors(), Summary: r.Summary(),
		DurationMS: float64(r.Duration.Round(100*time.Microsecond)) / float64(time.Millisecond),
		Members:    r.Members, Findings: r.Findings, Clocks: r.Clocks,
	}
	if out.Members == nil {
		out.Members = []DoctorMember{}
	}
	if out.Findings == nil {
		out.Findings = []preflight.Finding{}
	}
	if out.Clocks == nil {
		out.Clocks = []preflight.Clock{}
	}
	return json.Marshal(out)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Finding constructors; diagnose fills in the check's name.

func pass(node, format string, args ...any) preflight.Finding {
	return preflight.Finding{Node: node, Severity: preflight.Pass, Message: fmt.Sprintf(format, args...)}
}

func warn(node, fix, format string, args ...any) preflight.Finding {
	return preflight.Finding{Node: node, Severity: preflight.Warning, Fix: fix, Message: fmt.Sprintf(format, args...)}
}

func fail(node, fix, format string, args ...any) preflight.Finding {
	return preflight.Finding{Node: node, Severity: preflight.Error, Fix: fix, Message: fmt.Sprintf(format, args...)}
}
