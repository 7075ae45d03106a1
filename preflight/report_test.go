package preflight

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/pve/pvetest"
	"github.com/quorate/quorate/remote"
)

var epoch = time.Date(2026, 8, 11, 15, 45, 19, 0, time.UTC)

// fakeTargets gives each node a pvetest runner that answers the facts script, the probe agent
// and the clock samples from nodes; unreachable nodes get no runner.
func fakeTargets(t *testing.T, yaml string, nodes []fakeNode) ([]Target, []*pvetest.Runner) {
	t.Helper()
	inv := parseInv(t, yaml)
	var targets []Target
	var runners []*pvetest.Runner
	for i, n := range inv.Nodes {
		fn := nodes[i]
		if fn.dialErr != nil {
			targets = append(targets, Target{Node: n, DialErr: fn.dialErr})
			runners = append(runners, nil)
			continue
		}
		r := pvetest.NewRunner(t, n.Name)
		r.OnRegexp(`^(cd / && )?sh -s$`).Reply(pvetest.Output{Stdout: fn.facts}).Required()
		r.OnPrefix(agentCommand).Reply(pvetest.Output{Stdout: fn.agent}).WantStdin(probeScript).Required()
		again := fn.again
		if again == "" {
			again = fn.agent
		}
		r.OnPrefix(agentCommand).Reply(pvetest.Output{Stdout: again}).WantStdin(probeScript).AnyTimes()
		remote := epoch.Add(time.Duration(fn.offsetMS * float64(time.Millisecond)))
		r.On(clockCommand).Reply(pvetest.Output{Stdout: fmt.Sprintf("%d.%09d\n", remote.Unix(), remote.Nanosecond())}).Times(4).Required()
		targets = append(targets, Target{Node: n, Runner: r, HostKey: fn.hostKey})
		runners = append(runners, r)
	}
	return targets, runners
}

// reportScenario: corosync UDP dropped on pve2 (with the nft rule that does it), guests on
// pve3 (an ignored check), pve3's clock 5 s ahead, a warning on the cluster.
func reportScenario(t *testing.T) (string, []fakeNode) {
	ns := labNodes(t, 4)
	m := mesh{n: 4, blocked: map[[2]int]bool{{0, 1}: true, {1, 0}: true, {2, 1}: true, {1, 2}: true, {3, 1}: true, {1, 3}: true}}
	for i := range ns {
		ns[i].agent = m.out(i)
	}
	ns[1].facts = labFacts(t, 2, inSection("firewall", "rule=nft inet/filter input input udp dport 5405-5412 drop\n"))
	ns[2].facts = labFacts(t, 3, inSection("pve", "vm=100\nct=101\n"))
	ns[2].offsetMS = 5003.25
	return labYAML(4, ""), ns
}

func TestReportGolden(t *testing.T) {
	yaml, ns := reportScenario(t)
	targets, _ := fakeTargets(t, yaml, ns)
	r, err := Run(t.Context(), parseInv(t, yaml), targets, Options{Ignore: []string{"guests"}, Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasErrors() || len(r.Facts) != 4 {
		t.Errorf("has errors %v, facts of %d nodes", r.HasErrors(), len(r.Facts))
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", text.Bytes())
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", append(js, '\n'))

	// The schema the Report's doc comment promises: its keys, in its order.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "cluster", "nodes", "checks", "ok", "summary", "duration_ms", "findings", "paths", "clocks"} {
		if _, ok := top[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	if string(top["schema"]) != `"quorate-preflight/v1"` || string(top["ok"]) != "false" {
		t.Errorf("schema %s ok %s", top["schema"], top["ok"])
	}
}

// An empty report still has every array, so that a consumer need not test for null.
func TestReportJSONEmpty(t *testing.T) {
	js, err := json.Marshal(&Report{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"nodes":[]`, `"checks":[]`, `"findings":[]`, `"paths":[]`, `"clocks":[]`, `"ok":true`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("%s lacks %s", js, k)
		}
	}
}

// Every node gets the facts script, one probe agent and the clock samples, all with deadlines
// (pvetest refuses a call without one); each agent probes the reachable peers only, binds its
// own links and connects to the others' 22 and 8006.
func TestRunCommands(t *testing.T) {
	ns := labNodes(t, 3)
	ns[2] = fakeNode{dialErr: fmt.Errorf("dial: %w", remote.ErrUnreachable)}
	m := mesh{n: 3, skip: map[int]bool{2: true}}
	ns[0].agent, ns[1].agent = m.out(0), m.out(1)
	yaml := labYAML(3, "")
	targets, runners := fakeTargets(t, yaml, ns)
	if _, err := Run(t.Context(), parseInv(t, yaml), targets, Options{}); err != nil {
		t.Fatal(err)
	}
	var agent string
	for _, l := range runners[1].Lines() {
		if strings.HasPrefix(l, agentCommand) {
			agent = l
			break
		}
	}
	for _, want := range []string{"me=1", "bind=0,198.51.100.12", "peer=0,0,198.51.100.11", "tcp=0,198.51.100.11,22", "tcp=0,198.51.100.11,8006", "base=5405", "dur=1500", "alarm=5"} {
		if !strings.Contains(agent, " "+want) {
			t.Errorf("agent line %q lacks %q", agent, want)
		}
	}
	if strings.Contains(agent, "198.51.100.13") {
		t.Errorf("agent line %q probes the unreachable pve3", agent)
	}
	if !regexp.MustCompile(` token=[0-9a-f]{16} `).MatchString(agent) {
		t.Errorf("agent line %q has no token", agent)
	}
	for _, c := range runners[0].Calls() {
		if c.Timeout <= 0 {
			t.Errorf("%q without a timeout", c.Line)
		}
	}
}

// On a busy host an agent can start after its peers gave up on it: a direction without an
// echo is probed once more, with a longer window, before it counts as blocked.
func TestProbeGapIsProbedAgain(t *testing.T) {
	ns := labNodes(t, 3)
	first := mesh{n: 3, blocked: map[[2]int]bool{{2, 1}: true, {1, 2}: true}}
	clean := mesh{n: 3}
	for i := range ns {
		ns[i].agent, ns[i].again = first.out(i), clean.out(i)
	}
	yaml := labYAML(3, "")
	targets, runners := fakeTargets(t, yaml, ns)
	r, err := Run(t.Context(), parseInv(t, yaml), targets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.HasErrors() {
		t.Errorf("a path that answered in the second round is still an error:\n%+v", r.Findings)
	}
	var rounds []string
	for _, l := range runners[0].Lines() {
		if strings.HasPrefix(l, agentCommand) {
			rounds = append(rounds, l)
		}
	}
	if len(rounds) != 2 || !strings.Contains(rounds[0], " dur=1500") || !strings.Contains(rounds[1], " dur=3000") {
		t.Errorf("agent rounds %q: want two, the second with twice the window", rounds)
	}

	// Blocked in both rounds: an error.
	for i := range ns {
		ns[i].agent, ns[i].again = first.out(i), first.out(i)
	}
	targets, _ = fakeTargets(t, yaml, ns)
	if r, err = Run(t.Context(), parseInv(t, yaml), targets, Options{}); err != nil || !r.HasErrors() {
		t.Errorf("blocked in both rounds: errors %v, %v", r != nil && r.HasErrors(), err)
	}
}
