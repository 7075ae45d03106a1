package preflight

import (
	"encoding/json"
	"time"

	"github.com/quorate/quorate/pve"
)

// Severity is how bad a finding is.
type Severity string

const (
	Pass    Severity = "pass"
	Warning Severity = "warning"
	Error   Severity = "error"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 2
	case Warning:
		return 1
	}
	return 0
}

// Finding is one result of one check on one node ("" for the cluster as a whole).
type Finding struct {
	Check    string   `json:"check"`
	Node     string   `json:"node"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
	// Ignored: an error that --ignore-check turned into a warning; it stays visible.
	Ignored bool `json:"ignored,omitempty"`
	// Paths are the probed paths behind a corosync-udp, api-port or latency finding that is not
	// a pass.
	Paths []Path `json:"paths,omitempty"`
}

// Path is one probed direction between two nodes: UDP on a corosync link, or a TCP connect.
type Path struct {
	Check string `json:"check"` // corosync-udp or api-port
	From  string `json:"from"`
	To    string `json:"to"`
	Proto string `json:"proto"` // udp or tcp
	// Link is the corosync link number for UDP, -1 for TCP.
	Link    int    `json:"link"`
	Address string `json:"address"` // the destination address probed
	Port    int    `json:"port"`
	// Result: "ok"; "blocked" (nothing arrived, or the connect timed out); "refused" (TCP:
	// nothing listens); "error" (the probe could not be sent, Detail says why); "unknown"
	// (not decided: a probe agent did not run or a socket could not be had, Detail says why).
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
	// UDP: how arrival was seen: "echo" (a responder on the port echoed), "raw-socket"
	// (corosync holds the port; a raw socket saw the probes arrive).
	Method string `json:"method,omitempty"`
	// Sent and Received count the probes of a UDP path (0 for TCP); LossPct is the share the
	// receiver missed between the first and the last it saw.
	Sent     int     `json:"sent"`
	Received int     `json:"received"`
	LossPct  float64 `json:"loss_pct"`
	// RTT is the round trip of this direction's probes (UDP, when echoes came back), or
	// the connect time (TCP).
	RTT *RTT `json:"rtt_ms,omitempty"`
}

// RTT summarises round trips, in milliseconds.
type RTT struct {
	Samples int `json:"samples"`
	// Min is what latency decides on: the network's own round trip. A busy node only ever
	// delays a probe (its agent waits for the CPU), never speeds one up, so the higher
	// round trips say as much about the nodes' load as about the network.
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	// Jitter is the median difference between consecutive round trips.
	Jitter float64 `json:"jitter"`
}

// Clock is one node's clock against the controller's, NTP style.
type Clock struct {
	Node string `json:"node"`
	// OffsetMS is how far the node's clock is ahead of the controller's (negative: behind),
	// from the sample with the smallest round trip.
	OffsetMS float64 `json:"offset_ms"`
	// RTTMS is that sample's round trip; the offset is good to about half of it.
	RTTMS   float64 `json:"rtt_ms"`
	Samples int     `json:"samples"`
}

// Report is the outcome of Run.
//
// Its JSON form (`quorate preflight --output json`) is a stable schema, "quorate-preflight/v1":
//
//	{
//	  "schema": "quorate-preflight/v1",
//	  "cluster": "demo",                       // cluster.name of the cluster file
//	  "nodes": ["pve1", "pve2", "pve3"],       // the cluster file's nodes, in its order
//	  "checks": ["ssh-access", ...],           // every check run, in order (Checks())
//	  "ok": false,                             // no finding is an error
//	  "summary": {"errors": 1, "warnings": 2, "passes": 55},
//	  "duration_ms": 412.5,
//	  "findings": [                            // by check, then node; "" node: the whole cluster
//	    {"check": "corosync-udp", "node": "pve2", "severity": "error",
//	     "message": "link0: UDP to pve2 198.51.100.12:5405 does not arrive from pve1, pve3",
//	     "fix": "allow UDP 5405-5412 ...",
//	     "ignored": true,                      // only when --ignore-check turned an error into this warning
//	     "paths": [ ...path objects... ]}      // only for probe findings that are not a pass
//	  ],
//	  "paths": [                               // every probed direction
//	    {"check": "corosync-udp", "from": "pve1", "to": "pve2", "proto": "udp", "link": 0,
//	     "address": "198.51.100.12", "port": 5405, "result": "ok", "method": "echo",
//	     "sent": 17, "received": 16, "loss_pct": 0,
//	     "rtt_ms": {"samples": 16, "min": 0.1, "median": 0.2, "max": 0.5, "jitter": 0.05}},
//	    {"check": "api-port", "from": "pve2", "to": "pve1", "proto": "tcp", "link": -1,
//	     "address": "198.51.100.11", "port": 8006, "result": "ok", "rtt_ms": {...}}
//	  ],
//	  "clocks": [{"node": "pve1", "offset_ms": 0.4, "rtt_ms": 2.1, "samples": 5}]
//	}
//
// severity is "pass", "warning" or "error". result of a path is "ok", "blocked", "refused",
// "error" or "unknown" (with "detail" saying why); method is "echo" or "raw-socket". Fields
// may be added to this schema; none is removed or changes meaning without a new schema name.
type Report struct {
	Cluster  string
	Checks   []string
	Nodes    []string
	Findings []Finding
	Paths    []Path
	Clocks   []Clock
	Duration time.Duration
	// Facts are what each reachable node told, by node name, for the playbook that runs the
	// preflight before acting. Not part of the JSON.
	Facts map[string]*pve.Facts
}

// SchemaVersion names the JSON schema of Report.
const SchemaVersion = "quorate-preflight/v1"

// Summary counts the findings by severity.
type Summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Passes   int `json:"passes"`
}

// Summary counts r's findings.
func (r *Report) Summary() Summary {
	var s Summary
	for _, f := range r.Findings {
		switch f.Severity {
		case Error:
			s.Errors++
		case Warning:
			s.Warnings++
		default:
			s.Passes++
		}
	}
	return s
}

// HasErrors reports whether an error remains (after --ignore-check): quorate then exits 3.
func (r *Report) HasErrors() bool { return r.Summary().Errors > 0 }

// MarshalJSON writes the schema documented on Report.
func (r *Report) MarshalJSON() ([]byte, error) {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	out := struct {
		Schema     string    `json:"schema"`
		Cluster    string    `json:"cluster"`
		Nodes      []string  `json:"nodes"`
		Checks     []string  `json:"checks"`
		OK         bool      `json:"ok"`
		Summary    Summary   `json:"summary"`
		DurationMS float64   `json:"duration_ms"`
		Findings   []Finding `json:"findings"`
		Paths      []Path    `json:"paths"`
		Clocks     []Clock   `json:"clocks"`
	}{
		Schema: SchemaVersion, Cluster: r.Cluster, Nodes: nonNil(r.Nodes), Checks: nonNil(r.Checks),
		OK: !r.HasErrors(), Summary: r.Summary(), DurationMS: roundMS(r.Duration),
		Findings: r.Findings, Paths: r.Paths, Clocks: r.Clocks,
	}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	if out.Paths == nil {
		out.Paths = []Path{}
	}
	if out.Clocks == nil {
		out.Clocks = []Clock{}
	}
	return json.Marshal(out)
}

// roundMS is d in milliseconds to 0.1 ms.
func roundMS(d time.Duration) float64 {
	return float64(d.Round(100*time.Microsecond)) / float64(time.Millisecond)
}
