package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/preflight"
)

// These tests drive `quorate preflight` in the lab: a clean lab passes, and each fault,
// injected on one host, is caught by the check made for it, on that host, and by no other
// check. One lab takes the faults one after the other (each is cleared before the next);
// a second lab of five hosts, in parallel, has what needs more than three nodes or a long
// wait: latency as an error, and a host that is down.

// pfReport is the part of the quorate-preflight/v1 JSON the tests read.
type pfReport struct {
	Schema  string   `json:"schema"`
	Cluster string   `json:"cluster"`
	Nodes   []string `json:"nodes"`
	Checks  []string `json:"checks"`
	OK      bool     `json:"ok"`
	Summary struct {
		Errors   int `json:"errors"`
		Warnings int `json:"warnings"`
		Passes   int `json:"passes"`
	} `json:"summary"`
	Findings []pfFinding `json:"findings"`
	Paths    []struct {
		Check  string `json:"check"`
		From   string `json:"from"`
		To     string `json:"to"`
		Result string `json:"result"`
	} `json:"paths"`
	Clocks []struct {
		Node string `json:"node"`
	} `json:"clocks"`
}

type pfFinding struct {
	Check    string `json:"check"`
	Node     string `json:"node"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
	Ignored  bool   `json:"ignored"`
}

// key is "check node severity", the node "cluster" for a finding about the whole cluster.
func (f pfFinding) key() string {
	node := f.Node
	if node == "" {
		node = "cluster"
	}
	return f.Check + " " + node + " " + f.Severity
}

// notPassing are the keys of the findings that are warnings or errors, in report order.
func (r pfReport) notPassing() []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity != "pass" {
			out = append(out, f.key())
		}
	}
	return out
}

// preflightJSON runs `quorate preflight --output json` with args and reads its report.
func (q *quorateLab) preflightJSON(t *testing.T, limit time.Duration, args ...string) (run, pfReport) {
	t.Helper()
	r := q.quorate(t, limit, append([]string{"preflight", "--output", "json"}, args...)...)
	var rep pfReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("preflight --output json does not parse: %v\n%s", err, r.stdout)
	}
	if rep.Schema != preflight.SchemaVersion {
		t.Errorf("schema %q, want %q", rep.Schema, preflight.SchemaVersion)
	}
	return r, rep
}

// loadNoise is a latency or clock-offset warning in a test about something else: the lab's
// hosts share this machine's two cores with the other tests' labs, and a busy CPU delays
// probes and clock samples by a few milliseconds. Errors are never noise.
func loadNoise(f pfFinding, want []string) bool {
	if f.Severity != "warning" || (f.Check != "latency" && f.Check != "clock-offset") {
		return false
	}
	for _, w := range want {
		if strings.HasPrefix(w, f.Check+" ") {
			return false
		}
	}
	return true
}

// wantFindings checks that the warnings and errors of rep are exactly want (keys as
// pfFinding.key gives them), apart from those in allowed, which may be there or not; that each
// carries a fix; and that the exit code and "ok" follow from them: 3 and false with an error.
func wantFindings(t *testing.T, r run, rep pfReport, want, allowed []string) {
	t.Helper()
	got := rep.notPassing()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no finding %q; the warnings and errors: %q", w, got)
		}
	}
	errs := 0
	for _, f := range rep.Findings {
		if f.Severity == "pass" {
			continue
		}
		if !slices.Contains(want, f.key()) && !slices.Contains(allowed, f.key()) && !loadNoise(f, want) {
			t.Errorf("unexpected finding %q: %s", f.key(), f.Message)
		}
		if strings.TrimSpace(f.Fix) == "" {
			t.Errorf("finding %q has no fix: %s", f.key(), f.Message)
		}
		if f.Severity == "error" {
			errs++
		}
	}
	code := 0
	if errs > 0 {
		code = 3
	}
	if r.code != code || rep.OK != (errs == 0) || rep.Summary.Errors != errs {
		t.Errorf("exit %d, ok %v, summary %+v; want exit %d, ok %v with %d error(s)", r.code, rep.OK, rep.Summary, code, errs == 0, errs)
	}
}

// nodeChecks are the checks that run once per reachable node; the others run once for the
// cluster and blame nodes. The test names them itself: they are the README's contract.
var nodeChecks = []string{"ssh-access", "pve-installed", "hostname-resolves", "node-name", "link-addresses",
	"cluster-membership", "guests", "time-sync", "link-interface", "dhcp-address", "firewall"}

// meshChecks are the cluster checks that give every reachable node a finding of its own.
var meshChecks = []string{"unique-identity", "versions", "corosync-udp", "api-port", "latency", "mtu", "clock-offset"}

// wantChecked checks that every one of nodes has a finding of every node and mesh check but
// those of except.
func wantChecked(t *testing.T, rep pfReport, except []string, nodes ...string) {
	t.Helper()
	for _, n := range nodes {
		for _, c := range slices.Concat(nodeChecks, meshChecks) {
			if slices.Contains(except, c) {
				continue
			}
			if !slices.ContainsFunc(rep.Findings, func(f pfFinding) bool { return f.Check == c && f.Node == n }) {
				t.Errorf("%s: no %s finding: was it checked?", n, c)
			}
		}
	}
}

// faultCase is one fault on one host and what preflight must say of it.
type faultCase struct {
	name  string
	host  string
	fault []string // lab fault kind and arguments
	want  []string // the warnings and errors, exactly
	allow []string // findings that may come with them
	// unmeasured are checks that have nothing to measure on host under the fault (no
	// latency without a UDP path): the report leaves them out there ("-" in the table).
	unmeasured []string
}

// TestPreflightFindsEachFault: a clean 3-host lab passes; then each fault on one host gives
// exactly its finding, on that host; --ignore-check turns an error into a visible warning.
func TestPreflightFindsEachFault(t *testing.T) {
	needLab(t)
	t.Parallel()
	q := newQuorateLab(t, 3)
	hosts := hostNames(3)

	var clean []string // every finding's key on the clean lab
	passed := t.Run("a clean lab passes", func(t *testing.T) {
		r, rep := q.preflightJSON(t, time.Minute)
		wantFindings(t, r, rep, nil, nil)
		if !slices.Equal(rep.Checks, preflight.Checks()) || !slices.Equal(rep.Nodes, hosts) || rep.Cluster != q.name {
			t.Errorf("report of cluster %q, nodes %v, checks %v; want %q, %v, %v", rep.Cluster, rep.Nodes, rep.Checks, q.name, hosts, preflight.Checks())
		}
		wantChecked(t, rep, nil, hosts...)
		for _, c := range []string{"node-count", "ip-family"} {
			if !slices.ContainsFunc(rep.Findings, func(f pfFinding) bool { return f.key() == c+" cluster pass" }) {
				t.Errorf("no passing %s finding for the cluster", c)
			}
		}
		// Every ordered pair of nodes: 6 UDP paths on one link, 12 TCP connects (22 and
		// 8006); a clock for every node.
		count := map[string]int{}
		for _, p := range rep.Paths {
			if p.Result != "ok" {
				t.Errorf("path %s %s -> %s: %s", p.Check, p.From, p.To, p.Result)
			}
			count[p.Check]++
		}
		if count["corosync-udp"] != 6 || count["api-port"] != 12 || len(rep.Clocks) != 3 {
			t.Errorf("paths %v and %d clocks, want 6 corosync-udp, 12 api-port and 3", count, len(rep.Clocks))
		}
		for _, f := range rep.Findings {
			clean = append(clean, f.key())
		}

		text := q.quorate(t, time.Minute, "preflight")
		text.wantCode(t, 0)
		text.wantOut(t, "stdout", "CHECK               pve1   pve2   pve3\n", "corosync-udp        pass   pass   pass\n", "0 errors, 0 warnings (")
	})
	if !passed {
		t.FailNow() // the faults are judged against a clean lab
	}

	cases := []faultCase{
		{name: "corosync UDP dropped", host: "pve2", fault: []string{"udp-drop"},
			want: []string{"corosync-udp pve2 error"}, allow: []string{"firewall pve2 warning"}, unmeasured: []string{"latency"}},
		{name: "8006 dropped", host: "pve3", fault: []string{"port-drop", "8006"},
			want: []string{"api-port pve3 error"}, allow: []string{"firewall pve3 warning"}},
		{name: "hostname on 127.0.1.1", host: "pve2", fault: []string{"hosts-loopback"},
			want: []string{"hostname-resolves pve2 error"}},
		{name: "guests on a joiner", host: "pve3", fault: []string{"guests"},
			want: []string{"guests pve3 error"}},
		{name: "member of another cluster", host: "pve2", fault: []string{"foreign-cluster"},
			want: []string{"cluster-membership pve2 error"}},
		{name: "half-joined leftovers", host: "pve3", fault: []string{"half-joined"},
			want: []string{"cluster-membership pve3 error"}},
		{name: "clock 5 s ahead", host: "pve1", fault: []string{"skew", "5"},
			want: []string{"clock-offset pve1 error"}},
		// 2 x 15 ms of round trip: a warning with three nodes (an error with more, below).
		{name: "15 ms of delay", host: "pve3", fault: []string{"delay", "15"},
			want: []string{"latency pve3 warning"}},
		{name: "another PVE major version", host: "pve3", fault: []string{"pveversion", "8.4.1"},
			want: []string{"versions pve3 error"}},
		{name: "a Wi-Fi link", host: "pve2", fault: []string{"wifi"},
			want: []string{"link-interface pve2 warning"}},
		{name: "half duplex", host: "pve3", fault: []string{"half-duplex"},
			want: []string{"link-interface pve3 warning"}},
		{name: "MTU 1400 on one node", host: "pve2", fault: []string{"mtu", "1400"},
			want: []string{"mtu pve2 warning"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q.withFault(t, c.host, c.fault, func() {
				r, rep := q.preflightJSON(t, time.Minute)
				wantFindings(t, r, rep, c.want, c.allow)
				wantChecked(t, rep, c.unmeasured, hosts...)
				for _, f := range rep.Findings {
					if f.Node == c.host && slices.Contains(c.unmeasured, f.Check) {
						t.Errorf("a %s finding on %s, which has nothing to measure: %s", f.Check, c.host, f.Message)
					}
				}
			})
		})
	}

	t.Run("a noisy .bashrc changes nothing", func(t *testing.T) {
		q.withFault(t, "pve3", []string{"noisy-bashrc"}, func() {
			// The fault is on: a command over ssh prints the greeting before its own output.
			if r, err := q.SSH(call(t, 30*time.Second), "pve3", "true"); err != nil || !strings.Contains(r.Stdout, "Welcome to pve3") {
				t.Fatalf("ssh pve3 true under noisy-bashrc printed %q (%v), want the greeting", r.Stdout, err)
			}
			r, rep := q.preflightJSON(t, time.Minute)
			wantFindings(t, r, rep, nil, nil)
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.key())
			}
			if !slices.Equal(got, clean) {
				t.Errorf("findings with a noisy .bashrc differ from the clean lab's:\n got %q\nwant %q", got, clean)
			}
		})
	})

	t.Run("two hosts with the same SSH host keys", func(t *testing.T) {
		// pve3 gets pve1's host keys, as a clone of one template would have them; known_hosts
		// is told (Trust), so that quorate logs in and the sharing is what it finds.
		keys := "ssh_host_ed25519_key ssh_host_ed25519_key.pub ssh_host_rsa_key ssh_host_rsa_key.pub"
		own := q.console(t, "pve3", "sh", "-c", "tar -C /etc/ssh -cf - "+keys)
		pve1 := q.console(t, "pve1", "sh", "-c", "tar -C /etc/ssh -cf - "+keys)
		if own.Code != 0 || pve1.Code != 0 {
			t.Fatalf("tar of the host keys: %s %s", own.Stderr, pve1.Stderr)
		}
		q.setHostKeys(t, "pve3", pve1.Stdout)
		defer q.setHostKeys(t, "pve3", own.Stdout)
		r, rep := q.preflightJSON(t, time.Minute)
		wantFindings(t, r, rep, []string{"unique-identity pve1 warning", "unique-identity pve3 warning"}, nil)
		for _, f := range rep.Findings {
			if f.Check == "unique-identity" && f.Severity != "pass" && !strings.Contains(f.Message, "SSH host key") {
				t.Errorf("%s: %s; want it to name the SSH host keys", f.key(), f.Message)
			}
		}
	})

	t.Run("--ignore-check corosync-udp", func(t *testing.T) {
		q.withFault(t, "pve2", []string{"udp-drop"}, func() {
			r, rep := q.preflightJSON(t, time.Minute, "--ignore-check", "corosync-udp")
			wantFindings(t, r, rep, []string{"corosync-udp pve2 warning"}, []string{"firewall pve2 warning"})
			for _, f := range rep.Findings {
				if f.key() == "corosync-udp pve2 warning" && !f.Ignored {
					t.Errorf("the ignored error is not marked ignored: %+v", f)
				}
			}
			text := q.quorate(t, time.Minute, "preflight", "--ignore-check", "corosync-udp")
			text.wantCode(t, 0)
			text.wantOut(t, "stdout", "warning pve2 corosync-udp: link0: UDP to pve2",
				"(an error, shown as a warning: --ignore-check corosync-udp)", "0 errors, ")
		})
	})

	t.Run("an unknown --ignore-check is a usage error", func(t *testing.T) {
		r := q.quorate(t, time.Minute, "preflight", "--ignore-check", "corosync-udp", "--ignore-check", "no-such-check")
		r.wantCode(t, 2)
		r.wantOut(t, "stderr", `"no-such-check"`, "corosync-udp")
		if r.stdout != "" {
			t.Errorf("stdout %q, want nothing: no host is checked", r.stdout)
		}
	})
}

// TestPreflightFiveHosts: on five hosts, 15 ms of delay on one is a latency error on that
// host alone; a host that is down is one finding, and the four others are fully checked.
func TestPreflightFiveHosts(t *testing.T) {
	needLab(t)
	t.Parallel()
	q := newQuorateLab(t, 5)
	hosts := hostNames(5)

	t.Run("a clean lab passes", func(t *testing.T) {
		r, rep := q.preflightJSON(t, time.Minute)
		wantFindings(t, r, rep, nil, nil)
		wantChecked(t, rep, nil, hosts...)
	})

	t.Run("15 ms of delay is an error with five nodes", func(t *testing.T) {
		q.withFault(t, "pve4", []string{"delay", "15"}, func() {
			r, rep := q.preflightJSON(t, time.Minute)
			wantFindings(t, r, rep, []string{"latency pve4 error"}, nil)
		})
	})

	t.Run("a host that is down", func(t *testing.T) {
		if err := q.Fault(call(t, time.Minute), "pve5", "crash"); err != nil {
			t.Fatal(err)
		}
		// The dial's own timeouts (two attempts) bound the run.
		r, rep := q.preflightJSON(t, 90*time.Second)
		wantFindings(t, r, rep, []string{"ssh-access pve5 error"}, nil)
		wantChecked(t, rep, nil, hosts[:4]...)
		for _, f := range rep.Findings {
			if f.Node == "pve5" && f.Check != "ssh-access" {
				t.Errorf("a finding of %s on the host that is down: %s", f.key(), f.Message)
			}
		}
		for _, p := range rep.Paths {
			if p.From == "pve5" || p.To == "pve5" {
				t.Errorf("a probed path %s -> %s (%s) to the host that is down", p.From, p.To, p.Result)
			}
		}
		if f := rep.Findings[slices.IndexFunc(rep.Findings, func(f pfFinding) bool { return f.key() == "ssh-access pve5 error" })]; !strings.Contains(f.Message, "198.51.100.15") {
			t.Errorf("the finding does not give the address it could not reach: %s", f.Message)
		}
	})
}

// withFault injects a lab fault on host, runs body, and clears the host's faults.
func (q *quorateLab) withFault(t *testing.T, host string, fault []string, body func()) {
	t.Helper()
	if err := q.Fault(call(t, time.Minute), host, fault[0], fault[1:]...); err != nil {
		t.Fatalf("fault %s %s: %v", host, strings.Join(fault, " "), err)
	}
	defer func() {
		if err := q.Clear(call(t, time.Minute), host); err != nil {
			t.Fatalf("clear %s: %v", host, err)
		}
	}()
	body()
}

// setHostKeys unpacks a tar of host keys into host's /etc/ssh, has sshd serve them (SIGHUP:
// sshd re-executes itself and reads them), trusts them in known_hosts, and waits until a
// login from the controller checks them.
func (q *quorateLab) setHostKeys(t *testing.T, host, tarball string) {
	t.Helper()
	ctx := call(t, time.Minute)
	if r, err := q.Exec(ctx, host, strings.NewReader(tarball), "sh", "-c",
		`tar -C /etc/ssh -xf - && kill -HUP "$(cat /run/sshd.pid)"`); err != nil || r.Code != 0 {
		t.Fatalf("%s: new host keys: %v %s", host, err, r.Stderr)
	}
	if err := q.Trust(ctx, host); err != nil {
		t.Fatal(err)
	}
	eventually(t, host+" serves its new host keys", 10*time.Second, func(ctx context.Context) (bool, string) {
		r, err := q.SSH(ctx, host, "true")
		return err == nil && r.Code == 0, fmt.Sprintf("ssh: %v %s", err, r.Stderr)
	})
}
