package bootstrap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/pve/pvetest"
	"github.com/quorate/quorate/remote"
)

// The command lines pve.Node sends for a cluster status (pve/status.go).
const (
	pveshStatus = "cd / && pvesh get /cluster/status --output-format json"
	pvecmStatus = "cd / && pvecm status"
	certInfo    = "cd / && pvenode cert info --output-format json"
)

// addrOf is each test node's link0 address, as in the lab and the goldens.
func addrOf(node string) string {
	return "198.51.100.1" + strings.TrimPrefix(node, "pve")
}

// clusterFile is a cluster.yaml of the named nodes, each with its link0 address.
func clusterFile(name string, nodes ...string) *inventory.Inventory {
	inv := &inventory.Inventory{Cluster: inventory.Cluster{Name: name, Join: inventory.JoinAPI}}
	for _, n := range nodes {
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n, Address: n, Links: []string{addrOf(n)}})
	}
	return inv
}

// view is one member's answer to "what is your cluster?", rendered as pvesh's JSON
// (docs/pve.md §4.1, the shape of pve/testdata/pvesh-status-clustered.json) and as
// `pvecm status` (§3.1, the shape of pve/testdata/pvecm-status-quorate.txt).
type view struct {
	cluster string
	version int
	local   string
	members []string // node ids 1, 2, ... in this order
	offline []string
	quorate bool
	votes   int // expected votes, and total votes unless total is set
	total   int
}

// healthy is the view of a quorate cluster of members, one vote each, config version 1.
func healthy(local string, members ...string) view {
	return view{cluster: "demo", version: 1, local: local, members: members, quorate: true, votes: len(members)}
}

func (v view) pvesh() pvetest.Output {
	entries := []map[string]any{{"id": "cluster", "name": v.cluster, "nodes": len(v.members), "quorate": b2i(v.quorate), "type": "cluster", "version": v.version}}
	for i, m := range v.members {
		entries = append(entries, map[string]any{"id": "node/" + m, "ip": addrOf(m), "level": "", "local": b2i(m == v.local),
			"name": m, "nodeid": i + 1, "online": b2i(!slices.Contains(v.offline, m)), "type": "node"})
	}
	data, err := json.Marshal(entries)
	if err != nil {
		panic(err)
	}
	return pvetest.Output{Stdout: string(data) + "\n"}
}

