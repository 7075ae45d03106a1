package preflight

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/pve/pvetest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// labFacts is pve/testdata/facts-lab.txt (pve1 of a fresh lab) made into the facts of pve<i>
// at 198.51.100.(10+i), with its own machine-id and host keys, then edited by edits.
func labFacts(t testing.TB, i int, edits ...func(string) string) string {
	t.Helper()
	s := pvetest.Golden(t, "facts-lab.txt").Stdout
	r := strings.NewReplacer(
		"pve1", fmt.Sprintf("pve%d", i),
		"198.51.100.11", fmt.Sprintf("198.51.100.%d", 10+i),
		"machine_id=", fmt.Sprintf("machine_id=%d", i),
		"SHA256:", fmt.Sprintf("SHA256:%d", i),
	)
	s = r.Replace(s)
	for _, e := range edits {
		s = e(s)
	}
	return s
}

// replace is an edit of facts text that must apply.
func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic(fmt.Sprintf("facts edit: %q not found", old))
		}
		return strings.Replace(s, old, new, 1)
	}
}

// inSection adds lines at the end of section (before the next one starts).
func inSection(section, lines string) func(string) string {
	return func(s string) string {
		i := strings.Index(s, "["+section+"]\n")
		if i < 0 {
			panic("no section " + section)
		}
		j := strings.Index(s[i+1:], "\n[")
		end := strings.Index(s[i+1:], "\nquorate-facts end")
		if j < 0 || (end >= 0 && end < j) {
			j = end
		}
		at := i + 1 + j + 1
		return s[:at] + lines + s[at:]
	}
}

// mesh writes what the probe agents of an n-node, one-link lab would print.
type mesh struct {
	n       int
	blocked map[[2]int]bool // from, to (0-based) whose probes never arrive
	rttUS   func(a, b int) []int
	raw     map[int]bool // nodes whose corosync holds the port
	tcp     func(from, to, port int) string
	skip    map[int]bool // nodes with no agent (unreachable)
}

func (m mesh) out(me int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "quorate-probe v1 me=%d\n", me)
	mode := "udp"
	if m.raw[me] {
		mode = "raw"
	}
	fmt.Fprintf(&b, "bind 0 %s 198.51.100.%d 5405\n", mode, 11+me)
	for j := 0; j < m.n; j++ {
		if j == me || m.skip[j] {
			continue
		}
		rtt := []int{300, 310, 290, 305, 295, 300, 320, 300, 300, 310, 290, 305, 295, 300, 320, 300}
		if m.rttUS != nil {
			rtt = m.rttUS(me, j)
		}
		var list []string
		for _, r := range rtt {
			list = append(list, fmt.Sprint(r))
		}
		if m.blocked[[2]int{me, j}] || m.blocked[[2]int{j, me}] {
			list = nil
		}
		fmt.Fprintf(&b, "tx 0 %d sent=%d echoed=%d rtt=%s\n", j, 16+4*boolInt(list == nil), len(list), strings.Join(list, ","))
		if m.blocked[[2]int{j, me}] {
			fmt.Fprintf(&b, "rx 0 %d got=0 first=-1 last=-1 fin=0\n", j)
		} else {
			fmt.Fprintf(&b, "rx 0 %d got=16 first=2 last=17 fin=1\n", j)
		}
	}
	for j := 0; j < m.n; j++ {
		if j == me || m.skip[j] {
			continue
		}
		for _, port := range []int{22, 8006} {
			state := "ok"
			if m.tcp != nil {
				state = m.tcp(me, j, port)
			}
			took := "0.350"
			if state == "timeout" {
				took = "800.120"
			}
			fmt.Fprintf(&b, "tcp %d 198.51.100.%d %d %s %s\n", j, 11+j, port, state, took)
		}
	}
	b.WriteString("end 120.500\n")
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fakeNode is what a test gives for one node: its facts, its agent's output and its clock.
type fakeNode struct {
	facts    string // "" with dialErr: unreachable
	dialErr  error
	agent    string
	again    string // the agent's report in a second round ("": the same as the first)
	offsetMS float64
	hostKey  string
}

// labYAML is the cluster file of an n-node lab, optionally with a qdevice.
func labYAML(n int, extra string) string {
	var b strings.Builder
	b.WriteString("cluster:\n  name: demo\nnodes:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: pve%d\n    address: 198.51.100.%d\n", i, 10+i)
	}
	b.WriteString(extra)
	return b.String()
}

func parseInv(t testing.TB, yaml string) *inventory.Inventory {
	t.Helper()
	inv := inventory.Parse("cluster.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if len(inv.Nodes) == 0 {
		t.Fatalf("no nodes in %q", yaml)
	}
	return inv
}

// buildEnv assembles a run the way Run does after gathering, from what each node gave.
func buildEnv(t testing.TB, inv *inventory.Inventory, nodes []fakeNode, opts Options) *env {
	t.Helper()
	opts = opts.withDefaults()
	var targets []Target
	for i, n := range inv.Nodes {
		tg := Target{Node: n, DialErr: nodes[i].dialErr, HostKey: nodes[i].hostKey}
		if tg.DialErr == nil {
			tg.Runner = pvetest.NewRunner(t, n.Name)
		}
		targets = append(targets, tg)
	}
	e := &env{inv: inv, opts: opts, nodes: matchTargets(inv, targets), token: "t"}
	for i, n := range e.nodes {
		fn := nodes[i]
		if fn.dialErr != nil {
			continue
		}
		f, err := pve.ParseFacts(fn.facts)
		if err != nil {
			t.Fatalf("%s: facts: %v", n.inv.Name, err)
		}
		n.facts = &f
		if fn.agent != "" {
			a, err := parseAgent(fn.agent)
			if err != nil {
				t.Fatalf("%s: agent: %v", n.inv.Name, err)
			}
			n.agent = a
		} else {
			n.agentErr = fmt.Errorf("perl: not found")
		}
		n.clock = &Clock{Node: n.inv.Name, OffsetMS: fn.offsetMS, RTTMS: 1.5, Samples: 4}
	}
	e.classify()
	return e
}

// labNodes is a clean n-node lab: facts, agents and clocks that pass every check.
func labNodes(t testing.TB, n int) []fakeNode {
	m := mesh{n: n}
	var out []fakeNode
	for i := 1; i <= n; i++ {
		out = append(out, fakeNode{facts: labFacts(t, i), agent: m.out(i - 1), hostKey: fmt.Sprintf("SHA256:key%d", i)})
	}
	return out
}

// verdicts are the findings that are not a pass, as "check node severity" lines, sorted.
func verdicts(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Severity == Pass {
			continue
		}
		node := f.Node
		if node == "" {
			node = "cluster"
		}
		out = append(out, fmt.Sprintf("%s %s %s", f.Check, node, f.Severity))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", name, want, got)
	}
}
