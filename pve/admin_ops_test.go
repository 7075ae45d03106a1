package pve

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/pve/pvetest"
)

func ctxMinute(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestParseStaleNode(t *testing.T) {
	for _, tc := range []struct {
		golden string
		want   StaleNode
		err    string
	}{
		{"stalenode-found.txt", StaleNode{Dir: true, AuthorizedKeys: 1, KnownHosts: 1}, ""},
		{"stalenode-clean.txt", StaleNode{}, ""},
		{"stalenode-error.txt", StaleNode{Dir: true, AuthorizedKeys: 1}, "could not remove: dir, authorized-keys"},
	} {
		got, err := ParseStaleNode(pvetest.Golden(t, tc.golden).Stdout)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%s: %+v, %v; want %+v, %q", tc.golden, got, err, tc.want, tc.err)
		}
	}
	if !(StaleNode{}).Clean() || (StaleNode{KnownHosts: 1}).Clean() {
		t.Error("Clean")
	}
	for _, bad := range []string{"", "dir yes\n", "dir maybe\nauthorized-keys 0\nknown-hosts 0\n", "dir no\nauthorized-keys -1\nknown-hosts 0\n", "dir no\nauthorized-keys 0\nknown-hosts 0\nsurprise 1\n"} {
		if _, err := ParseStaleNode(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestStaleNodeCommand(t *testing.T) {
	cmd, err := StaleNodeCommand(StaleNodeOpts{Name: "pve2", Addrs: []string{"198.51.100.12"}, Keep: []string{"AAAAB3NzaC1yc2E="}, Remove: true})
	if err != nil {
		t.Fatal(err)
	}
	script := string(cmd.Stdin)
	if cmd.Line != "cd / && sh -s" || !strings.Contains(script, "name=pve2 addrs=' 198.51.100.12 ' keep=' AAAAB3NzaC1yc2E= ' remove=1\n") {
		t.Errorf("command %q, script starts %q", cmd.Line, script[:120])
	}
	for _, o := range []StaleNodeOpts{
		{Name: "pve2; rm -rf /"},
		{Name: "pve2", Addrs: []string{"pve2"}},
		{Name: "pve2", Keep: []string{"AAAA' x"}},
	} {
		if _, err := StaleNodeCommand(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestNodeStaleNode(t *testing.T) {
	r := newRunner(t)
	r.On("cd / && sh -s").ReplyGolden("stalenode-found.txt")
	r.On("cd / && sh -s").Reply(pvetest.Output{Stderr: "sh: 1: awk: not found\n", ExitCode: 127})
	n := NewNode(r)
	got, err := n.StaleNode(ctxMinute(t), StaleNodeOpts{Name: "pve2"})
	if err != nil || got != (StaleNode{Dir: true, AuthorizedKeys: 1, KnownHosts: 1}) {
		t.Errorf("StaleNode: %+v %v", got, err)
	}
	if _, err := n.StaleNode(ctxMinute(t), StaleNodeOpts{Name: "pve2"}); err == nil {
		t.Error("a failing script gave no error")
	}
}

func TestArchive(t *testing.T) {
	r := newRunner(t)
	want := "cd / && set -- && for p in etc/pve/nodes/pve2 etc/pve/corosync.conf; do [ -e \"$p\" ] && set -- \"$@\" \"$p\"; done; " +
		"[ $# -gt 0 ] || exit 3; exec tar czf - --ignore-failed-read -- \"$@\""
	r.On(want).Reply(pvetest.Output{Stdout: "\x1f\x8bdata"})
	r.On(want).Reply(pvetest.Output{ExitCode: 3})
	r.On(want).Reply(pvetest.Output{Stderr: "tar: broken\n", ExitCode: 2})
	n := NewNode(r)
	paths := []string{"/etc/pve/nodes/pve2", "/etc/pve/corosync.conf"}
	if data, err := n.Archive(ctxMinute(t), paths); err != nil || string(data) != "\x1f\x8bdata" {
		t.Errorf("Archive: %q %v", data, err)
	}
	if data, err := n.Archive(ctxMinute(t), paths); err != nil || data != nil {
		t.Errorf("none exists: %q %v", data, err)
	}
	if _, err := n.Archive(ctxMinute(t), paths); err == nil {
		t.Error("tar failing gave no error")
	}
	for _, bad := range []string{"etc/pve", "/etc/../root", "/"} {
		if _, err := n.Archive(ctxMinute(t), []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSSHToMember(t *testing.T) {
	r := newRunner(t)
	line := "cd / && /usr/bin/ssh -e none -o BatchMode=yes -o ConnectTimeout=10 -o HostKeyAlias=pve2 " +
		"-o UserKnownHostsFile=/etc/pve/nodes/pve2/ssh_known_hosts -o GlobalKnownHostsFile=none root@198.51.100.12 -- /bin/true"
	r.On(line)
	r.On(line).Reply(pvetest.Output{Stderr: "@@@@@\nHost key verification failed.\n", ExitCode: 255})
	n := NewNode(r)
	if err := n.SSHToMember(ctxMinute(t), "pve2", "198.51.100.12"); err != nil {
		t.Errorf("SSHToMember: %v", err)
	}
	if err := n.SSHToMember(ctxMinute(t), "pve2", "198.51.100.12"); err == nil || !strings.Contains(err.Error(), "Host key verification failed.") {
		t.Errorf("stale key: %v", err)
	}
	if _, err := SSHToMemberCommand("pve2", "pve2.example"); err == nil {
		t.Error("a name as address accepted")
	}
}

func TestQDevicePreparation(t *testing.T) {
	r := newRunner(t)
	r.On(`cd / && for c in corosync-qnetd corosync-qnetd-certutil; do command -v "$c" >/dev/null 2>&1 || echo "$c"; done`).Reply(pvetest.Output{Stdout: "corosync-qnetd-certutil\n"})
	r.On("cd / && DEBIAN_FRONTEND=noninteractive apt-get install -y -q corosync-qnetd")
	r.On("cd / && { systemctl is-active --quiet corosync-qnetd || systemctl enable --now corosync-qnetd; }")
	tcp := `cd / && timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' 198.51.100.50 5403`
	r.On(tcp)
	r.On(tcp).Reply(pvetest.Output{ExitCode: 124})
	n := NewNode(r)
	ctx := ctxMinute(t)
	if missing, err := n.MissingCommands(ctx, "corosync-qnetd", "corosync-qnetd-certutil"); err != nil || len(missing) != 1 || missing[0] != "corosync-qnetd-certutil" {
		t.Errorf("MissingCommands: %v %v", missing, err)
	}
	if err := n.InstallPackages(ctx, QNetdPackage); err != nil {
		t.Error(err)
	}
	if err := n.StartService(ctx, "corosync-qnetd"); err != nil {
		t.Error(err)
	}
	if err := n.TCPReachable(ctx, "198.51.100.50", QNetdPort); err != nil {
		t.Error(err)
	}
	if err := n.TCPReachable(ctx, "198.51.100.50", QNetdPort); err == nil || !strings.Contains(err.Error(), "no answer within 5s") {
		t.Errorf("timeout: %v", err)
	}
	if _, err := n.MissingCommands(ctx, "x; reboot"); err == nil {
		t.Error("a bad command name accepted")
	}
	if KeyBlob("ssh-rsa AAAAB3NzaC1yc2E= root@pve1") != "AAAAB3NzaC1yc2E=" || KeyBlob("nothing") != "" {
		t.Error("KeyBlob")
	}
}

func TestSetExpected(t *testing.T) {
	r := newRunner(t)
	r.On("cd / && pvecm expected 1")
	r.On("cd / && pvecm expected 1").Reply(pvetest.Output{Stderr: "Unable to set expected votes: CS_ERR_INVALID_PARAM\n", ExitCode: 1})
	n := NewNode(r)
	if err := n.SetExpected(ctxMinute(t), 1); err != nil {
		t.Error(err)
	}
	var f *Failure
	if err := n.SetExpected(ctxMinute(t), 1); !errors.As(err, &f) || f.Kind != FailBadParameter {
		t.Errorf("refused: %v", err)
	}
	if err := n.SetExpected(ctxMinute(t), 0); err == nil {
		t.Error("0 accepted")
	}
}

func TestSeparate(t *testing.T) {
	r := newRunner(t)
	r.On("cd / && sh -s").Reply(pvetest.Output{Stdout: "separated\n"})
	r.On("cd / && sh -s").Reply(pvetest.Output{Stdout: "still clustered\n", ExitCode: 1})
	n := NewNode(r)
	if err := n.Separate(ctxMinute(t)); err != nil {
		t.Error(err)
	}
	if err := n.Separate(ctxMinute(t)); err == nil {
		t.Error("still clustered accepted")
	}
	if !strings.Contains(r.Calls()[0].Line, "sh -s") || !strings.Contains(string(r.Calls()[0].Stdin), "pmxcfs -l") {
		t.Error("not the docs' recipe")
	}
}

func TestRootKeyAndKnownHosts(t *testing.T) {
	r := newRunner(t)
	r.On("cd / && cat /root/.ssh/id_rsa.pub 2>/dev/null || true").Reply(pvetest.Output{Stdout: "ssh-rsa AAAAB3NzaC1yc2E= root@pve2\n"})
	r.On("cd / && cat /root/.ssh/id_rsa.pub 2>/dev/null || true")
	known := "cd / && [ -f /root/.ssh/known_hosts ] && ssh-keygen -F 198.51.100.50 -f /root/.ssh/known_hosts >/dev/null && echo known || echo unknown"
	r.On(known).Reply(pvetest.Output{Stdout: "known\n"})
	r.On(known).Reply(pvetest.Output{Stdout: "unknown\n"})
	r.On(`cd / && f=/root/.ssh/known_hosts && [ -f "$f" ] || exit 0; ssh-keygen -R 198.51.100.50 -f "$f" >/dev/null 2>&1; rm -f "$f.old"`)
	n := NewNode(r)
	ctx := ctxMinute(t)
	if key, err := n.ExistingRootKey(ctx); err != nil || key != "ssh-rsa AAAAB3NzaC1yc2E= root@pve2" {
		t.Errorf("ExistingRootKey: %q %v", key, err)
	}
	if key, err := n.ExistingRootKey(ctx); err != nil || key != "" {
		t.Errorf("no key: %q %v", key, err)
	}
	if ok, err := n.KnowsHost(ctx, "198.51.100.50"); !ok || err != nil {
		t.Errorf("KnowsHost: %v %v", ok, err)
	}
	if ok, err := n.KnowsHost(ctx, "198.51.100.50"); ok || err != nil {
		t.Errorf("KnowsHost, unknown: %v %v", ok, err)
	}
	if err := n.ForgetHost(ctx, "198.51.100.50"); err != nil {
		t.Error(err)
	}
	if _, err := n.KnowsHost(ctx, "x; reboot"); err == nil {
		t.Error("a bad host accepted")
	}
}

func TestRebuildMark(t *testing.T) {
	if id, err := ParseRebuildMark(pvetest.Golden(t, "rebuildmark.txt").Stdout); err != nil || id != 2 {
		t.Errorf("golden: %d %v", id, err)
	}
	for _, bad := range []string{"", "nodeid", "nodeid 0\n", "nodeid x", "nodeid 2\nnodeid 3\n", "id 2"} {
		if _, err := ParseRebuildMark(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	r := newRunner(t)
	r.On("cd / && printf 'nodeid %d\\n' 2 > /etc/pve/.quorate-rebuild-pve2")
	r.On("cd / && cat /etc/pve/.quorate-rebuild-pve2 2>/dev/null || echo none").Reply(pvetest.Output{Stdout: "nodeid 2\n"})
	r.On("cd / && cat /etc/pve/.quorate-rebuild-pve2 2>/dev/null || echo none").Reply(pvetest.Output{Stdout: "none\n"})
	r.On("cd / && rm -f /etc/pve/.quorate-rebuild-pve2")
	n := NewNode(r)
	ctx := ctxMinute(t)
	if err := n.WriteRebuildMark(ctx, "pve2", 2); err != nil {
		t.Error(err)
	}
	if id, ok, err := n.ReadRebuildMark(ctx, "pve2"); id != 2 || !ok || err != nil {
		t.Errorf("read: %d %v %v", id, ok, err)
	}
	if _, ok, err := n.ReadRebuildMark(ctx, "pve2"); ok || err != nil {
		t.Errorf("no mark: %v %v", ok, err)
	}
	if err := n.RemoveRebuildMark(ctx, "pve2"); err != nil {
		t.Error(err)
	}
	if err := n.WriteRebuildMark(ctx, "pve2; x", 2); err == nil {
		t.Error("a bad name accepted")
	}
}