func (v view) pvecm() pvetest.Output {
	total := v.total
	if total == 0 {
		total = v.votes
	}
	quorate, quorum, flags, exit := "Yes", fmt.Sprintf("%d  ", v.votes/2+1), "Quorate ", 0
	if !v.quorate {
		quorate, quorum, flags, exit = "No", fmt.Sprintf("%d Activity blocked", v.votes/2+1), "", 2
	}
	var rows strings.Builder
	local := 0
	for i, m := range v.members {
		if slices.Contains(v.offline, m) {
			continue
		}
		suffix := ""
		if m == v.local {
			suffix, local = " (local)", i+1
		}
		fmt.Fprintf(&rows, "0x%08x          1 %s%s\n", i+1, addrOf(m), suffix)
	}
	out := fmt.Sprintf(`Cluster information
-------------------
Name:             %s
Config Version:   %d
Transport:        knet
Secure auth:      on

Quorum information
------------------
Date:             Tue Aug 11 15:45:19 2026
Quorum provider:  corosync_votequorum
Nodes:            %d
Node ID:          0x%08x
Ring ID:          1.9
Quorate:          %s

Votequorum information
----------------------
Expected votes:   %d
Highest expected: %d
Total votes:      %d
Quorum:           %s
Flags:            %s

Membership information
----------------------
    Nodeid      Votes Name
%s`, v.cluster, v.version, len(v.members)-len(v.offline), local, quorate, v.votes, v.votes, total, quorum, flags, rows.String())
	return pvetest.Output{Stdout: out, ExitCode: exit}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// answer makes r answer its status with v, times times (-1: any number).
func answer(r *pvetest.Runner, v view, times int) {
	r.On(pveshStatus).Reply(v.pvesh()).Times(times)
	r.On(pvecmStatus).Reply(v.pvecm()).Times(times)
}

// probeRe is the write-read-remove probe of /etc/pve (pve/probes.go PmxcfsWritable); its
// token is random, so the node below echoes it back.
var probeRe = regexp.MustCompile(`^cd / && printf '%s\\n' (quorate-probe-[A-Z0-9]+) > /etc/pve/\.quorate-probe-`)

// writable makes r accept the /etc/pve probe, times times (-1: any number).
func writable(r *pvetest.Runner, times int) *pvetest.Expectation {
	return r.OnRegexp(probeRe.String()).Reply(pvetest.Output{Stdout: echoToken}).Times(times)
}

// readOnly makes r refuse the probe as pmxcfs without quorum does.
func readOnly(r *pvetest.Runner) *pvetest.Expectation {
	return r.OnRegexp(probeRe.String()).AnyTimes().Reply(pvetest.Output{
		Stderr: "sh: 1: cannot create /etc/pve/.quorate-probe-X: Read-only file system\n", ExitCode: 2})
}

// apiAnswers makes r's curl to node's API answer 401, as an API that is up does.
func apiAnswers(r *pvetest.Runner, node string, times int) *pvetest.Expectation {
	return r.On(curlLine(node)).Reply(pvetest.Output{Stdout: "401"}).Times(times)
}

func curlLine(node string) string {
	return "cd / && curl -sk --max-time 5 -o /dev/null -w '%{http_code}' https://" + addrOf(node) + ":8006/api2/json/version"
}

const echoToken = "<the token written>\n"

// rootKeyCheck is pve's RootKeyInCluster command.
const rootKeyCheck = "cd / && k=$(cut -d' ' -f2 /root/.ssh/id_rsa.pub"

// fakeNode is a pvetest.Runner whose /etc/pve gives back what was written to it; every other
// command is the Runner's, and each one is also written to a log shared by all nodes, so that
// tests can see the order of commands across nodes.
type fakeNode struct {
	*pvetest.Runner
	log *cmdLog
}

func (n fakeNode) Run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	res, err := n.Runner.Run(ctx, cmd)
	if m := probeRe.FindStringSubmatch(cmd.Line); m != nil && err == nil && string(res.Stdout) == echoToken {
		res.Stdout = []byte(m[1] + "\n")
	}
	n.log.add(n.Host(), cmd.Line, err == nil)
	return res, err
}

type cmdLog struct {
	mu    sync.Mutex
	lines []string // "node: line", or "node: FAILED line"
}

func (l *cmdLog) add(node, line string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ok {
		line = "FAILED " + line
	}
	l.lines = append(l.lines, node+": "+line)
}

// index is the position of the first entry at or after from that starts with prefix, or -1.
func (l *cmdLog) index(from int, prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := max(from, 0); i < len(l.lines); i++ {
		if strings.HasPrefix(l.lines[i], prefix) {
			return i
		}
	}
	return -1
}

func (l *cmdLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// cluster is a set of fake nodes by name, for an Engine.
type cluster struct {
	runners map[string]*pvetest.Runner
	nodes   map[string]*pve.Node
	log     *cmdLog
}

func newCluster(t *testing.T, names ...string) *cluster {
	c := &cluster{runners: map[string]*pvetest.Runner{}, nodes: map[string]*pve.Node{}, log: &cmdLog{}}
	for _, n := range names {
		r := pvetest.NewRunner(t, n)
		// A finished join puts the node's root key in the cluster's authorized_keys.
		r.OnPrefix(rootKeyCheck).AnyTimes().Reply(pvetest.Output{Stdout: "yes\n"})
		c.runners[n] = r
		c.nodes[n] = pve.NewNode(fakeNode{Runner: r, log: c.log})
	}
	return c
}

func (c *cluster) count(node, line string) int {
	n := 0
	for _, l := range c.runners[node].Lines() {
		if l == line {
			n++
		}
	}
	return n
}
