package bootstrap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/pve/pvetest"
	"github.com/quorate/quorate/remote"
)

// The command lines the change steps send (pve/stalenode.go, qdeviceprep.go, memberssh.go,
// sshtrust.go) that the fakes below answer.
const (
	existingRootKey = "cd / && cat /root/.ssh/id_rsa.pub 2>/dev/null || true"
	staleScript     = "cd / && sh -s"
	memberSSH       = "cd / && /usr/bin/ssh -e none -o BatchMode=yes"
)

func rootKeyOf(node string) pvetest.Output {
	return pvetest.Output{Stdout: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB" + strings.ToUpper(node) + "= root@" + node + "\n"}
}

type changeBackups struct{ got []string }

func (b *changeBackups) backup(_ context.Context, step bootstrap.ChangeStep) (string, error) {
	b.got = append(b.got, step.RunsOn()+" "+string(step.Kind))
	return "/run/" + step.RunsOn() + "-before-" + string(step.Kind), nil
}

// TestChangeRunRebuild: pve2 of pve1 pve2 pve3 reinstalled: delnode and clean-up on pve1,
// the join with the old node id, updatecerts, each verified before the next, the clean-up
// keeping the members' keys, SSH by name checked both ways after updatecerts.
func TestChangeRunRebuild(t *testing.T) {
	names := []string{"pve1", "pve2", "pve3"}
	inv := clusterFile("demo", names...)
	c := changeView{nodes: names, offline: []string{"pve2"}}
	plan := bootstrap.PlanRebuild(inv, c.view(), c.observed(inv, map[string]bootstrap.NodeState{"pve2": bootstrap.StateReinstalled}), "pve2", bootstrap.ChangeOpts{})
	if len(plan.Blockers) > 0 || len(plan.Steps) != 4 {
		t.Fatalf("plan: %+v", plan)
	}
	cl := newCluster(t, names...)
	p1, p2 := cl.runners["pve1"], cl.runners["pve2"]
	for _, n := range names {
		writable(cl.runners[n], -1)
		cl.runners[n].On(existingRootKey).Reply(rootKeyOf(n)).AnyTimes()
		cl.runners[n].OnPrefix(memberSSH).AnyTimes()
	}
	p1.On("cd / && printf 'nodeid %d\\n' 2 > /etc/pve/.quorate-rebuild-pve2").Required()
	p1.On("cd / && pvecm delnode pve2").ReplyGolden("delnode-ok.txt").Required()
	p1.On("cd / && rm -f /etc/pve/.quorate-rebuild-pve2").Required()
	p1.On(staleScript).ReplyGolden("stalenode-found.txt").Required()
	p1.On(staleScript).ReplyGolden("stalenode-clean.txt").Required()
	p1.On(certInfo).ReplyGolden("pvenode-cert-info.json").Required()
	p2.On(joinLine(t, "pve2", "pve1") + " --nodeid 2").WantStdin("root-pw\n").Reply(joined(t, "pve2")).Required()
	p2.On("cd / && pvecm updatecerts").ReplyGolden("updatecerts-force.txt").Required()
	for _, n := range []string{"pve1", "pve3"} {
		answer(cl.runners[n], healthy(n, "pve1", "pve3"), 2)
	}
	for _, n := range names {
		answer(cl.runners[n], healthy(n, names...), 2)
	}
	apiAnswers(p1, "pve2", 2).Required()
	b := &changeBackups{}
	login := &relogins{}
	e := &bootstrap.ChangeEngine{Engine: engine(cl, &bootstrap.Engine{Inventory: inv, Relogin: login.login}), Backup: b.backup}
	done, err := e.Run(context.Background(), plan)
	if err != nil {
		t.Fatalf("Run: %v\ncommands:\n%s", err, cl.log)
	}
	if len(done) != 4 || done[1].Found != "removed from /etc/pve: its node directory, 1 root key line(s) in /etc/pve/priv/authorized_keys, 1 host key line(s) in /etc/pve/priv/known_hosts" {
		t.Errorf("results %+v", done)
	}
	if want := []string{"pve1 delnode", "pve1 cleanup", "pve2 join", "pve2 updatecerts"}; !slices.Equal(b.got, want) {
		t.Errorf("backups %q, want %q", b.got, want)
	}
	// The clean-up is told to keep the members' keys, not pve2's.
	script := string(p1.Calls()[slices.IndexFunc(p1.Calls(), func(c remote.Command) bool { return c.Line == staleScript })].Stdin)
	if !strings.Contains(script, "name=pve2 ") || !strings.Contains(script, "PVE1=") || !strings.Contains(script, "PVE3=") || strings.Contains(script, "PVE2=") ||
		!strings.Contains(script, "remove=1") || !strings.Contains(script, "addrs=' 198.51.100.12 '") {
		t.Errorf("clean-up script does not name pve2 with the members' keys to keep:\n%s", script[:200])
	}
	order := []string{"pve1: cd / && printf 'nodeid", "pve1: cd / && pvecm delnode pve2", "pve1: " + staleScript, "pve2: cd / && pvecm add", "pve1: cd / && rm -f /etc/pve/.quorate-rebuild-pve2", "pve2: cd / && pvecm updatecerts", "pve1: " + memberSSH}
	at := 0
	for _, o := range order {
		i := cl.log.index(at, o)
		if i < 0 {
			t.Fatalf("%q not after entry %d:\n%s", o, at, cl.log)
		}
		at = i
	}
	for _, pair := range [][2]string{{"pve1", "pve2"}, {"pve2", "pve1"}, {"pve3", "pve2"}, {"pve2", "pve3"}} {
		want := memberSSH + " -o ConnectTimeout=10 -o HostKeyAlias=" + pair[1]
		if !slices.ContainsFunc(cl.runners[pair[0]].Lines(), func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("%s never checked SSH to %s by name", pair[0], pair[1])
		}
	}
}

// TestChangeRunStopsAtAStaleCleanUp: a clean-up that leaves the node's key behind fails its
// verification, the run stops there with the evidence, and nothing after it runs.
func TestChangeRunStopsAtAStaleCleanUp(t *testing.T) {
	names := []string{"pve1", "pve2", "pve3"}
	inv := clusterFile("demo", names...)
	c := changeView{nodes: names, offline: []string{"pve3"}, down: []string{"pve3"}}
	plan := bootstrap.PlanRemove(inv, c.view(), c.observed(inv, map[string]bootstrap.NodeState{"pve3": bootstrap.StateUnknown}), "pve3", bootstrap.ChangeOpts{}, nil)
	cl := newCluster(t, "pve1", "pve2")
	p1 := cl.runners["pve1"]
	for _, n := range []string{"pve1", "pve2"} {
		writable(cl.runners[n], -1)
		cl.runners[n].On(existingRootKey).Reply(rootKeyOf(n)).AnyTimes()
		answer(cl.runners[n], healthy(n, "pve1", "pve2"), -1)
		expectDiagnostics(cl.runners[n])
	}
	p1.On("cd / && pvecm delnode pve3").ReplyGolden("delnode-ok.txt").Required()
	p1.On(staleScript).ReplyGolden("stalenode-found.txt").Required()
	p1.On(staleScript).ReplyGolden("stalenode-found.txt").AnyTimes()
	e := &bootstrap.ChangeEngine{Engine: engine(cl, &bootstrap.Engine{Inventory: inv})}
	e.VerifyTimeout = 50 * time.Millisecond
	done, err := e.Run(context.Background(), plan)
	var se *bootstrap.StepError
	var nq *bootstrap.NotQuorateError
	if !errors.As(err, &se) || se.Step.Kind != bootstrap.StepCleanup || !errors.As(err, &nq) {
		t.Fatalf("Run: %v, want the clean-up's verification to fail", err)
	}
	if !strings.Contains(err.Error(), "/etc/pve still holds its node directory") || len(done) != 1 || len(se.Diagnostics["pve1"]) == 0 {
		t.Errorf("error %v, %d steps done, diagnostics %v", err, len(done), se.Diagnostics)
	}
}

// TestChangeRunQDeviceSetup: the qnetd host prepared, corosync-qdevice and TCP 5403 checked
// on every member, root SSH to the qnetd host for the setup alone (marked lines, removed
// after, and what ssh recorded of the host forgotten), then the vote verified.
func TestChangeRunQDeviceSetup(t *testing.T) {
	names := []string{"pve1", "pve2"}
	inv := clusterFile("demo", names...)
	c := changeView{nodes: names}
	plan := bootstrap.PlanQDeviceSetup(inv, c.view(), c.observed(inv, nil), "198.51.100.50", bootstrap.ChangeOpts{})
	cl := newCluster(t, names...)
	qnetd := pvetest.NewRunner(t, "qnetd")
	qnetd.On(`cd / && for c in corosync-qnetd corosync-qnetd-certutil; do command -v "$c" >/dev/null 2>&1 || echo "$c"; done`).Required()
	qnetd.On("cd / && { systemctl is-active --quiet corosync-qnetd || systemctl enable --now corosync-qnetd; }").Required()
	qnetd.OnPrefix("cd / && mkdir -p -m 700 /root/.ssh && (umask 077 && printf '%s\\n' 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABPVE1= quorate-qdevice-").Required()
	qnetd.OnPrefix("cd / && [ ! -e /root/.ssh/authorized_keys ] || { t=$(mktemp) && { grep -vF -- quorate-qdevice-").Required()
	p1 := cl.runners["pve1"]
	withQDevice := func(local string) pvetest.Output {
		o := pvetest.Golden(t, "pvecm-status-qdevice.txt")
		if local == "pve2" {
			o.Stdout = strings.Replace(strings.Replace(o.Stdout, " (local)", "", 1), "192.168.202.179", "192.168.202.179 (local)", 1)
		}
		return o
	}
	for _, n := range names {
		r := cl.runners[n]
		writable(r, -1)
		r.On(`cd / && for c in corosync-qdevice; do command -v "$c" >/dev/null 2>&1 || echo "$c"; done`).Required()
		r.On(`cd / && timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' 198.51.100.50 5403`).Required()
		r.On(pveshStatus).Reply(healthy(n, names...).pvesh()).AnyTimes()
		r.On(pvecmStatus).Reply(withQDevice(n)).AnyTimes()
		r.On("cd / && pvesh get /cluster/config/qdevice --output-format json").ReplyGolden("pvesh-qdevice.json").Required()
	}
	p1.OnPrefix("cd / && { [ -f /root/.ssh/id_rsa.pub ] ||").Reply(rootKeyOf("pve1")).Required()
	p1.OnPrefix("cd / && [ -f /root/.ssh/known_hosts ] && ssh-keygen -F 198.51.100.50").Reply(pvetest.Output{Stdout: "unknown\n"}).Required()
	p1.OnPrefix("cd / && mkdir -p -m 700 /root/.ssh && (umask 077 && printf '%s\\n' '198.51.100.50 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIQNETD quorate-qdevice-").Required()
	p1.On("cd / && pvecm qdevice setup 198.51.100.50").ReplyGolden("qdevice-setup-ok.txt").Required()
	p1.OnPrefix("cd / && [ ! -e /root/.ssh/known_hosts ] || { t=$(mktemp) && { grep -vF -- quorate-qdevice-").Required()
	p1.On(`cd / && f=/root/.ssh/known_hosts && [ -f "$f" ] || exit 0; ssh-keygen -R 198.51.100.50 -f "$f" >/dev/null 2>&1; rm -f "$f.old"`).Required()
	var progress []string
	e := &bootstrap.ChangeEngine{
		Engine: engine(cl, &bootstrap.Engine{Inventory: inv, Progress: func(f string, a ...any) { progress = append(progress, fmt.Sprintf(f, a...)) }}),
		QNetd:  pve.NewNode(qnetd), QNetdHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIQNETD",
	}
	done, err := e.Run(context.Background(), plan)
	if err != nil || len(done) != 1 {
		t.Fatalf("Run: %v %+v\n%s", err, done, cl.log)
	}
	setup := cl.log.index(0, "pve1: cd / && pvecm qdevice setup")
	trusted := cl.log.index(0, "pve1: cd / && mkdir -p -m 700 /root/.ssh")
	forgot := cl.log.index(0, "pve1: cd / && f=/root/.ssh/known_hosts")
	if !(trusted < setup && setup < forgot) {
		t.Errorf("trust, setup, forget out of order:\n%s", cl.log)
	}
	if !slices.ContainsFunc(progress, func(p string) bool { return strings.Contains(p, "SSH trust for the setup alone") }) {
		t.Errorf("progress: %q", progress)
	}
}
